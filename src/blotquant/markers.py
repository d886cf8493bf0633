"""Ladder and marker lanes at the ends of a membrane, found by their own marks.

A ladder is often a few marks off the sample lanes' spacing (a marker band at
each end, a prestained ladder loaded a little apart): fitted with the samples
it would shift them by a lane. Rows of marks are told from rows of sample
bands (:func:`split_marker_rows`), the sample lanes are found without them, and
each ladder lane is placed at its marks beyond them (:func:`add_ladder_lanes`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from blotquant.evidence import (
    COLUMN_LEVEL,
    band_row_groups,
    cleaned_profile,
    column_profile,
    peak_smoothing,
)

#: A band row whose signal stands this much in one or two columns holds ladder marks.
MARKER_SHARE = 0.8


def split_marker_rows(
    residual: np.ndarray, band_rows: np.ndarray, max_pitch: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Tell the rows of sample bands from the rows of ladder marks.

    A run of band rows whose signal stands almost all in one or two columns
    holds ladder marks (or a marker band at each end); sample bands spread
    over several lanes, even when one of them is far brighter. None for the
    marker rows when the two kinds cannot both be found.
    """
    sample_rows = np.zeros_like(band_rows)
    marker_rows = np.zeros_like(band_rows)
    rough_pitch = 0.8 * max_pitch
    for group in band_row_groups(residual, rows=band_rows):
        profile = cleaned_profile(column_profile(residual, 0.0, 0.0, rows=group), rough_pitch)
        if _held_by_two_columns(profile, rough_pitch) >= MARKER_SHARE:
            marker_rows |= group
        else:
            sample_rows |= group
    if not sample_rows.any() or not marker_rows.any():
        return band_rows, None
    return sample_rows, marker_rows


def _held_by_two_columns(profile: np.ndarray, pitch: float) -> float:
    """Share of a band row's signal within half a pitch of its two strongest columns."""
    total = float(profile.sum())
    if total <= 0:
        return 0.0
    smooth = ndimage.gaussian_filter1d(profile, peak_smoothing(pitch))
    x = np.arange(len(profile))
    held = np.zeros(len(profile), bool)
    for _ in range(2):
        peak = int(np.argmax(np.where(held, -np.inf, smooth)))
        held |= np.abs(x - peak) <= 0.5 * pitch
    return float(profile[held].sum()) / total


def add_ladder_lanes(
    marks: np.ndarray,
    centers: np.ndarray,
    found: np.ndarray,
    bounds: np.ndarray,
    pitch: float,
    *,
    left: int,
    right: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place ladder lanes beyond the sample lanes, each at its own marks.

    A ladder lane is sought between half a pitch and three pitches beyond
    the outermost lane; without marks there it sits one pitch beyond.
    """
    smooth = ndimage.gaussian_filter1d(cleaned_profile(marks, pitch), peak_smoothing(pitch))
    strongest = float(smooth.max()) if smooth.size else 0.0
    x = np.arange(len(smooth))

    def place(edge: float, side: int) -> tuple[float, bool]:
        lo, hi = sorted((edge + side * 0.5 * pitch, edge + side * 3.0 * pitch))
        window = (x >= lo) & (x <= hi)
        if strongest > 0 and window.any():
            best = int(np.argmax(np.where(window, smooth, -np.inf)))
            if smooth[best] >= COLUMN_LEVEL * strongest:
                return float(best), True
        return edge + side * pitch, False

    lefts: list[tuple[float, bool]] = []
    edge = float(centers[0])
    for _ in range(left):
        edge, ok = place(edge, -1)
        lefts.insert(0, (edge, ok))
    rights: list[tuple[float, bool]] = []
    edge = float(centers[-1])
    for _ in range(right):
        edge, ok = place(edge, 1)
        rights.append((edge, ok))
    all_centers = np.array([c for c, _ in lefts] + list(centers) + [c for c, _ in rights])
    all_found = np.array([f for _, f in lefts] + list(found) + [f for _, f in rights], bool)
    # between a ladder lane and its neighbour: the midpoint
    middle = 0.5 * (all_centers[:-1] + all_centers[1:])
    middle[left : left + len(bounds)] = bounds
    return all_centers, all_found, middle


def ladder_columns(marks: np.ndarray, pitch: float, *, left: int, right: int) -> np.ndarray:
    """Columns of the outermost ladder marks, to leave out when fitting the sample lanes.

    A ladder mark can run into a sample band's rows (a mark at the band's
    size), and its column then counts as a lane among the samples, shifting
    them by one. The ``left`` leftmost and ``right`` rightmost columns that
    hold marks are the ladder's: each is masked over the width of its marks.

    Parameters
    ----------
    marks : ndarray, shape (n_columns,)
        Column profile of the rows of ladder marks.
    pitch : float
        Approximate lane spacing, in pixels.
    left, right : int
        Ladder lanes at the left and at the right end.

    Returns
    -------
    ndarray of bool, shape (n_columns,)
        True over the ladder's columns.
    """
    smooth = ndimage.gaussian_filter1d(cleaned_profile(marks, pitch), peak_smoothing(pitch))
    mask = np.zeros(len(smooth), bool)
    strongest = float(smooth.max()) if smooth.size else 0.0
    if strongest <= 0:
        return mask
    peaks = [
        i
        for i in range(1, len(smooth) - 1)
        if smooth[i] >= smooth[i - 1]
        and smooth[i] > smooth[i + 1]
        and smooth[i] >= COLUMN_LEVEL * strongest
    ]
    outer = peaks[:left] + (peaks[len(peaks) - right :] if right else [])
    for peak in outer:
        # the mark's own width: out to where it falls to a tenth of its height
        floor = 0.1 * smooth[peak]
        lo, hi = peak, peak
        while lo > 0 and smooth[lo - 1] > floor:
            lo -= 1
        while hi < len(smooth) - 1 and smooth[hi + 1] > floor:
            hi += 1
        mask[lo : hi + 1] = True
    return mask
