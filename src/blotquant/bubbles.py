"""Bubbles: round voids over a band, where no protein reached the membrane.

An air bubble trapped between gel and membrane during transfer leaves a round
hole in the band: across the lane the band's signal drops, then comes back.
Its volume is then a lower bound (the protein was loaded, not transferred).
A bubble also kept the blocking protein off, so its patch is darker than the
membrane around the box: a band is seen to hold one when, smoothed, a patch
of it lies well below the membrane's own level.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from blotquant.profiles import robust_sigma

#: A void: pixels this many texture SDs below the membrane around the box ...
VOID_DEPTH = 5.0
#: ... over at least this many pixels (a disk of radius 3), after smoothing.
VOID_MIN_PIXELS = 28
#: ... and at least this share of the band's height deep (a void over a strong
#: band reaches the membrane's own level, a few % of the band, not a tenth).
VOID_BAND_SHARE = 0.05
#: Smoothing (a square of this many pixels a side) before looking: texture
#: averages out, a void stays.
VOID_SMOOTHING = 5


def has_void(
    patch: np.ndarray, margin: int, height: int, background: np.ndarray, *, pixel_noise: float
) -> bool:
    """Tell whether a band box holds a void: a patch darker than the membrane around it.

    Where no protein reached the membrane, neither did the blocking protein
    that gives the membrane its glow, so a bubble shows as a round patch
    below the membrane's own level, inside or across the band. Texture goes
    below it too, but in specks: the patch is smoothed first and must be
    :data:`VOID_DEPTH` texture SDs deep over :data:`VOID_MIN_PIXELS` pixels.

    Parameters
    ----------
    patch : ndarray, shape (n_columns, margin + height + margin)
        The band box straightened along the band, margins included.
    margin, height : int
        Margin rows each side, and box rows.
    background : ndarray, shape (height,)
        The background removed under each box row, summed across the lane.
    pixel_noise : float
        Noise SD of one pixel (the texture is never taken below it, smoothed).

    Returns
    -------
    bool
    """
    n_cols = patch.shape[0]
    if margin < 2 or n_cols < 8:
        return False
    smooth = ndimage.uniform_filter(np.asarray(patch, dtype=np.float32), VOID_SMOOTHING)
    # the membrane's level: the margins' own (means: a band reaching into a margin
    # only raises them, which makes a void harder to call), and the baseline
    above = float(smooth[:, :margin].mean())
    below = float(smooth[:, margin + height :].mean())
    level = np.concatenate([np.full(margin, above), background / n_cols, np.full(margin, below)])
    residual = smooth - level[None, :]
    edges = np.concatenate([residual[:, 1 : margin - 1], residual[:, margin + height + 1 : -1]], 1)
    # a void lies below the membrane on both sides of the band, not merely below a
    # baseline that a band in one margin lifts
    floor = min(min(above, below) - float(np.mean(background)) / n_cols, 0.0)
    # never below the pixel noise left after smoothing (a clipped, flat membrane
    # has no texture), nor below a twentieth of the band's height: a void takes a
    # real part of the band away, texture does not
    smoothed_noise = pixel_noise / VOID_SMOOTHING
    # (in the box: a dark patch out in the margins is not over the band)
    inside = residual[:, margin : margin + height]
    band = float(inside.max(initial=0.0))
    # ... and below its own column's membrane, on the side a void leaves whole:
    # the lane's edge beside a streak of raised background is low in its margins too
    own = np.maximum(smooth[:, :margin].mean(axis=1), smooth[:, margin + height :].mean(axis=1))
    own = own[:, None]
    smooth_inside = smooth[:, margin : margin + height]

    def deep_at(depth: float) -> np.ndarray:
        return (inside < floor - depth) & (smooth_inside < own - depth)

    # most boxes hold no such patch even at the shallowest depth allowed: they are
    # told without the texture's spread (a median, the costly part)
    shallowest = max(VOID_DEPTH * smoothed_noise, VOID_BAND_SHARE * band)
    if np.count_nonzero(deep_at(shallowest)) < VOID_MIN_PIXELS:
        return False
    depth = max(VOID_DEPTH * float(robust_sigma(edges)), shallowest)
    if depth <= 0:
        return False
    deep = deep_at(depth)
    if deep.sum() < VOID_MIN_PIXELS:
        return False
    labels, count = ndimage.label(deep)
    return bool(np.bincount(labels.ravel())[1:].max(initial=0) >= VOID_MIN_PIXELS)
