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
    size = max(3, int(window) | 1)
    minima = ndimage.minimum_filter1d(smoothed, size, mode="nearest")
    anchors = np.flatnonzero(smoothed <= minima)
    x = np.arange(n, dtype=float)
    baseline = np.interp(x, anchors, smoothed[anchors])
    # beyond the outermost gaps the background keeps its slope (a ramp does
    # not stop at the last lane); the slope is taken over about one window
    for end, inner, sel in ((anchors[0], 1, x < anchors[0]), (anchors[-1], -1, x > anchors[-1])):
        far = anchors[np.abs(anchors - end) >= size / 2]
        if sel.any() and far.size:
            other = far[0] if inner == 1 else far[-1]
            slope = (smoothed[other] - smoothed[end]) / (other - end)
            baseline[sel] = smoothed[end] + slope * (x[sel] - end)
    return np.minimum(baseline, smoothed) if smooth > 0 else baseline
