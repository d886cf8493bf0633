"""Band polarity: whether bands are darker or brighter than the membrane.

Everything downstream works on a *signal* image in which more protein means a
larger number, so volumes grow with protein whatever the imager exported.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

Resolved = Literal["dark-bands", "light-bands"]


def detect_polarity(pixels: np.ndarray) -> Resolved:
    """Guess whether bands are dark on light or light on dark.

    Bands cover a minority of the membrane, so the median pixel is membrane
    and the bands make the longer tail of the distribution: below the median
    for dark bands, above it for light ones. The membrane's own shading (a
    blotch, a film's fogged side) can make a longer tail than the bands, so
    the tails are first read with each column's trend taken away (a running
    median down the column, half the image tall: bands run across, so they
    stay); only when that is undecided are the raw pixels asked. (The trend
    is never taken across the columns: on a tight crop it would follow the
    bands.)

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.

    Returns
    -------
    {'dark-bands', 'light-bands'}
    """
    # about 25 000 pixels tell the tails apart (and keep the running median quick)
    step = max(1, int(round(np.sqrt(pixels.size / 25_000))))
    sample = np.asarray(pixels[::step, ::step], dtype=np.float64)
    # pixels stuck at the file's limits (padding outside the membrane, clipped
    # cores) say nothing about which way the bands go
    keep = np.ones(sample.shape, bool)
    if pixels.dtype.kind == "u":
        inside = (sample > 0) & (sample < np.iinfo(pixels.dtype).max)
        if inside.mean() >= 0.5:
            keep = inside
    window = max(3, sample.shape[0] // 2)
    # (column by column: scipy's one-dimensional running median is 4x quicker than
    # the same window given to it as a 2-D footprint, with the same result)
    trend = np.stack(
        [ndimage.median_filter(column, size=window, mode="nearest") for column in sample.T],
        axis=1,
    )
    below, above = _tails((sample - trend)[keep])
    if max(below, above) >= DECISIVE * min(below, above):
        return "dark-bands" if below > above else "light-bands"
    below, above = _tails(sample[keep])
    return "dark-bands" if below > above else "light-bands"


#: One tail this many times the other decides the polarity from the detrended pixels.
DECISIVE = 1.5


def _tails(values: np.ndarray) -> tuple[float, float]:
    """How far the 0.5th and 99.5th percentiles lie below and above the median."""
    low, median, high = np.percentile(values, [0.5, 50, 99.5])
    return float(median - low), float(high - median)


def to_signal(
    pixels: np.ndarray,
    polarity: Resolved,
    ceiling: float | None,
    dtype: type[np.floating] | np.dtype = np.float64,
) -> np.ndarray:
    """Image as a floating-point signal in which bands are bright.

    Dark bands are inverted about the detector ceiling (or the image maximum
    for floating-point data), as ImageJ's "Invert" does, so differences of
    intensity, and hence net volumes, are unchanged in size. ``float32``
    holds 8- and 16-bit images (and their inversion) exactly, in half the
    memory.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported (not modified).
    polarity : {'dark-bands', 'light-bands'}
        Which way the bands go.
    ceiling : float or None
        The detector's largest value; None: the image's maximum.
    dtype : type
        Float type of the signal (see :func:`signal_dtype`).

    Returns
    -------
    ndarray of ``dtype``, shape (n_rows, n_columns)
    """
    signal = np.asarray(pixels, dtype=dtype)
    if polarity == "dark-bands":
        top = ceiling if ceiling is not None else float(signal.max())
        signal = top - signal
    return signal


def signal_dtype(pixels: np.ndarray) -> type[np.floating]:
    """Choose the float type that holds an image's signal exactly, in the least memory.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.

    Returns
    -------
    type
        ``np.float32`` for 8- and 16-bit integers (exact in single
        precision; sums are taken in double), else ``np.float64``.
    """
    exact32 = pixels.dtype.kind in "ui" and pixels.dtype.itemsize <= 2
    return np.float32 if exact32 else np.float64
