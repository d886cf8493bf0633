"""One-dimensional profile helpers shared by lane and band finding."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def lower_baseline(profile: np.ndarray, window: float, smooth: float = 2.0) -> np.ndarray:
    """Baseline under the peaks of a profile.

    The baseline joins, by straight lines, the points that are the lowest of
    their ``window`` (the gaps between lanes, or the membrane between bands).
    A linear background gradient is therefore removed exactly, whereas a flat
    morphological opening would sit on the next gap uphill and skew the peaks.

    Parameters
    ----------
    profile : ndarray
        1-D profile.
    window : float
        At least the spacing of the peaks (lane pitch), so that every window
        holds a gap.
    smooth : float
        Gaussian smoothing (sigma, samples) applied before finding the minima,
        so that noise does not pull the baseline down.
    """
    n = len(profile)
    if n < 3:
        return np.full(n, float(np.min(profile)) if n else 0.0)
    smoothed = profile.astype(float)
    if smooth > 0:
        smoothed = ndimage.gaussian_filter1d(smoothed, smooth, mode="nearest")
    x = np.arange(n, dtype=float)
    # a steep ramp hides the gaps from windowed minima (each window's minimum
    # is its downhill end), so take off the lower linear trend first
    trend = _lower_line(x, smoothed)
    flat = smoothed - trend
    size = max(3, int(window) | 1)
    minima = ndimage.minimum_filter1d(flat, size, mode="nearest")
    anchors = np.flatnonzero(flat <= minima)
    baseline = np.interp(x, anchors, flat[anchors])
    # beyond the outermost gaps the background keeps its slope (a ramp does
    # not stop at the last lane); the slope is taken over about one window
    for end, inner, sel in ((anchors[0], 1, x < anchors[0]), (anchors[-1], -1, x > anchors[-1])):
        far = anchors[np.abs(anchors - end) >= size / 2]
        if sel.any() and far.size:
            other = far[0] if inner == 1 else far[-1]
            slope = (flat[other] - flat[end]) / (other - end)
            baseline[sel] = flat[end] + slope * (x[sel] - end)
    baseline = baseline + trend
    return np.minimum(baseline, smoothed) if smooth > 0 else baseline


def _lower_line(x: np.ndarray, y: np.ndarray, iterations: int = 6) -> np.ndarray:
    """A straight line under most of ``y``: refit to the points below it."""
    use = np.ones(len(y), bool)
    line = np.full(len(y), float(np.min(y)))
    for _ in range(iterations):
        if use.sum() < 2:
            break
        # least-squares line, in closed form (polyfit's general solver is slow
        # for this, and it runs for every lane profile)
        xu, yu = x[use], y[use]
        x_mean, y_mean = xu.mean(), yu.mean()
        spread = float(((xu - x_mean) ** 2).sum())
        slope = float(((xu - x_mean) * (yu - y_mean)).sum()) / spread if spread > 0 else 0.0
        line = y_mean + slope * (x - x_mean)
        below = y <= line
        if below.sum() < 2 or np.array_equal(below, use):
            break
        use = below
    return line
