"""One-dimensional profile helpers shared by lane and band finding."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Two neighbouring bands are apart where the lowest point between them falls
#: below this share of the lower band's height, and touch where it does not
#: (a valley between separate bands falls far lower). The one rule for lanes
#: (:mod:`blotquant.lanes`) and for box edges (:mod:`blotquant.touching`).
TOUCH_LEVEL = 0.5


def bands_touch(valley: float, left: float, right: float) -> bool:
    """Say whether two neighbouring bands of heights ``left`` and ``right`` touch over ``valley``.

    All three are measured above the same floor.
    """
    return not valley < TOUCH_LEVEL * min(left, right)


#: Standard deviations per median absolute deviation (MAD) of Gaussian noise.
MAD_TO_SIGMA = 1.4826


def robust_sigma(
    values: np.ndarray,
    *,
    axis: int | None = None,
    centred: bool = True,
    differences: bool = False,
    upper_median: bool = False,
) -> float | np.ndarray:
    """Noise standard deviation from the median absolute deviation (MAD).

    The median ignores the few values that are not noise (band edges, specks,
    outlying lanes), where a standard deviation would follow them.

    Parameters
    ----------
    values : ndarray, any shape
        Samples of the noise.
    axis : int, optional
        Axis along which to estimate; by default over all values.
    centred : bool
        Deviations from the median (the MAD proper). False: the median of
        ``|values|``, for values already centred (residuals, deviations).
    differences : bool
        The values are differences of two noisy samples, whose noise is
        ``sqrt(2)`` times that of one sample: divide it out.
    upper_median : bool
        Take the upper of the two middle values instead of their mean: one
        partial sort, for large samples where the difference does not matter.

    Returns
    -------
    float or ndarray
        The noise; an array of ``values``' shape without ``axis`` when
        ``axis`` is given. 0.0 for no values (``axis=None``).
    """
    values = np.asarray(values)
    if axis is None and values.size == 0:
        return 0.0
    median = _upper_median if upper_median else _mean_median
    deviations = np.abs(values - median(values, axis, keepdims=True) if centred else values)
    sigma = MAD_TO_SIGMA * median(deviations, axis)
    if differences:
        sigma = sigma / np.sqrt(2.0)
    return float(sigma) if axis is None else sigma


#: Values this many robust SDs off the median are outliers to :func:`clipped_sigma`.
CLIP_SIGMAS = 3.0


def clipped_sigma(values: np.ndarray) -> float:
    """Give the standard deviation of the values within 3 robust SDs of their median.

    The median absolute deviation shrugs off outliers (a speck, a mark) but
    is a poor estimate from a few dozen values: from 30 Gaussian ones it is
    off by 20 % (one SD), this by 15 % (and 4 % low: the clipping takes the
    tails). The standard deviation of the values it does not call outliers
    keeps both virtues.

    Parameters
    ----------
    values : ndarray, shape (n,)
        Samples of the noise.

    Returns
    -------
    float
        0.0 for fewer than two values (or none kept).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return 0.0
    center = float(np.median(values))
    spread = robust_sigma(values)
    kept = values[np.abs(values - center) <= CLIP_SIGMAS * spread] if spread > 0 else values
    return float(kept.std(ddof=1)) if kept.size >= 2 else 0.0


