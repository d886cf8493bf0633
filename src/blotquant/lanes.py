"""Finding lanes: where each lane runs, how wide it is, and how it tilts.

The number of lanes is known from the config, so lane finding is a fit of a
comb of that many teeth to the membrane's column profile, followed by a small
per-lane correction for uneven spacing. Empty and faint lanes are placed by
the comb; a tilted membrane is handled by searching the shear that makes the
lanes sharpest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from blotquant.profiles import lower_baseline

#: Tilts searched, in degrees (membranes are rarely laid more than 2 deg off).
MAX_TILT_DEG = 3.0


@dataclass(frozen=True)
class LaneGeometry:
    """Lanes of one image or region.

    Attributes
    ----------
    centers : ndarray
        Lane centre columns at ``ref_row`` (float, left to right).
    width : float
        Width of the measured box of every lane, in pixels.
    slope : float
        Lane drift in columns per row (tan of the membrane's tilt); a lane's
        centre at row ``y`` is ``centers + slope * (y - ref_row)``.
    ref_row : float
        Row (in the analysed array) at which ``centers`` are given.
    found : ndarray of bool
        True where the lane's own signal placed it, False where the comb did.
    """

    centers: np.ndarray
    width: float
    slope: float
    ref_row: float
    found: np.ndarray

    @property
    def pitch(self) -> float:
        if len(self.centers) < 2:
            return self.width
        return float(np.median(np.diff(self.centers)))

    def centers_at(self, row: float) -> np.ndarray:
        return self.centers + self.slope * (row - self.ref_row)


def fixed_lanes(
    centers: np.ndarray | list[float], width: float | None, ref_row: float
) -> LaneGeometry:
    """Lanes given by the user (``lane_centers`` / ``lane_width``)."""
    centers = np.asarray(centers, dtype=float)
    if width is None:
        width = 0.8 * (float(np.median(np.diff(centers))) if len(centers) > 1 else 20.0)
    return LaneGeometry(centers, float(width), 0.0, ref_row, np.ones(len(centers), bool))


def band_residual(signal: np.ndarray) -> np.ndarray:
    """Signal above each row's membrane level.

    A low percentile of each row stands in for the membrane under that row.
    Negative values are kept: clipping them would bend a background ramp
    into a kink that no straight baseline can follow.
    """
    step = max(1, signal.shape[1] // 400)
    base = np.percentile(signal[:, ::step], 20, axis=1)
    return signal - base[:, None]


def column_profile(residual: np.ndarray, slope: float, ref_row: float) -> np.ndarray:
    """Mean residual per column after undoing a lane drift of ``slope`` px/row."""
    if slope == 0.0:
        return residual.mean(axis=0)
    height, width = residual.shape
    shifts = np.rint(slope * (np.arange(height) - ref_row)).astype(int)
    profile = np.zeros(width)
    counts = np.zeros(width)
    for shift in np.unique(shifts):
        rows = residual[shifts == shift]
        summed = rows.sum(axis=0)
        # column x of a row drifted by `shift` belongs to lane position x - shift
        lo, hi = max(0, shift), min(width, width + shift)
        profile[lo - shift : hi - shift] += summed[lo:hi]
        counts[lo - shift : hi - shift] += len(rows)
    return profile / np.maximum(counts, 1)


def _comb_fit(profile: np.ndarray, n_lanes: int, min_pitch: float, max_pitch: float):
    """Best pitch and first-lane offset of an evenly spaced comb of lanes."""
    width = len(profile)
    x = np.arange(width, dtype=float)
    best = (-np.inf, min_pitch, 0.0)
    teeth = np.arange(n_lanes)
    # lanes count by presence, not brightness: a dilution series spans 100x
    # and a ladder can outshine every sample, so each lane is scored against
    # its neighbourhood's brightest lane; a floor keeps blank membrane at zero
    raw_noise = float(1.4826 * np.median(np.abs(np.diff(profile))) / np.sqrt(2))
    floor = max(0.02 * float(np.max(profile)), 4.0 * raw_noise, 1e-12)
    local = ndimage.maximum_filter1d(profile, max(3, int(max_pitch)), mode="nearest")
    profile = np.clip(profile, 0, None) / np.maximum(local, floor)
    lane_scale = 1.0

    smoothed: dict[int, np.ndarray] = {}

    def at_scale(pitch: float) -> np.ndarray:
        # smoothing at a fifth of the pitch turns each lane's plateau into a
        # peak, so teeth are rewarded for hitting lane centres, not just lanes
        sigma = max(1, int(round(pitch / 5)))
        if sigma not in smoothed:
            smoothed[sigma] = ndimage.gaussian_filter1d(profile, sigma, mode="constant")
        return smoothed[sigma]

    def score_for(pitches: np.ndarray, step: float) -> tuple[float, float, float]:
        nonlocal best
        for pitch in pitches:
            prof = at_scale(pitch)
            span = pitch * (n_lanes - 1)
            # lanes must sit inside the image (half a pitch of slack at the edges)
            starts = np.arange(-0.25 * pitch, width - 1 - span + 0.25 * pitch + 1e-9, step)
            if len(starts) == 0:
                continue
            pos = starts[:, None] + pitch * teeth[None, :]
            score = np.interp(pos, x, prof, left=0.0, right=0.0).sum(axis=1)
            # lanes are separated by gaps: penalise combs whose teeth sit on a
            # plateau rather than on separate lanes
            gaps = np.interp(pos[:, :-1] + pitch / 2, x, prof, left=0.0, right=0.0)
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

    coarse = np.arange(min_pitch, max_pitch + 1e-9, 1.0)
    score_for(coarse, 1.0)
    fine = np.arange(max(min_pitch, best[1] - 1.0), min(max_pitch, best[1] + 1.0) + 1e-9, 0.1)
    score_for(fine, 0.25)
    return best[1], best[2]


def _half_max_center(segment: np.ndarray, offset: float) -> tuple[float, float, float]:
    """Centre (midpoint of the half-maximum crossings), peak and 10%-width."""
    peak = float(segment.max())
    i_peak = int(np.argmax(segment))
    centre = offset + i_peak
    if peak <= 0:
        return centre, 0.0, 0.0
    above = segment >= 0.5 * peak
    # contiguous run around the peak
    left = i_peak
    while left > 0 and above[left - 1]:
        left -= 1
    right = i_peak
    while right < len(segment) - 1 and above[right + 1]:
        right += 1
    centre = offset + 0.5 * (left + right)
    wide = segment >= 0.1 * peak
    left10, right10 = i_peak, i_peak
    while left10 > 0 and wide[left10 - 1]:
        left10 -= 1
    while right10 < len(segment) - 1 and wide[right10 + 1]:
        right10 += 1
    return centre, peak, float(right10 - left10 + 1)


def find_lanes(
    signal: np.ndarray,
    n_lanes: int,
    *,
    lane_width: float | None = None,
    rows: tuple[int, int] | None = None,
    min_pitch: float = 12.0,
) -> LaneGeometry:
    """Find ``n_lanes`` lanes in a signal image (bands bright).

    Parameters
    ----------
    signal : ndarray
        2-D float image, bands bright (see :func:`blotquant.polarity.to_signal`).
    n_lanes : int
        Number of lanes physically on the membrane, ladder and empty included.
    lane_width : float, optional
        Box width to use; by default measured from the lanes' own width.
    rows : (int, int), optional
        Rows to use for finding lanes (e.g. the band search window).
    min_pitch : float
        Smallest lane spacing considered, in pixels.

    Returns
    -------
    LaneGeometry
    """
    if n_lanes < 1:
        raise ValueError("n_lanes must be at least 1")
    height, width = signal.shape
    top, bottom = rows if rows is not None else (0, height)
    window = signal[top:bottom]
    residual = band_residual(window)
    ref_row = (top + bottom - 1) / 2.0
    local_ref = ref_row - top

    max_pitch = min(width / max(n_lanes - 0.5, 0.5), width)
    min_pitch = min(min_pitch, 0.8 * max_pitch)

    # tilt: the shear that makes the column profile most contrasted
    best_slope, best_contrast = 0.0, -np.inf
    if window.shape[0] > 8 and n_lanes > 1:
        sub = residual[::2] if window.shape[0] > 400 else residual
        row_scale = 2 if window.shape[0] > 400 else 1
        for angle in np.arange(-MAX_TILT_DEG, MAX_TILT_DEG + 1e-9, 0.25):
            slope = float(np.tan(np.radians(angle)))
            prof = column_profile(sub, slope * row_scale, local_ref / row_scale)
            smooth = ndimage.gaussian_filter1d(prof, 1.0)
            contrast = float(np.var(smooth - ndimage.uniform_filter1d(smooth, 65)))
            # prefer no tilt unless a tilt is clearly sharper
            if contrast > best_contrast * (1.0 + 1e-3 * abs(angle)) or angle == 0.0 and (
                contrast >= 0.999 * best_contrast
            ):
                best_slope, best_contrast = slope, contrast
    profile = column_profile(residual, best_slope, local_ref)
    profile = np.clip(profile - lower_baseline(profile, max_pitch), 0, None)
    smooth = ndimage.gaussian_filter1d(profile, max(1.0, min_pitch / 6.0))

    if n_lanes == 1:
        pitch, start = max_pitch, float(np.argmax(smooth))
    else:
        pitch, start = _comb_fit(smooth, n_lanes, min_pitch, max_pitch)
    centers = start + pitch * np.arange(n_lanes)

    # per-lane correction for uneven spacing, only where the lane has signal
    strengths = np.zeros(n_lanes)
    widths = np.zeros(n_lanes)
    refined = centers.copy()
    half = pitch / 2.0
    light = ndimage.gaussian_filter1d(profile, 1.0)
    for i, c in enumerate(centers):
        lo, hi = int(max(0, np.floor(c - half))), int(min(width, np.ceil(c + half) + 1))
        if hi - lo < 3:
            continue
        centre, peak, wid = _half_max_center(light[lo:hi], lo)
        strengths[i], widths[i] = peak, wid
        refined[i] = centre
    strong_level = np.median(np.sort(strengths)[-max(1, n_lanes // 2) :]) if n_lanes else 0.0
    found = strengths >= 0.15 * strong_level if strong_level > 0 else np.zeros(n_lanes, bool)
    shift = np.clip(refined - centers, -pitch / 3.0, pitch / 3.0)
    centers = np.where(found, centers + shift, centers)
    if found.sum() >= 2 and (~found).any():
        # lanes placed by the comb follow the drift of their found neighbours
        idx = np.arange(n_lanes)
        centers[~found] += np.interp(idx[~found], idx[found], shift[found])

    if lane_width is None:
        measured = np.median(widths[found]) if found.any() else 0.75 * pitch
        # generous: a box clipping the band's soft edges loses volume, while extra
        # membrane inside the box is removed exactly by the baseline
        lane_width = float(np.clip(measured + 10.0, 0.4 * pitch, 0.95 * pitch))
    return LaneGeometry(
        centers=centers,
        width=float(lane_width),
        slope=best_slope,
        ref_row=ref_row,
        found=found,
    )
