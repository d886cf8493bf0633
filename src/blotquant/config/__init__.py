"""Read and check the YAML config: a file in, an :class:`~blotquant.models.Experiment` out.

The contract is ``config-and-outputs.md`` in the project's spec (a working
example is ``configs/demo.yaml``). Two entry points:

* :func:`load_config` reads a YAML file (what ``blotquant run`` does);
* :func:`parse_config` takes the same content as Python dicts and lists
  (tests, notebooks).

Every problem in a config is collected and reported at once, in one
:class:`ConfigError` (a :class:`~blotquant.errors.BlotquantError`) whose
message has one line per problem, each naming the file, the line (for YAML
files), the key path (e.g. ``membranes[1].images[0].band_rows``) and what to
do. Checks that need the image itself (``band_rows`` beyond the image's height,
a channel the image does not have, a missing image file) are not done here:
they happen when the image is read, so that the other images still run.

How the config is read:

* Paths are relative to the config file's folder; ``~`` is the home folder.
* Analysis settings are merged in this order: the built-in defaults, the
  config's ``analysis``, the image (or batch), the region.
* A key written with no value (``lane_width:``) counts as not written: the
  default or the inherited value applies.
* ``batches``: ``files`` is a glob; ``pattern`` is matched against the file
  name, or, if it contains ``/``, against the end of the path relative to the
  config folder. Fields are written ``{name}``; ``{membrane}`` and
  ``{antibody}`` are required, other fields are read and ignored, a field
  used twice must match the same text both times, and a field never matches
  a ``/``. Every file the glob finds must match the pattern.

The package is layered; a module imports only those above it in this list:
``_messages`` (problems and their words), ``_schema`` (keys and values),
``_yaml`` (the file) and ``_collect`` (what has been read so far),
``_batches`` and ``_checks``, ``_reader`` (the top level).
"""

from blotquant.config._messages import ConfigError, Problem
from blotquant.config._reader import load_config, parse_config

__all__ = ["ConfigError", "Problem", "load_config", "parse_config"]