def _mean_median(values: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    return np.median(values, axis=axis, keepdims=keepdims)


def _upper_median(values: np.ndarray, axis: int | None, keepdims: bool = False) -> np.ndarray:
    if axis is None:
        values = values.ravel()
        axis = 0
    middle = values.shape[axis] // 2
    parted = np.partition(values, middle, axis=axis)
    upper = np.take(parted, [middle], axis=axis)
    return upper if keepdims else np.squeeze(upper, axis=axis)


def lower_baseline(profile: np.ndarray, window: float, smooth: float = 2.0) -> np.ndarray:
    """Baseline under the peaks of a profile.

    The baseline joins, by straight lines, the points that are the lowest of
    their ``window`` (the gaps between lanes, or the membrane between bands).
    A linear background gradient is therefore removed exactly, whereas a flat
    morphological opening would sit on the next gap uphill and skew the peaks.

    Parameters
    ----------
    profile : ndarray, shape (n_samples,)
        The profile.
    window : float
        At least the spacing of the peaks (lane pitch), so that every window
        holds a gap.
    smooth : float
        Gaussian smoothing (sigma, samples) applied before finding the minima,
        so that noise does not pull the baseline down.

    Returns
    -------
    ndarray, shape of ``profile``
        Never above the smoothed profile (when ``smooth > 0``).
    """
    profile = np.asarray(profile)
    return lower_baselines(profile[None, :], window, smooth)[0]


def lower_baselines(profiles: np.ndarray, window: float, smooth: float = 2.0) -> np.ndarray:
    """:func:`lower_baseline` of every row of a 2-D array, at once.

    Parameters
    ----------
    profiles : ndarray, shape (n_profiles, n_samples)
        One profile per row.
    window, smooth : float
        As for :func:`lower_baseline`.

    Returns
    -------
    ndarray, shape (n_profiles, n_samples)
    """
    n_rows, n = profiles.shape
    if n < 3:
        low = profiles.min(axis=1, keepdims=True) if n else np.zeros((n_rows, 1))
        return np.broadcast_to(low, (n_rows, n)).astype(float)
    smoothed = profiles.astype(float)
    if smooth > 0:
        smoothed = ndimage.gaussian_filter1d(smoothed, smooth, axis=1, mode="nearest")
    x = np.arange(n, dtype=float)
    # a steep ramp hides the gaps from windowed minima (each window's minimum
    # is its downhill end), so take off the lower linear trend first
    trend = _lower_lines(x, smoothed)
    flat = smoothed - trend
    size = max(3, int(window) | 1)
    minima = ndimage.minimum_filter1d(flat, size, axis=1, mode="nearest")
    baselines = np.empty_like(flat)
    for k in range(n_rows):
        row = flat[k]
        anchors = np.flatnonzero(row <= minima[k])
        baseline = np.interp(x, anchors, row[anchors])
        # beyond the outermost gaps the background keeps its slope (a ramp
        # does not stop at the last lane); the slope is taken over about one window
        for end, inner, sel in (
            (anchors[0], 1, x < anchors[0]),
            (anchors[-1], -1, x > anchors[-1]),
        ):
            far = anchors[np.abs(anchors - end) >= size / 2]
            if sel.any() and far.size:
                other = far[0] if inner == 1 else far[-1]
                slope = (row[other] - row[end]) / (other - end)
                baseline[sel] = row[end] + slope * (x[sel] - end)
        baselines[k] = baseline
    baselines += trend
    return np.minimum(baselines, smoothed) if smooth > 0 else baselines


def _lower_lines(x: np.ndarray, y: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Fit a straight line under most of each row of ``y``, refitting to the points below it.

    Least-squares lines in closed form, every row at once; a row stops being
    refitted once the points below its line no longer change.
    """
    use = np.ones(y.shape, bool)
    lines = np.broadcast_to(y.min(axis=1, keepdims=True), y.shape).astype(float)
    active = np.ones(y.shape[0], bool)
    for _ in range(iterations):
        counts = use.sum(axis=1)
        fit = active & (counts >= 2)
        if not fit.any():
            break
        weight = use[fit].astype(float)
        x_mean = (weight * x).sum(axis=1) / counts[fit]
        y_mean = (weight * y[fit]).sum(axis=1) / counts[fit]
        dx = (x[None, :] - x_mean[:, None]) * weight
        spread = (dx * dx).sum(axis=1)
        slope = np.divide(
            (dx * (y[fit] - y_mean[:, None])).sum(axis=1),
            spread,
            out=np.zeros_like(spread),
            where=spread > 0,
        )
        lines[fit] = y_mean[:, None] + slope[:, None] * (x[None, :] - x_mean[:, None])
        below = y <= lines
        changed = fit & (below.sum(axis=1) >= 2) & ~(below == use).all(axis=1)
        use[changed] = below[changed]
        active = changed
    return lines


def find_peaks(
    values: np.ndarray, *, distance: float = 1.0, min_prominence: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Find the peaks of a profile, as ``scipy.signal.find_peaks`` does, and their prominences.

    The same rules: a peak is higher than the sample before it and than the
    first different sample after it (a flat top counts once, at its middle);
    of peaks closer than ``distance``, the highest is kept; a peak's
    prominence is its height over the higher of the lowest points on each
    side before a higher sample. Written here so that the profiles of a blot
    need not load all of ``scipy.signal`` (half a second at every start).

    Parameters
    ----------
    values : ndarray, shape (n,)
        The profile.
    distance : float
        Smallest distance between two peaks, in samples.
    min_prominence : float
        Peaks less prominent than this are left out.

    Returns
    -------
    peaks : ndarray of int, shape (n_peaks,)
        Their positions, ascending.
    prominences : ndarray, shape (n_peaks,)
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    # runs of equal values; a peak is an inner run above both neighbouring runs
    change = np.flatnonzero(np.diff(x) != 0)
    starts = np.concatenate([[0], change + 1])
    ends = np.concatenate([change, [n - 1]])
    level = x[starts]
    inner = np.arange(1, len(starts) - 1)
    top = inner[(level[inner] > level[inner - 1]) & (level[inner] > level[inner + 1])]
    peaks = ((starts[top] + ends[top]) // 2).astype(np.intp)
    if distance > 1 and len(peaks) > 1:
        reach = int(np.ceil(distance))
        keep = np.ones(len(peaks), bool)
        for k in np.argsort(x[peaks], kind="stable")[::-1]:
            if keep[k]:
                near = np.abs(peaks - peaks[k]) < reach
                near[k] = False
                keep &= ~near
        peaks = peaks[keep]
    prominences = np.empty(len(peaks))
    for k, peak in enumerate(peaks):
        height = x[peak]
        higher = np.flatnonzero(x[:peak] > height)
        left = x[(higher[-1] + 1 if len(higher) else 0) : peak + 1].min()
        higher = np.flatnonzero(x[peak:] > height)
        right = x[peak : (peak + higher[0] if len(higher) else n)].min()
        prominences[k] = height - max(left, right)
    keep = prominences >= min_prominence
    return peaks[keep], prominences[keep]
