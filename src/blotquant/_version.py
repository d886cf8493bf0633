"""The installed version of blotquant, on the ground floor so any module may import it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("blotquant")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
