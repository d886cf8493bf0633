"""Images of one membrane registered to each other: where one image's point lies in another.

A membrane is imaged more than once: stripped and reprobed for the total
protein or the loading control, or read in a second channel. Between the
images it moves on the imager's tray (tens of pixels) and the frame may be
cropped differently, but its lanes are the same lanes. Registering the images
tells where one image's lanes must lie in the other, so the images of one
membrane can be held to one set of lanes.

Registration is by phase correlation (:func:`skimage.registration.phase_cross_correlation`)
of a small, log-scaled copy of each image (its *fingerprint*), which carries
the membrane's outline, its marks and its bands. Lanes repeat at a pitch, so a
shift by whole lanes can fit almost as well as the true one: the rows of the
bands measured are left out, and a registration is kept only when the images
agree clearly better at the shift found than one or two lanes to either side
(:data:`MIN_MARGIN`). A small rotation between the images
is not sought: each image reads its own tilt, and each lane settles on its
own band within a small residual shift.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.registration import phase_cross_correlation

#: Longest side of a fingerprint, in pixels: enough to place a lane to about
#: a pixel of the full image, small enough to register in milliseconds.
FINGERPRINT_SIDE = 512
#: Shapes broader than this (fingerprint pixels: half the width of a box
#: mean, applied twice) are taken out of a fingerprint: an uneven glow or a
#: gradient across the membrane differs between exposures and would pull the
#: registration far off.
HIGH_PASS = 16.0
#: A fingerprint is clipped to these percentiles of its values (both ends).
CLIP_PERCENT = 0.5
#: A membrane moves on the tray, or is framed a little differently, between
#: images: by at most this share of the image's height or width.
MAX_MOVE = 0.25
#: The images must agree (correlation of their overlap) at least this well at
#: the shift found ...
MIN_AGREEMENT = 0.3
#: ... and by at least this much more than one lane pitch to either side.
MIN_MARGIN = 0.03


@dataclass(frozen=True)
class Fingerprint:
    """A small, log-scaled copy of an image, for registering it to others.

    Attributes
    ----------
    pixels : ndarray, shape (n_rows // factor, n_columns // factor), float32
        ``log(1 + pixel - minimum)`` of one row in ``factor``, columns
        averaged in blocks of ``factor``, less its broad shapes (:data:`HIGH_PASS`).
    factor : int
        Pixels of the image per pixel of the fingerprint, along each axis.
    shape : (int, int)
        Rows and columns of the image itself.
    """

    pixels: np.ndarray
    factor: int
    shape: tuple[int, int]


@dataclass(frozen=True)
class Registration:
    """Where a point of the reference image lies in the moving image.

    A point at (row, column) of the reference is at
    (row + rows, column + columns) of the moving image.

    Attributes
    ----------
    rows, columns : float
        The shift, in pixels of the full images.
    agreement : float
        Correlation of the two images' overlap at that shift (1: identical).
    margin : float
        How much lower the correlation is one lane pitch to either side (the
        lower of the two): how clearly the registration tells the lanes apart.
    """

    rows: float
    columns: float
    agreement: float
    margin: float


def fingerprint(pixels: np.ndarray, *, side: int = FINGERPRINT_SIDE) -> Fingerprint:
    """Make an image's fingerprint for :func:`register`.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        The image as read (any polarity; both images of a pair alike).
    side : int
        Longest side of the fingerprint.

    Returns
    -------
    Fingerprint
    """
    factor = max(1, int(np.ceil(max(pixels.shape) / side)))
    # one row in ``factor``, columns block-averaged: bands and edges span many
    # rows, and reading a quarter of a large export keeps this to milliseconds
    cols = pixels.shape[1] // factor * factor
    rows = pixels[: pixels.shape[0] // factor * factor : factor, :cols]
    blocks = rows.reshape(rows.shape[0], cols // factor, factor).mean(axis=2, dtype=np.float32)
    # log: an exposure or stain twice as strong changes the fingerprint by a
    # constant, and the membrane's faint outline counts beside its bands
    logged = np.log1p(blocks - blocks.min())
    size = int(2 * HIGH_PASS + 1)
    broad = ndi.uniform_filter(
        ndi.uniform_filter(logged, size, mode="nearest"), size, mode="nearest"
    )
    fine = logged - broad
    # a speck of dust is a few pixels far off the rest: clipped, it cannot
    # outweigh an outline or a mark many pixels long
    low, high = np.percentile(fine, [CLIP_PERCENT, 100 - CLIP_PERCENT])
    shape = (int(pixels.shape[0]), int(pixels.shape[1]))
    return Fingerprint(np.clip(fine, low, high).astype(np.float32), factor, shape)


def register(
    reference: Fingerprint,
    moving: Fingerprint,
    *,
    pitch: float,
    reference_bands: Sequence[tuple[float, float]] = (),
    moving_bands: Sequence[tuple[float, float]] = (),
) -> Registration | None:
    """Register one image of a membrane to another.

    The rows of the bands measured are left out: bands sit in the lanes, so
    they fit a shift by whole lanes almost as well as the true one (better,
    where two antibodies light different lanes). What registers the images
    is what does not repeat at the pitch: the membrane's outline and marks,
    a ladder, a blotch, bands at other rows.

    Parameters
    ----------
    reference, moving : Fingerprint
        The two images' fingerprints (:func:`fingerprint`).
    pitch : float
        The membrane's lane pitch, in pixels of the full image.
    reference_bands, moving_bands : sequence of (top, bottom)
        Image rows of each image's measured bands, left out.

    Returns
    -------
    Registration or None
        None when the images do not agree well enough at any shift, agree
        almost as well one or two lanes to either side (the lanes cannot be
        told), or would have moved by more than :data:`MAX_MOVE`.
    """
    factor = max(reference.factor, moving.factor)
    if factor % reference.factor or factor % moving.factor:
        return None  # (sizes too far apart to compare block for block)
    a, b = (
        _without_rows(_coarsen(f.pixels, factor // f.factor), bands, factor)
        for f, bands in ((reference, reference_bands), (moving, moving_bands))
    )
    a, b = _common_shape(a, b)
    if not (np.ptp(a) > 0 and np.ptp(b) > 0):
        return None  # (nothing left to register by)
    with warnings.catch_warnings():
        # (it warns that it cannot give its own error measure; ours follows)
        warnings.simplefilter("ignore", UserWarning)
        shift, _, _ = phase_cross_correlation(a, b, upsample_factor=4, normalization=None)
    # phase correlation gives the shift that moves ``moving`` onto ``reference``
    rows, cols = -float(shift[0]), -float(shift[1])
    if abs(rows) > MAX_MOVE * a.shape[0] or abs(cols) > MAX_MOVE * a.shape[1]:
        return None
    agreement = _overlap_correlation(a, b, rows, cols)
    step = pitch / factor
    beside = max(_overlap_correlation(a, b, rows, cols + k * step) for k in (-2, -1, 1, 2))
    margin = agreement - beside
    if agreement < MIN_AGREEMENT or margin < MIN_MARGIN:
        return None
    return Registration(rows * factor, cols * factor, agreement, margin)


def _without_rows(
    pixels: np.ndarray, spans: Sequence[tuple[float, float]], factor: int
) -> np.ndarray:
    """Set to zero (the fingerprint's mean level) the rows of image spans, and their halo."""
    out = pixels.copy()
    for top, bottom in spans:
        # (the band's own height, and the halo the high pass leaves beside it)
        reach = bottom - top + 2 * HIGH_PASS * factor
        first = max(0, int((top - reach) // factor))
        out[first : int((bottom + reach) // factor) + 1] = 0.0
    return out


def _coarsen(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Block-mean an array by ``factor`` along each axis."""
    if factor == 1:
        return pixels
    rows, cols = (n // factor * factor for n in pixels.shape)
    blocks = pixels[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3))


def _common_shape(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad two arrays at their bottom and right, with zeros, to one shape."""
    rows = max(a.shape[0], b.shape[0])
    cols = max(a.shape[1], b.shape[1])

    def padded(x: np.ndarray) -> np.ndarray:
        out = np.zeros((rows, cols), dtype=np.float32)
        out[: x.shape[0], : x.shape[1]] = x
        return out

    return padded(a), padded(b)


def _overlap_correlation(a: np.ndarray, b: np.ndarray, rows: float, cols: float) -> float:
    """Correlate ``a`` and ``b`` where they overlap, ``a[r, c]`` on ``b[r + rows, c + cols]``."""
    dr, dc = int(round(rows)), int(round(cols))
    height, width = a.shape
    top, bottom = max(0, -dr), min(height, height - dr)
    left, right = max(0, -dc), min(width, width - dc)
    if bottom - top < 8 or right - left < 8:
        return 0.0
    x = a[top:bottom, left:right].ravel().astype(np.float64)
    y = b[top + dr : bottom + dr, left + dc : right + dc].ravel().astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    scale = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / scale) if scale > 0 else 0.0
