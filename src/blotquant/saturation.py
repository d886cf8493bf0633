"""Saturation: which pixels at an image's limits are a band's clipped peak.

A band is saturated when a *plateau* of its pixels sits at the detector's
limit (the ceiling for bright bands, the floor for dark ones): at least
:data:`MIN_PLATEAU` touching pixels, with the band rising towards them all
around. Three other things put pixels at a limit, and are told apart:

- **A contrast-stretched export** (auto-contrast on export) sets its brightest
  pixel to exactly the top value. That is one lone pixel, not a plateau: not
  saturation, and a linear stretch changes no fold change.
- **Burned-in graphics** (box outlines, typed labels) sit at the limit with
  plain membrane right beside them, where a clipped band would still be
  nearly as bright as the limit.
- **A clipped background**: a dark-band JPEG on paper white, or an export
  that crushed the membrane to black. Those pixels are at the *other* limit,
  the membrane's side: the bands are not saturated, but their faint edges are
  cut off with the background (flag ``clipped-export``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from blotquant.polarity import Resolved

#: Touching pixels at the limit that make a plateau (one alone is a stretched
#: export's brightest pixel, or noise on a peak that grazes the limit).
MIN_PLATEAU = 2
#: A plateau is a band's when the pixels around it have risen at least this
#: share of the way from the membrane to the limit (graphics: about none).
PLATEAU_RISE = 0.5
#: A band whose background rows are at least this share at the membrane-side
#: limit is flagged ``clipped-export``.
CLIPPED_SHARE = 0.25

_EIGHT = np.ones((3, 3), dtype=bool)


def limit_mask(
    pixels: np.ndarray,
    polarity: Resolved,
    ceiling: float | None,
    level: float | None = None,
    floor: float | None = 0.0,
) -> np.ndarray:
    """Pixels at the bands' limit: the ceiling for light bands, the floor for dark.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.
    polarity : {'dark-bands', 'light-bands'}
        Which way the bands go.
    ceiling : float or None
        Largest recordable value (dtype maximum), None if unknown.
    level : float, optional
        User-set saturation level; overrides the dtype limit. For dark bands
        it is the value at or below which film or detector is saturated.
    floor : float or None
        Smallest recordable value (0, or a clipping plateau), None if unknown.

    Returns
    -------
    ndarray of bool, shape of ``pixels``
        All False when the limit is unknown.
    """
    if polarity == "light-bands":
        limit = level if level is not None else ceiling
        if limit is None:
            return np.zeros(pixels.shape, dtype=bool)
        return pixels >= limit
    limit = level if level is not None else floor
    if limit is None:
        return np.zeros(pixels.shape, dtype=bool)
    return pixels <= limit


def membrane_limit_mask(
    pixels: np.ndarray, polarity: Resolved, ceiling: float | None, floor: float | None = 0.0
) -> np.ndarray:
    """Pixels at the membrane's limit (floor for light bands, ceiling for dark).

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.
    polarity : {'dark-bands', 'light-bands'}
        Which way the bands go.
    ceiling, floor : float or None
        The image's limits (None if unknown).

    Returns
    -------
    ndarray of bool, shape of ``pixels``
        All False when the limit is unknown.
    """
    other: Resolved = "dark-bands" if polarity == "light-bands" else "light-bands"
    return limit_mask(pixels, other, ceiling, None, floor)


def saturated_plateaus(
    pixels: np.ndarray,
    polarity: Resolved,
    ceiling: float | None,
    level: float | None = None,
    floor: float | None = 0.0,
) -> tuple[np.ndarray, int, int]:
    """Find the pixels at the bands' limit that are clipped bands.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        Image as exported.
    polarity, ceiling, level, floor
        As for :func:`limit_mask`.

    Returns
    -------
    saturated : ndarray of bool, shape of ``pixels``
        Pixels of plateaus (:data:`MIN_PLATEAU` or more touching pixels at
        the limit, the image risen at least :data:`PLATEAU_RISE` of the way
        to the limit around them).
    lone : int
        Pixels at the limit with no other beside them (a stretched export).
    marks : int
        Pixels at the limit in plateaus with membrane around them
        (burned-in outlines, labels).
    """
    at_limit = limit_mask(pixels, polarity, ceiling, level, floor)
    if not at_limit.any():
        return at_limit, 0, 0
    rows = np.flatnonzero(at_limit.any(axis=1))
    cols = np.flatnonzero(at_limit.any(axis=0))
    # only the block that holds the limit's pixels (and one pixel around) is looked at
    window = (
        slice(max(rows[0] - 1, 0), rows[-1] + 2),
        slice(max(cols[0] - 1, 0), cols[-1] + 2),
    )
    at, values = at_limit[window], np.asarray(pixels[window], dtype=np.float64)
    labels, n = ndimage.label(at, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    lone = int(np.count_nonzero(sizes[1:] < MIN_PLATEAU))
    big = np.flatnonzero(sizes >= MIN_PLATEAU)
    big = big[big > 0]
    if big.size == 0:
        return np.zeros(pixels.shape, dtype=bool), lone, 0
    # each plateau's ring: the pixels just outside it
    ring = ndimage.binary_dilation(at, structure=_EIGHT) & ~at
    ring_labels = np.where(ring, ndimage.grey_dilation(labels, footprint=_EIGHT), 0)
    ring_level = np.asarray(ndimage.median(values, ring_labels, big), dtype=np.float64)
    step = max(1, int(np.sqrt(pixels.size / 65_536)))
    membrane = float(np.median(pixels[::step, ::step]))
    limit = float(values[at][0])
    span = limit - membrane
    if span == 0:
        risen = np.ones(big.size, dtype=bool)
    else:
        # a plateau with no ring (it fills its window) counts as a band's
        risen = ~((ring_level - membrane) / span < PLATEAU_RISE)
    keep = np.zeros(n + 1, dtype=bool)
    keep[big[risen]] = True
    saturated = np.zeros(pixels.shape, dtype=bool)
    saturated[window] = keep[labels]
    marks = int(sizes[big[~risen]].sum())
    return saturated, lone, marks
