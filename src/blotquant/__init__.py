"""blotquant: Western blot densitometry from images to tidy ratio tables.

One call runs a whole config and writes the results folder::

    >>> import blotquant
    >>> outcome = blotquant.run("configs/demo.yaml")  # doctest: +SKIP
    >>> outcome.ratios.head()  # doctest: +SKIP

In a notebook, the stages can be taken one at a time::

    >>> experiment = blotquant.load_config("configs/demo.yaml")  # doctest: +SKIP
    >>> m = experiment.measurements[0]  # doctest: +SKIP
    >>> image = blotquant.read_image(m.path, m.channel)  # doctest: +SKIP
    >>> membrane = experiment.membrane(m.membrane)  # doctest: +SKIP
    >>> analysis = blotquant.analyze_image(image, m, membrane)  # doctest: +SKIP
    >>> analysis.lanes, analysis.boxes, analysis.bands  # doctest: +SKIP

Every problem a user can fix is raised as :class:`BlotquantError`, with a
message that names the file and the config key at fault.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from blotquant._version import __version__
from blotquant.errors import BlotquantError

if TYPE_CHECKING:
    from blotquant.api import run
    from blotquant.config import load_config
    from blotquant.io import read_image
    from blotquant.pipeline import analyze_image

__all__ = ["BlotquantError", "__version__", "analyze_image", "load_config", "read_image", "run"]

# imported on first use (PEP 562): `blotquant --help` must not wait for pandas and scipy
_LAZY = {
    "run": "blotquant.api",
    "load_config": "blotquant.config",
    "read_image": "blotquant.io",
    "analyze_image": "blotquant.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import the heavy entry points when they are first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'blotquant' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, the lazily imported ones included."""
    return sorted({*globals(), *__all__})
