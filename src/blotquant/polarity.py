"""Band polarity: are bands darker or brighter than the membrane?

Everything downstream works on a *signal* image in which more protein means a
larger number, so volumes grow with protein whatever the imager exported.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Resolved = Literal["dark-bands", "light-bands"]


def detect_polarity(pixels: np.ndarray) -> Resolved:
    """Guess whether bands are dark on light or light on dark.

    Bands cover a minority of the membrane, so they sit in one tail of the
    pixel distribution: the tail that reaches further from the median (after
    removing slow background trends) is the band side.

    Parameters
    ----------
    pixels : ndarray
        2-D image as exported.

    Returns
    -------
    {'dark-bands', 'light-bands'}
    """
    step = max(1, int(np.sqrt(pixels.size / 250_000)))
    sample = np.asarray(pixels[::step, ::step], dtype=np.float64)
    residual = sample - _block_median_trend(sample, blocks=12)
    low, high = np.percentile(residual, [0.5, 99.5])
    return "dark-bands" if -low > high else "light-bands"


def _block_median_trend(image: np.ndarray, blocks: int) -> np.ndarray:
    """Slow background trend: medians of a coarse grid of blocks, interpolated.

    Blocks are much larger than bands, so their medians follow the membrane.
    """
    from scipy import ndimage

    h, w = image.shape
    bh, bw = max(1, h // blocks), max(1, w // blocks)
    nh, nw = max(1, h // bh), max(1, w // bw)
    grid = image[: nh * bh, : nw * bw].reshape(nh, bh, nw, bw)
    medians = np.median(grid.transpose(0, 2, 1, 3).reshape(nh, nw, -1), axis=2)
    if nh == 1 and nw == 1:
        return np.full(image.shape, medians[0, 0])
    # block centres -> pixel grid, linear between centres, constant beyond
    rows = np.clip((np.arange(h) - (bh - 1) / 2) / bh, 0, nh - 1)
    cols = np.clip((np.arange(w) - (bw - 1) / 2) / bw, 0, nw - 1)
    return ndimage.map_coordinates(
        medians, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="nearest"
    )


def to_signal(
    pixels: np.ndarray, polarity: Resolved, ceiling: float | None
) -> np.ndarray:
    """Image as float64 signal in which bands are bright.

    Dark bands are inverted about the detector ceiling (or the image maximum
    for floating-point data), as ImageJ's "Invert" does, so differences of
    intensity, and hence net volumes, are unchanged in size.
    """
    signal = np.asarray(pixels, dtype=np.float64)
    if polarity == "dark-bands":
        top = ceiling if ceiling is not None else float(signal.max())
        signal = top - signal
    return signal


def saturation_mask(
    pixels: np.ndarray,
    polarity: Resolved,
    ceiling: float | None,
    level: float | None = None,
) -> np.ndarray:
    """Pixels at the detector's limit: ceiling for light bands, floor for dark.

    Parameters
    ----------
    pixels : ndarray
        Image as exported.
    polarity : {'dark-bands', 'light-bands'}
    ceiling : float or None
        Largest recordable value (dtype maximum), None if unknown.
    level : float, optional
        User-set saturation level; overrides the dtype limit. For dark bands
        it is the value at or below which film or detector is saturated.
    """
    if polarity == "light-bands":
        limit = level if level is not None else ceiling
        if limit is None:
            return np.zeros(pixels.shape, dtype=bool)
        return pixels >= limit
    limit = level if level is not None else (0.0 if ceiling is not None else None)
    if limit is None:
        return np.zeros(pixels.shape, dtype=bool)
    return pixels <= limit
