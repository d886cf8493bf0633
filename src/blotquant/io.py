"""Reading blot images: TIFF (single, multi-page, multi-channel), PNG and JPEG.

Every image is read once, from bytes, so its SHA-256 and its pixels come from
the same read. Problems are reported as :class:`BlotquantError` naming the file.
"""

from __future__ import annotations

import hashlib
import io as _io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image, ImageOps, ImageSequence
from skimage import transform

from blotquant.errors import BlotquantError
from blotquant.imagers import ImagerImage, decode_mdgel, is_scn, read_scn
from blotquant.membrane import MembraneBox, find_membrane

#: Refuse images whose pixels would need more memory than this (bytes).
MAX_IMAGE_BYTES = 2 * 1024**3
#: Bytes read from one file at most (a device or a runaway file stops here).
MAX_FILE_BYTES = 2 * 1024**3

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class BlotImage:
    """One channel of an image file, as a 2-D array.

    Attributes
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        uint8, uint16 or float64, never modified by blotquant.
    path : Path
        The file it came from.
    channel : int
        Which page or channel of the file this is.
    n_channels : int
        How many pages or channels the file holds.
    ceiling : float or None
        The largest value the detector recorded as "full": the dtype maximum
        (255, 65535), a lower clipping plateau found in a 16-bit image (a
        12- or 14-bit camera, a corrected export), or None for floating-point
        data whose ceiling is unknown.
    floor : float or None
        The smallest value (0, or a clipping plateau above 0): the saturation
        level of dark bands.
    sha256 : str
        Hash of the file's bytes.
    warnings : tuple of str
        Things the user should know (RGB converted, lossy JPEG, 8-bit depth).
    """

    pixels: np.ndarray
    path: Path
    channel: int
    n_channels: int
    ceiling: float | None
    sha256: str
    floor: float | None = 0.0
    warnings: tuple[str, ...] = ()
    #: What an imager's own file says about the acquisition (exposure, binning, ...).
    acquisition: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def membrane(self) -> MembraneBox:
        """Where the membrane is, inside any frame at the image's edges (found once)."""
        return find_membrane(self.pixels)

    @property
    def bit_depth(self) -> int:
        """Bits per pixel of the array (8, 16 or 64)."""
        return self.pixels.dtype.itemsize * 8

    @classmethod
    def from_array(
        cls,
        pixels: np.ndarray,
        *,
        ceiling: float | None = None,
        floor: float | None = None,
        path: str | Path = "array",
    ) -> BlotImage:
        """Wrap a 2-D array already in memory (tests, notebooks) as an image.

        Parameters
        ----------
        pixels : ndarray, shape (n_rows, n_columns)
            The image as exported; not copied, never modified.
        ceiling : float, optional
            The detector's largest value; by default unknown, so light bands
            are flagged saturated only with a ``saturation_level``. Pass
            ``detector_limits(pixels)[0]`` for what :func:`read_image` would find.
        floor : float, optional
            The detector's smallest value (dark bands saturate there); by
            default 0 for unsigned-integer arrays and unknown otherwise.
        path : str or Path
            A name for messages and QC pictures.

        Returns
        -------
        BlotImage
            With no file hash (``sha256`` is empty) and no warnings.
        """
        if floor is None and pixels.dtype.kind == "u":
            floor = 0.0
        return cls(pixels, Path(path), 0, 1, ceiling, "", floor)

    def rotated(self, degrees: float) -> BlotImage:
        """Turn the image clockwise, as ``rotate`` in the config asks.

        Quarter turns move pixels exactly. A small angle (straightening a
        tilted membrane) interpolates linearly within the image's frame: the
        sums of bands are kept, and a plateau at the detector's limit stays
        at it (corners brought in from outside take the nearest edge value).

        Parameters
        ----------
        degrees : float
            90, 180 or 270, or a small angle; positive turns clockwise.

        Returns
        -------
        BlotImage
            The same image turned (itself for 0).
        """
        turned = degrees % 360.0
        if turned == 0.0:
            return self
        if turned in (90.0, 180.0, 270.0):
            pixels = np.ascontiguousarray(np.rot90(self.pixels, k=-int(turned // 90)))
        else:
            # skimage turns counter-clockwise for positive angles
            smooth = transform.rotate(
                self.pixels.astype(np.float64), -degrees, order=1, mode="edge", preserve_range=True
            )
            if self.pixels.dtype.kind in "ui":
                info = np.iinfo(self.pixels.dtype)
                smooth = np.clip(np.rint(smooth), info.min, info.max)
            pixels = smooth.astype(self.pixels.dtype)
        return replace(self, pixels=pixels)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        Hexadecimal digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_image(path: str | Path, channel: int = 0) -> BlotImage:
    """Read one channel of an image file as a 2-D grayscale array.

    Parameters
    ----------
    path : str or Path
        TIFF, PNG or JPEG file.
    channel : int
        Page or channel index for multi-page or multi-channel files.

    Returns
    -------
    BlotImage

    Raises
    ------
    BlotquantError
        If the file is missing, unreadable, not an image, too large, holds
        NaN or infinite values, or has no such channel.
    """
    path = Path(path)
    if not path.exists():
        raise BlotquantError(
            f"Image file not found: {path.resolve()}. Check the `file` entry in the config "
            "(paths are relative to the config file's folder)."
        )
    if path.is_dir():
        raise BlotquantError(f"{path} is a folder, not an image file. Name an image file.")
    if not path.is_file():
        raise BlotquantError(
            f"{path} is not a regular file (a device, a pipe or a socket). Name an image file."
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise BlotquantError(
                f"{path} is over {MAX_FILE_BYTES // 1024**3} GB, too big for one blot image. "
                "Export the blot alone, or cut the image into blots."
            )
    except OSError as exc:
        raise BlotquantError(f"Cannot read image file {path}: {exc.strerror or exc}.") from exc
    digest = hashlib.sha256(data).hexdigest()
    own: ImagerImage | None = None
    if is_scn(data):
        own = read_scn(data, path)
        stack, warnings = [own.pixels], list(own.warnings)
        del data
    elif data[:4] in _TIFF_MAGIC:
        stack, warnings, own = _read_tiff(data, path)
        del data
    elif data[:8] == _PNG_MAGIC or data[:3] == _JPEG_MAGIC:
        stack, warnings = _read_pillow(data, path, is_jpeg=data[:3] == _JPEG_MAGIC)
        del data
    elif not data:
        raise BlotquantError(
            f"Image file {path} is empty (0 bytes). It may still be copying; "
            "export it again or wait for the copy to finish."
        )
    else:
        raise BlotquantError(
            f"{path} is not a TIFF, PNG, JPEG or Image Lab (.scn) image. Export the blot as "
            "a 16-bit TIFF (or PNG) from the imager software and point the config at that file."
        )
    n_channels = len(stack)
    if not 0 <= channel < n_channels:
        raise BlotquantError(
            f"{path} has {n_channels} page(s)/channel(s) (numbered from 0), so `channel: "
            f"{channel}` does not exist. Set `channel` to a number from 0 to {n_channels - 1}."
        )
    pixels, more = _normalise_dtype(stack[channel], path, ceiling_known=own is not None)
    warnings += more
    _check_shape(pixels, path)
    ceiling, floor = detector_limits(pixels)
    if own is not None:
        # the imager's own file says its ceiling (a float signal has none of its own)
        ceiling, floor = own.ceiling, floor if floor is not None else 0.0
    if pixels.dtype == np.uint8:
        warnings.append(
            f"{path.name} is an 8-bit image: only 256 grey levels, so faint bands and "
            "strong bands cannot both be measured well. Export 16-bit TIFF if the imager can."
        )
    return BlotImage(
        pixels=pixels,
        path=path,
        channel=channel,
        n_channels=n_channels,
        ceiling=ceiling,
        floor=floor,
        sha256=digest,
        warnings=tuple(warnings),
        acquisition=dict(own.acquisition) if own is not None else {},
    )


#: Smallest and largest side of an image that can be a blot (a 10 cm membrane
#: scanned at 2400 dpi is 9 500 px; the pictures drawn of it must stay drawable).
MIN_SIDE = 16
MAX_SIDE = 30_000


def _check_shape(pixels: np.ndarray, path: Path) -> None:
    """Refuse an image too small to hold a blot, or longer than any blot scan."""
    shape = pixels.shape if pixels.ndim == 2 else (1,) * (2 - pixels.ndim) + pixels.shape
    size = "x".join(map(str, shape[::-1]))
    if pixels.ndim > 2 or min(shape) < MIN_SIDE:
        raise BlotquantError(
            f"{path} is {size} pixels (width x height): a side under {MIN_SIDE} px cannot hold "
            "a blot. Is it a thumbnail, an icon or a one-line strip? Export the blot itself."
        )
    if max(shape) > MAX_SIDE:
        raise BlotquantError(
            f"{path} is {size} pixels (width x height): longer than any blot scan (at most "
            f"{MAX_SIDE} px a side). Crop it to the membrane, or export it at a lower "
            "resolution."
        )


#: Pixels that must share one extreme value for it to count as a clipping plateau.
PLATEAU_PIXELS = 8


def detector_limits(pixels: np.ndarray) -> tuple[float | None, float | None]:
    """Values at which the detector clipped: (ceiling, floor).

    The dtype's limits always count. In 16-bit data, a maximum (or minimum)
    below the limit that at least ``PLATEAU_PIXELS`` pixels share exactly is
    a clipping plateau too: with 65 536 levels and noise, so many equal
    extremes do not happen by chance. 8-bit data repeat values too often for
    that test, so only 0 and 255 count there.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        The image as read.

    Returns
    -------
    ceiling, floor : float or None
        None for both in floating-point data (no known limits).
    """
    if pixels.dtype.kind != "u":
        return None, None
    top = float(np.iinfo(pixels.dtype).max)
    if pixels.dtype != np.uint16 or pixels.size == 0:
        return top, 0.0
    hi, lo = pixels.max(), pixels.min()
    ceiling = float(hi) if hi < top and np.count_nonzero(pixels == hi) >= PLATEAU_PIXELS else top
    floor = float(lo) if lo > 0 and np.count_nonzero(pixels == lo) >= PLATEAU_PIXELS else 0.0
    return ceiling, floor


def _check_size(shape: tuple[int, ...], itemsize: int, path: Path) -> None:
    n_bytes = int(np.prod(shape, dtype=np.float64)) * itemsize
    if n_bytes > MAX_IMAGE_BYTES:
        raise BlotquantError(
            f"{path} claims {'x'.join(map(str, shape))} pixels ({n_bytes / 1024**3:.1f} GB), "
            "more than blotquant will load. The file header may be corrupt; export the "
            "image again, or crop it to the membrane."
        )


def _read_tiff(
    data: bytes, path: Path
) -> tuple[np.ndarray | list[np.ndarray], list[str], ImagerImage | None]:
    warnings: list[str] = []
    handle = _io.BytesIO(data)
    compression = ""
    try:
        with tifffile.TiffFile(handle) as tif:
            compression = _compression(tif)
            if tif.is_mdgel and tif.mdgel_metadata:
                # a Typhoon/Amersham GEL file: square roots of the signal, decoded
                gel = decode_mdgel(tif.pages.first.asarray(), tif.mdgel_metadata, path)
                return [gel.pixels], list(gel.warnings), gel
            if len(tif.series) > 1:
                return (*_pages_of_series(tif, path, compression), None)
            series = tif.series[0]
            _check_size(series.shape, np.dtype(series.dtype).itemsize, path)
            array = series.asarray()
            photometric = getattr(tif.pages[0], "photometric", None)
            axes = series.axes
    except BlotquantError:
        raise
    except Exception as exc:  # tifffile raises many types for damaged files
        if "imagecodecs" in str(exc):
            # a compression tifffile decodes only with imagecodecs (not installed):
            # Pillow decodes the common ones itself
            return (*_read_tiff_with_pillow(data, path, compression), None)
        raise BlotquantError(
            f"{path} could not be read as a TIFF ({type(exc).__name__}: {exc}). The file may "
            "be truncated or damaged (still copying?). Export it again from the imager."
        ) from exc
    finally:
        handle.close()  # tifffile may keep the handle: let go of the file's bytes
    _warn_lossy(compression, path, warnings)
    array = np.squeeze(array)
    is_rgb = photometric is not None and int(photometric) == 2 and array.shape[-1] in (3, 4)
    if is_rgb or (axes.endswith("S") and array.ndim >= 3 and array.shape[-1] in (3, 4)):
        if array.ndim == 3:
            return _rgb_to_gray(array, path, warnings)[None], warnings, None
        return np.stack([_rgb_to_gray(a, path, warnings) for a in array]), warnings, None
    if array.ndim == 2:
        return array[None], warnings, None
    if array.ndim == 3:
        return array, warnings, None
    # e.g. time x channel x Y x X: keep the planes in file order
    return array.reshape(-1, *array.shape[-2:]), warnings, None


_EXIF_ORIENTATION = 0x0112

#: TIFF compressions that change pixel values.
LOSSY_TIFF = ("JPEG", "OJPEG", "WEBP", "JPEGXR", "JPEG2000", "JPEGXL", "LERC")


def _compression(tif: tifffile.TiffFile) -> str:
    """Name the first page's compression (NONE, LZW, ZSTD, JPEG, ...)."""
    try:
        return str(tif.pages[0].compression.name)
    except (AttributeError, IndexError, ValueError):
        return ""


def _warn_lossy(compression: str, path: Path, warnings: list[str]) -> None:
    if compression in LOSSY_TIFF:
        warnings.append(
            f"{path.name} is a TIFF with {compression} compression, which is lossy: it changes "
            "pixel values, so it is unfit for quantification. Export an uncompressed or LZW "
            "TIFF for numbers you will publish."
        )


def _pages_of_series(
    tif: tifffile.TiffFile, path: Path, compression: str
) -> tuple[list[np.ndarray], list[str]]:
    """Every plane of every series of a TIFF, in file order (``channel`` picks one).

    A file can hold an 8-bit preview and the 16-bit blot as separate series of
    different sizes; they cannot be one stack, but each is a page to choose.
    """
    warnings: list[str] = []
    planes: list[np.ndarray] = []
    for series in tif.series:
        _check_size(series.shape, np.dtype(series.dtype).itemsize, path)
        array = np.squeeze(series.asarray())
        if array.ndim >= 3 and array.shape[-1] in (3, 4) and "S" in series.axes:
            array = _rgb_to_gray(array, path, warnings)
        planes.extend(array.reshape(-1, *array.shape[-2:]) if array.ndim > 2 else [array])
    kinds = {(p.dtype.str, p.shape) for p in planes}
    if len(kinds) > 1:
        listed = "; ".join(
            f"page {k}: {p.shape[1]} x {p.shape[0]}, {_bits(p)}" for k, p in enumerate(planes)
        )
        warnings.append(
            f"{path.name} holds pages of different kinds ({listed}). `channel` (numbered from "
            "0) picks the page: make sure it is the blot itself, not a preview."
        )
    _warn_lossy(compression, path, warnings)
    return planes, warnings


def _bits(plane: np.ndarray) -> str:
    return f"{plane.dtype.itemsize * 8}-bit" if plane.dtype.kind in "ui" else str(plane.dtype)


def _read_tiff_with_pillow(
    data: bytes, path: Path, compression: str = ""
) -> tuple[np.ndarray, list[str]]:
    warnings: list[str] = []
    _warn_lossy(compression, path, warnings)
    try:
        with Image.open(_io.BytesIO(data)) as img:
            _check_size((img.height, img.width, len(img.getbands())), 2, path)
            pages = [np.asarray(page.copy()) for page in ImageSequence.Iterator(img)]
    except BlotquantError:
        raise
    except Exception as exc:
        if compression not in ("", "NONE"):
            raise BlotquantError(
                f"{path} is a TIFF with {compression} compression, which needs the imagecodecs "
                "package to decode (pip install imagecodecs; blotquant installs it unless it "
                "was left out). Or export the image again as an uncompressed or LZW TIFF."
            ) from exc
        raise BlotquantError(
            f"{path} could not be read as a TIFF ({type(exc).__name__}: {exc}). The file may "
            "be truncated or damaged, or use a compression blotquant cannot decode. Export "
            "it again as an uncompressed or LZW TIFF."
        ) from exc
    planes = [_rgb_to_gray(p, path, warnings) if p.ndim == 3 else p for p in pages]
    return np.stack(planes), warnings


def _read_pillow(data: bytes, path: Path, *, is_jpeg: bool) -> tuple[np.ndarray, list[str]]:

    warnings: list[str] = []
    if is_jpeg:
        warnings.append(
            f"{path.name} is a JPEG: lossy compression changes pixel values, so it is unfit "
            "for quantification. Use the imager's TIFF export for numbers you will publish."
        )
    try:
        with Image.open(_io.BytesIO(data)) as img:
            _check_size((img.height, img.width, len(img.getbands())), 2, path)
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation not in (1, None):
                # stored sideways or upside down: turn it as every viewer does
                img = ImageOps.exif_transpose(img)
                warnings.append(
                    f"{path.name} is stored turned (EXIF orientation {orientation}); it was "
                    "turned upright, as image viewers show it, before measuring."
                )
            mode = img.mode
            if mode in ("P", "PA", "LA", "CMYK", "YCbCr", "1"):
                img = img.convert("RGBA" if "A" in mode or mode == "P" else "RGB")
                mode = img.mode
            array = np.asarray(img)
    except BlotquantError:
        raise
    except Exception as exc:
        raise BlotquantError(
            f"{path} could not be read as an image ({type(exc).__name__}: {exc}). The file "
            "may be truncated or damaged. Export it again from the imager."
        ) from exc
    if array.ndim == 3:
        return _rgb_to_gray(array, path, warnings)[None], warnings
    return array[None], warnings


def _rgb_to_gray(array: np.ndarray, path: Path, warnings: list[str]) -> np.ndarray:
    rgb = array[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        gray = rgb[..., 0].copy()
        note = "all three colours are equal, so the first was used"
    else:
        # ITU-R 601 luma, the weights ImageJ uses for RGB to 8-bit conversion (weighted)
        weights = np.array([0.299, 0.587, 0.114])
        gray = np.rint(rgb.astype(np.float64) @ weights).astype(array.dtype)
        note = "converted with luminance weights"
    message = (
        f"{path.name} is an RGB{'A' if array.shape[-1] == 4 else ''} colour image; {note}. "
        "Colour exports are screen pictures, not measurements: use the imager's grayscale export."
    )
    if message not in warnings:
        warnings.append(message)
    return gray


def _normalise_dtype(
    pixels: np.ndarray, path: Path, *, ceiling_known: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Bring pixels to uint8, uint16 or float64, refusing what cannot be measured.

    ``ceiling_known``: the file says its detector's ceiling (an imager's own
    format), so floating-point pixels need no warning about it.
    """
    warnings: list[str] = []
    kind = pixels.dtype.kind
    if kind == "b":
        raise BlotquantError(
            f"{path} is a 1-bit (black and white) image: it holds no intensities to measure. "
            "Export the blot in grayscale (16-bit TIFF)."
        )
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels, warnings
    if kind in "ui":
        lo, hi = (int(pixels.min()), int(pixels.max())) if pixels.size else (0, 0)
        if lo >= 0 and hi <= 65535:
            warnings.append(
                f"{path.name} stores {pixels.dtype.itemsize * 8}-bit integers; its values fit "
                "16 bits, so it was read as 16-bit."
            )
            return pixels.astype(np.uint16), warnings
        raise BlotquantError(
            f"{path} stores {pixels.dtype.itemsize * 8}-bit integers from {lo} to {hi}, outside "
            "the 0-65535 range of a detector export, so saturation cannot be judged. Export "
            "the raw 16-bit image from the imager."
        )
    if kind == "f":
        if not np.all(np.isfinite(pixels)):
            bad = int(np.count_nonzero(~np.isfinite(pixels)))
            raise BlotquantError(
                f"{path} is a floating-point image with {bad} NaN or infinite pixel(s), which "
                "cannot be measured. Export the raw image, or fix those pixels first."
            )
        if not ceiling_known:
            warnings.append(
                f"{path.name} is a floating-point image: blotquant cannot know the detector's "
                "ceiling, so saturation is only flagged if `saturation_level` is set."
            )
        return pixels.astype(np.float64), warnings
    raise BlotquantError(f"{path} holds pixels of type {pixels.dtype}, which is not an image.")
