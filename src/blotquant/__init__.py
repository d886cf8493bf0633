"""blotquant: Western blot densitometry from images to tidy ratio tables."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("blotquant")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from blotquant.errors import BlotquantError

__all__ = ["BlotquantError", "__version__"]
