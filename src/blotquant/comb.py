"""An evenly spaced comb of lanes fitted to a membrane's column profile.

The first guess of where lanes are: the spacing from the profile's
autocorrelation (:func:`lane_pitch`), then the comb's pitch and offset that put
its teeth on lanes and not between them (:func:`comb_fit`). Lane finding
(:mod:`blotquant.lanes`) refines each lane from there.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _sample(profile: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``profile`` linearly interpolated at ``positions`` (columns), 0 outside.

    The same as ``np.interp`` on the columns 0..n-1, without its search.
    """
    n = len(profile)
    index = np.clip(np.floor(positions).astype(np.intp), 0, max(n - 2, 0))
    frac = positions - index
    values = profile[index] * (1.0 - frac) + profile[np.minimum(index + 1, n - 1)] * frac
    return np.where((positions >= 0) & (positions <= n - 1), values, 0.0)


def comb_fit(profile: np.ndarray, n_lanes: int, min_pitch: float, max_pitch: float):
    """Best pitch and first-lane offset of an evenly spaced comb of lanes."""
    width = len(profile)
    best = (-np.inf, min_pitch, 0.0)
    teeth = np.arange(n_lanes)
    # lanes count by presence, not brightness: a dilution series spans 100x
    # and a ladder or a saturated lane can outshine every sample, so the
    # profile is softly saturated at about a typical lane's height
    positive = profile[profile > 0]
    typical = float(np.percentile(positive, 75)) if positive.size else 0.0
    knee = max(0.5 * typical, 1e-12)
    profile = np.clip(profile, 0, None)
    profile = profile / (profile + knee)
    lane_scale = 1.0
    smoothed: dict[int, np.ndarray] = {}

    def at_scale(pitch: float) -> np.ndarray:
        # smoothing at a fifth of the pitch turns each lane's plateau into a
        # peak, so teeth are rewarded for hitting lane centres, not just lanes
        sigma = max(1, int(round(pitch / 5)))
        if sigma not in smoothed:
            smoothed[sigma] = ndimage.gaussian_filter1d(profile, sigma, mode="constant")
        return smoothed[sigma]

    def score_for(
        pitches: np.ndarray, step: float, near: float | None = None, reach: float = 2.0
    ) -> tuple[float, float, float]:
        nonlocal best
        for pitch in pitches:
            prof = at_scale(pitch)
            span = pitch * (n_lanes - 1)
            # lanes must sit inside the image (a quarter pitch of slack at the edges)
            first, last = -0.25 * pitch, width - 1 - span + 0.25 * pitch
            if near is not None:
                first, last = max(first, near - reach), min(last, near + reach)
            starts = np.arange(first, last + 1e-9, step)
            if len(starts) == 0:
                continue
            pos = starts[:, None] + pitch * teeth[None, :]
            score = _sample(prof, pos).sum(axis=1)
            # lanes are separated by gaps: penalise combs whose teeth sit on a
            # plateau rather than on separate lanes
            gaps = _sample(prof, pos[:, :-1] + pitch / 2)
            score -= 0.5 * gaps.sum(axis=1)
            # an empty end lane makes two combs fit equally: prefer the one
            # centred in the image (crops leave similar margins), at a cost of
            # 5 % of one lane's score per pitch off centre
            off_centre = np.abs(starts + span / 2 - (width - 1) / 2) / pitch
            score -= 0.05 * lane_scale * off_centre
            i = int(np.argmax(score))
            if score[i] > best[0]:
                best = (float(score[i]), float(pitch), float(starts[i]))
        return best

    # the spacing is read from the autocorrelation (a lane pattern repeats at
    # the pitch, not at half of it, even when lanes have dips inside); the
    # comb then fits the pitch near it and, above all, the offset
    guess = lane_pitch(profile, min_pitch, max_pitch)
    lo, hi = (
        (min_pitch, max_pitch)
        if guess is None
        else (max(min_pitch, 0.85 * guess), min(max_pitch, 1.15 * guess))
    )
    coarse = np.arange(lo, hi + 1e-9, 1.0 if hi - lo > 2 else 0.25)
    # offsets in steps of a 25th of a pitch (the profile is smoothed at a
    # fifth), then refined around the best at a quarter pixel
    step = max(1.0, float(np.round(lo / 25.0)))
    score_for(coarse, step)
    fine = np.arange(max(min_pitch, best[1] - 1.0), min(max_pitch, best[1] + 1.0) + 1e-9, 0.1)
    score_for(fine, 0.25, near=best[2], reach=max(2.0, step))
    return best[1], best[2]


def lane_pitch(
    profile: np.ndarray, min_pitch: float, max_pitch: float, share: float = 0.6
) -> float | None:
    """Lane spacing from the autocorrelation of a lane-presence profile.

    The profile is not centred: with empty lanes, centring would push the
    pitch peak below zero. Lags k x pitch all peak when lanes are missing, so
    the smallest lag whose peak is close to the strongest is the pitch.

    Parameters
    ----------
    profile : ndarray, shape (n_columns,)
        Lane presence across the membrane (at least 0).
    min_pitch, max_pitch : float
        Spacings considered, in pixels.
    share : float
        A peak within this share of the strongest rise counts as the pitch.

    Returns
    -------
    float or None
        The pitch (sub-pixel), or None when no lag repeats.
    """
    n = len(profile)
    if n < 4 or not np.any(profile):
        return None
    spectrum = np.fft.rfft(profile, 2 * n)
    corr = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    corr /= corr[0]
    lo, hi = max(1, int(np.floor(min_pitch))), int(min(np.ceil(max_pitch), n - 2))
    peaks = [
        lag
        for lag in range(lo, hi + 1)
        if corr[lag] >= corr[lag - 1] and corr[lag] > corr[lag + 1] and corr[lag] > 0.05
    ]
    if not peaks:
        return None
    # a peak counts by its rise above the trough before it: when lanes fill
    # most of the width the correlation sits on a high pedestal, and wiggles
    # inside lanes make small peaks on it
    rise = {k: corr[k] - corr[1 : k + 1].min() for k in peaks}
    strongest = max(rise.values())
    if strongest <= 0:
        return None
    lag = min(k for k in peaks if rise[k] >= share * strongest)
    # parabolic interpolation for a sub-pixel pitch
    a, b, c = corr[lag - 1], corr[lag], corr[lag + 1]
    denom = a - 2 * b + c
    return float(lag + (0.5 * (a - c) / denom if denom < 0 else 0.0))
