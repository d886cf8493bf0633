"""Where the membrane holds bands: band rows, band columns and their profiles.

Lanes are seen through their bands. Everything here looks at the band
residual (what is thin along the lanes: bands, ladder marks) and asks which
rows hold bands and which columns of those rows do. Lane finding
(:mod:`blotquant.lanes`) fits lanes to this evidence; the lane check
(:mod:`blotquant.lanecheck`) holds the fitted lanes against it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from blotquant.profiles import find_peaks, lower_baseline

#: Running-median width (columns) that erases dust specks (up to 4 px across)
#: from the column profile; lanes are at least 8 px wide (12 px pitch).
DUST_COLUMNS = 9


def band_residual(signal: np.ndarray) -> np.ndarray:
    """Keep what is thin in the vertical direction: bands, not background.

    The signal minus a wide vertical smoothing keeps bands (a few rows tall)
    and removes everything smooth along the lanes: gradients, blotches from
    uneven blocking or washing, vignetting. Only the positive part is kept,
    so that summing down a lane measures band content.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Image, bands bright.

    Returns
    -------
    ndarray of float32, shape (n_rows, n_columns)
        The residual, at least 0.
    """
    height = signal.shape[0]
    # far wider than a band (bands are 5 to 30 rows thick); two running means
    # make a triangular smoothing that costs the same at any width
    width = int(2 * max(20.0, height / 10.0)) | 1
    # (single precision is plenty for finding lanes, and twice as fast)
    work = np.asarray(signal, dtype=np.float32)
    smooth = ndimage.uniform_filter1d(work, width, axis=0, mode="nearest")
    if work is signal:
        work = np.empty_like(smooth)
    ndimage.uniform_filter1d(smooth, width, axis=0, mode="nearest", output=work)
    del smooth
    # the residual is written over the smoothing: two image-sized arrays at most
    np.subtract(signal, work, out=work, casting="unsafe")
    return np.maximum(work, 0, out=work)


def row_quantiles(values: np.ndarray, quantiles: tuple[float, ...]) -> list[np.ndarray]:
    """Quantiles of each row (nearest rank), with one partial sort for all of them."""
    n = values.shape[1]
    ranks = [int(round(q * (n - 1))) for q in quantiles]
    parted = np.partition(values, sorted(set(ranks)), axis=1)
    return [parted[:, k] for k in ranks]


def across_quantiles(residual: np.ndarray) -> dict[float, np.ndarray]:
    """Each row's median, 70th and 95th percentile across the columns (a sample of 400)."""
    step = max(1, residual.shape[1] // 400)
    levels = (0.5, 0.7, 0.95)
    return dict(zip(levels, row_quantiles(residual[:, ::step], levels), strict=True))


def rows_with_bands(
    residual: np.ndarray, quantiles: dict[float, np.ndarray] | None = None
) -> np.ndarray:
    """Pick the rows that hold bands or marks, widened a little.

    Rows are picked on two scores: their mean signal (any band or mark), and
    the signal most of their width carries (the 70th percentile across
    columns), so that rows of faint bands running across the membrane are not
    outshone by a bright ladder mark that sits in a single lane.

    Parameters
    ----------
    residual : ndarray, shape (n_rows, n_columns)
        :func:`band_residual` of the image.
    quantiles : dict, optional
        Each row's 50th, 70th and 95th percentile across the columns, keyed
        0.5, 0.7 and 0.95 (arrays of shape (n_rows,)); computed if not given.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
        Every row when fewer than 3 stand out.
    """
    quantiles = quantiles if quantiles is not None else across_quantiles(residual)
    rows = np.zeros(residual.shape[0], bool)
    for energy in (residual.mean(axis=1), quantiles[0.7]):
        base = float(np.median(energy))
        top = float(energy.max())
        if top > base:
            rows |= energy >= base + 0.15 * (top - base)
    rows = ndimage.binary_dilation(rows, iterations=3)
    return rows if rows.sum() >= 3 else np.ones(residual.shape[0], bool)


def column_profile(
    residual: np.ndarray, slope: float, ref_row: float, rows: np.ndarray | None = None
) -> np.ndarray:
    """Mean residual per column after undoing a lane drift of ``slope`` px/row.

    Parameters
    ----------
    residual : ndarray, shape (n_rows, n_columns)
        :func:`band_residual` of the image.
    slope : float
        Lane drift, columns per row.
    ref_row : float
        Row at which the drift is zero.
    rows : ndarray of bool, shape (n_rows,), optional
        Limits the sum to some rows; the mean is still taken over all rows,
        so profiles of different masks compare.

    Returns
    -------
    ndarray, shape (n_columns,)
        Column ``x`` holds the lane position that is column ``x`` at ``ref_row``.
    """
    height, width = residual.shape
    if rows is not None:
        index = np.flatnonzero(rows)
        residual = residual[index]
    else:
        index = np.arange(height)
    if slope == 0.0:
        return residual.sum(axis=0, dtype=np.float64) / height
    shifts = np.rint(slope * (index - ref_row)).astype(int)
    profile = np.zeros(width)
    counts = np.zeros(width)
    for shift in np.unique(shifts):
        group = residual[shifts == shift]
        summed = group.sum(axis=0, dtype=np.float64)
        # column x of a row drifted by `shift` belongs to lane position x - shift
        lo, hi = max(0, shift), min(width, width + shift)
        profile[lo - shift : hi - shift] += summed[lo:hi]
        counts[lo - shift : hi - shift] += height / max(len(index), 1) * len(group)
    return profile / np.maximum(counts, 1)


#: Band columns weaker than this share of their row's strongest are not evidence.
COLUMN_LEVEL = 0.25


def cleaned_profile(profile: np.ndarray, pitch: float) -> np.ndarray:
    """Remove dust spikes and the slow baseline from a column profile."""
    # a dust speck is a spike a few columns wide; lanes are wider
    profile = ndimage.median_filter(profile, size=DUST_COLUMNS, mode="nearest")
    window = max(pitch, 3.0 * DUST_COLUMNS)
    return np.clip(profile - lower_baseline(profile, window), 0, None)


def peak_smoothing(pitch: float) -> float:
    """Gaussian width that turns a lane's plateau into one peak."""
    return max(1.0, pitch / 10.0)


def band_columns(raw: np.ndarray, pitch: float) -> tuple[np.ndarray, float]:
    """Columns of one band row that hold a band, and the strongest column's height.

    A column is a peak of at least a quarter of the row's strongest: faint
    lanes are not needed to see a lane count that does not fit, and the
    noise of a row that holds a single ladder mark must not count.
    """
    smooth = ndimage.gaussian_filter1d(cleaned_profile(raw, pitch), peak_smoothing(pitch))
    peaks, prominences = find_peaks(smooth, distance=max(1.0, 0.5 * pitch))
    if not len(peaks):
        return np.empty(0), 0.0
    heights = smooth[peaks]
    level = COLUMN_LEVEL * float(heights.max())
    keep = (heights >= level) & (prominences >= 0.5 * level)
    return peaks[keep].astype(float), float(heights.max())


def band_row_groups(residual: np.ndarray, rows: np.ndarray | None = None) -> list[np.ndarray]:
    """Find the runs of rows that hold bands (a strip's band, a ladder's mark), strongest first.

    Parameters
    ----------
    residual : ndarray, shape (n_rows, n_columns)
        :func:`band_residual` of the image.
    rows : ndarray of bool, shape (n_rows,), optional
        :func:`rows_with_bands` of it, when the caller has them.

    Returns
    -------
    list of ndarray of bool, each shape (n_rows,)
        One mask per run; none when no row stands out.
    """
    rows = rows_with_bands(residual) if rows is None else rows
    if rows.all():
        return []
    labels, n = ndimage.label(rows)
    groups = [labels == k for k in range(1, n + 1)]
    energy = [float(residual[g].sum()) for g in groups]
    order = np.argsort(energy)[::-1]
    strongest = energy[order[0]] if n else 0.0
    # a group far weaker than the strongest is noise that crossed the row threshold
    return [groups[k] for k in order if energy[k] >= 0.05 * strongest]
