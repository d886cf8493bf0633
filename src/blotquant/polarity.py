"""Band polarity: whether bands are darker or brighter than the membrane.

Everything downstream works on a *signal* image in which more protein means a
larger number, so volumes grow with protein whatever the imager exported.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Resolved = Literal["dark-bands", "light-bands"]


def detect_polarity(pixels: np.ndarray) -> Resolved:
    """Guess whether bands are dark on light or light on dark.

    Bands cover a minority of the membrane, so the median pixel is membrane
    and the bands make the longer tail of the distribution: below the median
    for dark bands, above it for light ones. (A background trend would be
    the wrong thing to remove first: on a tight crop it follows the bands.)

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.

    Returns
    -------
    {'dark-bands', 'light-bands'}
    """
    step = max(1, int(np.sqrt(pixels.size / 100_000)))
    sample = np.asarray(pixels[::step, ::step], dtype=np.float64).ravel()
    # pixels stuck at the file's limits (padding outside the membrane, clipped
    # cores) say nothing about which way the bands go
    if pixels.dtype.kind == "u":
        inside = sample[(sample > 0) & (sample < np.iinfo(pixels.dtype).max)]
        if inside.size >= 0.5 * sample.size:
            sample = inside
    low, median, high = np.percentile(sample, [0.5, 50, 99.5])
    return "dark-bands" if median - low > high - median else "light-bands"


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
