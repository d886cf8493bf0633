"""Finding lanes: where each lane runs, how wide it is, and how it tilts.

The number of lanes is known from the config, so lane finding is a fit of a
comb of that many teeth to the membrane's column profile, followed by a small
per-lane correction for uneven spacing. Empty and faint lanes are placed by
the comb; a tilted membrane is handled by searching the shear that makes the
lanes sharpest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from blotquant.comb import comb_fit
from blotquant.evidence import (
    DUST_COLUMNS,
    across_quantiles,
    band_residual,
    column_profile,
    rows_with_bands,
)
from blotquant.markers import add_ladder_lanes, ladder_columns, split_marker_rows
from blotquant.profiles import bands_touch, lower_baseline

#: Tilts searched, in degrees (membranes are rarely laid more than 2 deg off).
MAX_TILT_DEG = 3.0


@dataclass(frozen=True)
class LaneGeometry:
    """Lanes of one image or region.

    Attributes
    ----------
    centers : ndarray, shape (n_lanes,)
        Lane centre columns at ``ref_row`` (float, left to right).
    width : float
        Width of the measured box of every lane, in pixels.
    slope : float
        Lane drift in columns per row (tan of the membrane's tilt); a lane's
        centre at row ``y`` is ``centers + slope * (y - ref_row)``.
    ref_row : float
        Row (in the analysed array) at which ``centers`` are given.
    found : ndarray of bool, shape (n_lanes,)
        True where the lane's own signal placed it, False where the comb did.
    """

    centers: np.ndarray
    width: float
    slope: float
    ref_row: float
    found: np.ndarray
    #: Columns (at ``ref_row``) of the valleys between neighbouring lanes:
    #: ``bounds[i]`` lies between lane i and lane i + 1. A lane's box does not
    #: reach past them into its neighbour. None: no limit (lanes given by hand).
    bounds: np.ndarray | None = None

    @property
    def pitch(self) -> float:
        """Median spacing of neighbouring lanes, in pixels (the width for one lane)."""
        if len(self.centers) < 2:
            return self.width
        return float(np.median(np.diff(self.centers)))

    def drift_at(self, row: float | np.ndarray) -> float | np.ndarray:
        """Columns every lane has drifted by at ``row`` since ``ref_row``.

        Parameters
        ----------
        row : float or ndarray
            Row(s) of the analysed array.

        Returns
        -------
        float or ndarray
            ``slope * (row - ref_row)``, of ``row``'s shape.
        """
        return self.slope * (row - self.ref_row)

    def centers_at(self, row: float | np.ndarray) -> np.ndarray:
        """Lane centre columns at ``row``.

        Parameters
        ----------
        row : float or ndarray
            Row of the analysed array; an array of shape (n_rows, 1) gives
            every lane at every row.

        Returns
        -------
        ndarray, shape (n_lanes,) or (n_rows, n_lanes)
        """
        return self.centers + self.drift_at(row)


def fixed_lanes(
    centers: np.ndarray | list[float], width: float | None, ref_row: float
) -> LaneGeometry:
    """Lanes given by the user (``lane_centers`` / ``lane_width``).

    Parameters
    ----------
    centers : array_like, shape (n_lanes,)
        Lane centre columns, left to right.
    width : float or None
        Box width; None: 0.8 x the median spacing (20 px for one lane).
    ref_row : float
        Row at which the centres are given (lanes given by hand do not drift).

    Returns
    -------
    LaneGeometry
        Every lane ``found``, no tilt, no valley bounds.
    """
    centers = np.asarray(centers, dtype=float)
    if width is None:
        width = 0.8 * (float(np.median(np.diff(centers))) if len(centers) > 1 else 20.0)
    return LaneGeometry(centers, float(width), 0.0, ref_row, np.ones(len(centers), bool))


def _without_dust(profile: np.ndarray) -> np.ndarray:
    """Erase dust spikes from a column profile, then smooth it a little.

    A dust speck in a band row is a spike a few columns wide that would set
    its lane's height; a running median narrower than any lane erases it.
    """
    return ndimage.gaussian_filter1d(
        ndimage.median_filter(profile, size=DUST_COLUMNS, mode="nearest"), 1.0
    )


def _strong(strengths: np.ndarray) -> np.ndarray:
    """Lanes with signal of their own: at least 15 % of a typical strong lane."""
    n = len(strengths)
    level = float(np.median(np.sort(strengths)[-max(1, n // 2) :])) if n else 0.0
    return strengths >= 0.15 * level if level > 0 else np.zeros(n, bool)


def _measure_lanes(
    profile: np.ndarray, centers: np.ndarray, pitch: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lane's own centre, peak height and 10 %-width near the given centres."""
    n = len(centers)
    refined, strengths, widths = centers.copy(), np.zeros(n), np.zeros(n)
    edges: list[tuple[float | None, float | None]] = [(None, None)] * n
    half = pitch / 2.0
    for i, c in enumerate(centers):
        lo = int(max(0, np.floor(c - half)))
        hi = int(min(len(profile), np.ceil(c + half) + 1))
        if hi - lo < 3:
            continue
        # the peak must be a maximum of its own near the expected centre: a
        # faint lane's window also holds its bright neighbours' flanks, and a
        # maximum on the window's edge is such a flank, not this lane
        near = np.abs(np.arange(lo, hi) - c) <= 0.3 * pitch
        masked = np.where(near, profile[lo:hi], -np.inf)
        # the middle of the maximum's run: a flat-topped lane's first maximum
        # may sit on the window's edge
        top = masked.max()
        at_top = np.flatnonzero(masked >= top - 1e-9 * abs(top))
        j = int(at_top[len(at_top) // 2])
        if masked[j] <= 0:
            continue
        # on the window's edge: a flank if the profile keeps rising outside it
        segment = profile[lo:hi]
        for side in (-1, 1):
            k = j + side
            if 0 <= k < hi - lo and not near[k] and segment[k] > top + 0.02 * abs(top):
                break
        else:
            refined[i], _, widths[i] = _half_max_center(segment, lo, near.astype(float))
            # a lane's height is what its middle carries, not its highest
            # column: a dust speck is a narrow spike that can outshine a faint
            # lane (or stand in for an empty one)
            middle = np.abs(np.arange(lo, hi) - c) <= 0.2 * pitch
            # (a lane the comb put just off the image has no middle inside it)
            values = segment[middle] if middle.any() else segment[near]
            strengths[i] = max(float(np.partition(values, len(values) // 2)[len(values) // 2]), 0.0)
            edges[i] = _lane_edges(profile, c, pitch, 0.5 * strengths[i])
    # a lane that touches a neighbour has only one edge of its own; lanes of
    # one comb are about as wide as each other, so the centre is half a
    # typical lane's width in from that edge (a bump where two bands overlap
    # is no edge, and a run to the valley's bottom would take it as one)
    both = np.array([b - a for a, b in edges if a is not None and b is not None])
    typical = float(np.median(both)) if len(both) >= 3 else None
    if typical is not None and (
        np.mean(np.abs(both - typical) <= 0.1 * typical) < 0.75 or typical > 0.85 * pitch
    ):
        # lanes of unlike widths (half of one says nothing of another), or
        # lanes as wide as their spacing, whose edges are the neighbours' too
        typical = None
    for i, (left, right) in enumerate(edges):
        if left is not None and right is not None:
            refined[i] = 0.5 * (left + right)
        elif typical is not None and (left is not None or right is not None):
            refined[i] = left + 0.5 * typical if left is not None else right - 0.5 * typical
    return refined, strengths, widths


def _lane_edges(
    profile: np.ndarray, c: float, pitch: float, level: float
) -> tuple[float | None, float | None]:
    """Find a lane's outer edges, where it rises through ``level`` (None: no edge there).

    Each edge is found by walking from the valley on that side (the lowest
    point between this lane and its neighbour) towards the lane, so dips
    inside the lane (a dust speck, a bubble, a lane that splits) cannot end
    the lane early, and a brighter neighbour's flank beyond the valley cannot
    widen it. Where the profile never falls below ``level`` on a side (the
    lane touches its neighbour), that side has no edge.
    """
    n = len(profile)
    edges: list[float | None] = []
    run = max(2, int(round(pitch / 5)))
    # runs above the level, from prefix sums: count(j..k) = ends[k+1] - ends[j]
    ends = np.concatenate([[0], np.cumsum(profile >= level)])
    end = int(np.clip(round(c), 0, n - 1))
    for side in (-1, 1):
        near = int(round(c + side * 0.15 * pitch))
        far = int(round(c + side * 0.8 * pitch))
        lo, hi = sorted((near, far))
        lo, hi = max(0, lo), min(n, hi + 1)
        if hi - lo < 2:
            edges.append(None)
            continue
        valley = lo + int(np.argmin(profile[lo:hi]))
        # walk from the valley towards the centre; the edge leads into a run
        # above the level at least a fifth of a pitch long: a speck of dust in
        # the valley is a shorter spike
        path = np.arange(valley, end, -side)
        if side == -1:
            stop = np.minimum(path + run, n)
            ok = ends[stop] - ends[path] == stop - path
        else:
            start = np.maximum(path - run + 1, 0)
            ok = ends[path + 1] - ends[start] == path + 1 - start
        j = int(path[np.argmax(ok)]) if ok.any() else end
        if j == valley or profile[j] < level:
            edges.append(None)
            continue
        # sub-pixel crossing between j + side (below) and j (at or above)
        a, b = float(profile[j + side]), float(profile[j])
        edges.append(j + side * (b - level) / (b - a) if b != a else float(j))
    return edges[0], edges[1]


def _valleys(
    profile: np.ndarray, centers: np.ndarray, heights: np.ndarray, found: np.ndarray
) -> np.ndarray:
    """Find the middle of the gap between each pair of neighbouring lanes.

    The gap is sought in the middle half of the way between the two centres
    (a lane is never cut closer than a quarter pitch from its centre), where
    the profile is within a tenth of the lower lane's height of its lowest
    point: the middle of a flat empty gap, or the bottom of a narrow valley
    between touching lanes. Next to a lane without a band of its own (empty,
    or too faint to show), or where the profile has no valley there (bands
    that merge, whose lowest point is only the end of the search), the gap
    is the midpoint.
    """
    n = len(profile)
    out = 0.5 * (centers[:-1] + centers[1:])
    for i in range(len(out)):
        if not (found[i] and found[i + 1]):
            continue
        quarter = 0.25 * (centers[i + 1] - centers[i])
        lo = int(np.clip(np.ceil(centers[i] + quarter), 0, n - 1))
        hi = int(np.clip(np.floor(centers[i + 1] - quarter), lo, n - 1)) + 1
        between = profile[lo:hi]
        if between.size == 0:
            continue
        bottom = float(between.min())
        lower = max(min(float(heights[i]), float(heights[i + 1])), 0.0)
        low = np.flatnonzero(between <= bottom + 0.1 * max(lower - bottom, 0.0))
        if low[0] == 0 or low[-1] == between.size - 1:
            continue  # the profile still falls at the search's end: no valley inside
        out[i] = lo + 0.5 * (low[0] + low[-1])
    return out


def _half_max_center(
    segment: np.ndarray, offset: float, weight: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Centre (midpoint of the half-maximum crossings), peak and 10%-width.

    The run around the peak stops where the profile rises again (a valley
    before a neighbouring lane), so a bright neighbour cannot pull a faint
    lane's centre towards itself.
    """
    i_peak = int(np.argmax(segment if weight is None else segment * weight))
    peak = float(segment[i_peak])
    centre = offset + i_peak
    if peak <= 0:
        return centre, 0.0, 0.0
    slack = 0.05 * peak  # noise may wiggle a lane's plateau a little

    def steps(values: np.ndarray, previous: np.ndarray, level: float, monotone: bool) -> int:
        # how many steps away from the peak the run goes before it stops
        ok = values >= level
        if monotone:
            ok &= values <= previous + slack
        return int(np.argmin(ok)) if not ok.all() else len(ok)

    def run(level: float, monotone: bool) -> tuple[int, int]:
        left = i_peak - steps(
            segment[:i_peak][::-1], segment[1 : i_peak + 1][::-1], level, monotone
        )
        right = i_peak + steps(segment[i_peak + 1 :], segment[i_peak:-1], level, monotone)
        return left, right

    left, right = run(0.5 * peak, monotone=True)
    # the width is a median over lanes later, so a neighbour's flank does not matter
    left10, right10 = run(0.1 * peak, monotone=False)
    return offset + 0.5 * (left + right), peak, float(right10 - left10 + 1)


def _estimate_tilt(
    residual: np.ndarray,
    ref_row: float,
    max_pitch: float,
    quantiles: dict[float, np.ndarray] | None = None,
) -> float:
    """Lane drift (columns per row) that makes the lanes sharpest.

    Only rows that hold bands take part: blank rows carry no lane
    information, only noise. With bands in a single row the tilt cannot be
    seen from the lanes and stays zero (the band's own tilt is followed in
    :mod:`blotquant.bands`). A tilt must beat no tilt by 2 % to be taken.
    """
    height = residual.shape[0]
    if height < 8:
        return 0.0
    quantiles = quantiles if quantiles is not None else across_quantiles(residual)
    spread = quantiles[0.95] - quantiles[0.5]
    rows = np.flatnonzero(spread >= 0.25 * spread.max()) if spread.max() > 0 else []
    if len(rows) < 2 or rows[-1] - rows[0] < 20:
        return 0.0
    sub = residual[rows]

    def contrast(slope: float) -> float:
        shifts = np.rint(slope * (rows - ref_row)).astype(int)
        prof = np.zeros(residual.shape[1])
        for shift in np.unique(shifts):
            summed = sub[shifts == shift].sum(axis=0)
            prof += np.roll(summed, -shift)
        # lane contrast: variance of the profile above its running mean
        prof = prof - ndimage.uniform_filter1d(prof, max(3, int(max_pitch) | 1), mode="nearest")
        return float(np.var(ndimage.gaussian_filter1d(prof, 1.0)))

    angles = np.arange(-MAX_TILT_DEG, MAX_TILT_DEG + 1e-9, 0.25)
    scores = np.array([contrast(float(np.tan(np.radians(a)))) for a in angles])
    zero = scores[len(angles) // 2]
    best = int(np.argmax(scores))
    if scores[best] <= 1.02 * zero:
        return 0.0
    return float(np.tan(np.radians(angles[best])))


def _refine_comb(light: np.ndarray, centers: np.ndarray, pitch: float) -> tuple[float, np.ndarray]:
    """Refit the comb's pitch and offset to the lanes' own centres.

    The comb's pitch is only roughly right on wide, flat lanes: a straight
    line is fitted to the lanes' own centres (lane number -> column) a few
    times, dropping lanes that sit off the line (uneven loading, bubbles).
    """
    idx = np.arange(len(centers))
    for _ in range(4):
        refined, strengths, _ = _measure_lanes(light, centers, pitch)
        found = _strong(strengths)
        use = found.copy()
        if use.sum() < 2:
            break
        for _ in range(2 if use.sum() >= 3 else 0):
            coef = np.polyfit(idx[use], refined[use], 1)
            resid = np.abs(refined - np.polyval(coef, idx))
            keep = found & (resid <= max(0.15 * pitch, 2.0))
            if keep.sum() < 3 or np.array_equal(keep, use):
                break
            use = keep
        if use.sum() == 2:  # two lanes of their own fix pitch and offset exactly
            coef = np.polyfit(idx[use], refined[use], 1)
        new_pitch = float(coef[0])
        if not 0.8 * pitch <= new_pitch <= 1.2 * pitch:
            break
        new_centers = np.polyval(coef, idx)
        moved = float(np.max(np.abs(new_centers - centers)))
        pitch, centers = new_pitch, new_centers
        if moved < 0.25:
            break
    return pitch, centers


def _correct_spacing(
    light: np.ndarray, centers: np.ndarray, pitch: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Move each lane with signal to its own centre (uneven spacing).

    Returns the centres, and each lane's strength, 10 %-width and whether it
    has signal of its own.
    """
    idx = np.arange(len(centers))
    refined, strengths, widths = _measure_lanes(light, centers, pitch)
    found = _strong(strengths)
    shift = np.clip(refined - centers, -pitch / 3.0, pitch / 3.0)
    centers = np.where(found, centers + shift, centers)
    if found.sum() >= 2 and (~found).any():
        # lanes placed by the comb follow the drift of their found neighbours
        centers[~found] += np.interp(idx[~found], idx[found], shift[found])
    return centers, strengths, widths, found


def _lane_width_from(widths: np.ndarray, found: np.ndarray, pitch: float) -> float:
    """Box width from the lanes' measured widths: generous, within 0.4 to 0.95 pitch."""
    measured = np.median(widths[found]) if found.any() else 0.75 * pitch
    # generous: a box clipping the band's soft edges loses volume, while extra
    # membrane inside the box is removed exactly by the baseline
    return float(np.clip(measured + 10.0, 0.4 * pitch, 0.95 * pitch))


def find_lanes(
    signal: np.ndarray,
    n_lanes: int,
    *,
    lane_width: float | None = None,
    rows: tuple[int, int] | None = None,
    min_pitch: float = 12.0,
    residual: np.ndarray | None = None,
    quantiles: dict[float, np.ndarray] | None = None,
    ladder_ends: tuple[int, int] = (0, 0),
) -> LaneGeometry:
    """Find ``n_lanes`` lanes in a signal image (bands bright).

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image, bands bright (see :func:`blotquant.polarity.to_signal`).
    n_lanes : int
        Number of lanes physically on the membrane, ladder and empty included.
    lane_width : float, optional
        Box width to use; by default measured from the lanes' own width.
    rows : (int, int), optional
        Rows to use for finding lanes (e.g. the band search window).
    min_pitch : float
        Smallest lane spacing considered, in pixels.
    residual : ndarray, shape (n_window_rows, n_columns), optional
        :func:`band_residual` of those rows, when the caller has it already.
    quantiles : dict, optional
        :func:`blotquant.evidence.across_quantiles` of that residual, likewise.
    ladder_ends : (int, int)
        How many of the lanes are ladder (marker) lanes at the left and at the
        right end. A ladder is often a few marks off the sample pitch: the
        sample lanes are fitted without them, and each ladder lane is placed
        at its own marks beyond them.

    Returns
    -------
    LaneGeometry
    """
    if n_lanes < 1:
        raise ValueError("n_lanes must be at least 1")
    height, width = signal.shape
    top, bottom = rows if rows is not None else (0, height)
    window = signal[top:bottom]
    residual = band_residual(window) if residual is None else residual
    ref_row = (top + bottom - 1) / 2.0
    local_ref = ref_row - top

    max_pitch = min(width / max(n_lanes - 0.5, 0.5), width)
    min_pitch = min(min_pitch, 0.8 * max_pitch)

    quantiles = across_quantiles(residual) if quantiles is None else quantiles
    best_slope = _estimate_tilt(residual, local_ref, max_pitch, quantiles) if n_lanes > 1 else 0.0
    # only rows that hold bands: averaging noise-only rows would bury faint
    # lanes under the positive part of the noise
    band_rows_mask = rows_with_bands(residual, quantiles)
    left, right = ladder_ends
    n_samples = n_lanes - left - right
    sample_rows = band_rows_mask
    marker_rows = None
    if (left or right) and n_samples >= 2:
        sample_rows, marker_rows = split_marker_rows(residual, band_rows_mask, max_pitch)
    if marker_rows is None:
        # no rows of ladder marks apart from the sample bands: the ladder is a
        # lane at the sample pitch, found with them
        left = right = 0
        n_samples = n_lanes
        sample_rows = band_rows_mask
    profile = column_profile(residual, best_slope, local_ref, rows=sample_rows)
    profile = np.clip(profile - lower_baseline(profile, max_pitch), 0, None)
    if marker_rows is not None:
        marks = column_profile(residual, best_slope, local_ref, rows=marker_rows)
        # the ladder's own column may hold signal in the sample rows too
        profile[ladder_columns(marks, 0.8 * max_pitch, left=left, right=right)] = 0.0
    smooth = ndimage.gaussian_filter1d(profile, max(1.0, min_pitch / 6.0))

    if n_samples == 1:
        pitch, start = max_pitch, float(np.argmax(smooth))
    else:
        pitch, start = comb_fit(smooth, n_samples, min_pitch, max_pitch)
    centers = start + pitch * np.arange(n_samples)

    light = _without_dust(profile)
    pitch, centers = _refine_comb(light, centers, pitch)
    centers, strengths, widths, found = _correct_spacing(light, centers, pitch)
    if lane_width is None:
        lane_width = _lane_width_from(widths, found, pitch)
    bounds = _valleys(light, centers, strengths, found)
    if marker_rows is not None:
        centers, found, bounds = add_ladder_lanes(
            marks, centers, found, bounds, pitch, left=left, right=right
        )
    return LaneGeometry(
        bounds=bounds,
        centers=centers,
        width=float(lane_width),
        slope=best_slope,
        ref_row=ref_row,
        found=found,
    )


def _apart(profile: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Whether each pair of neighbouring lanes is parted by a valley (see ``bands_touch``).

    The valley is the profile's lowest point in the middle half between the
    centres; heights are taken above the profile's lowest point, so that a
    dip in a plateau of merged bands does not part them. Shape (n_lanes - 1,).
    """
    n = len(profile)
    floor = float(profile.min())
    at = np.interp(centers, np.arange(n), profile) - floor
    apart = np.zeros(max(len(centers) - 1, 0), bool)
    for i, (a, b) in enumerate(zip(centers[:-1], centers[1:], strict=True)):
        lo = int(np.clip(np.ceil(a + 0.25 * (b - a)), 0, n - 1))
        hi = int(np.clip(np.floor(b - 0.25 * (b - a)), lo, n - 1))
        valley = float(profile[lo : hi + 1].min()) - floor
        apart[i] = not bands_touch(valley, at[i], at[i + 1])
    return apart


def follow_lanes(
    residual: np.ndarray,
    lanes: LaneGeometry,
    *,
    reach: float = 0.25,
    rows: np.ndarray | None = None,
) -> LaneGeometry:
    """Let lanes shared by several strips settle on one strip's own bands.

    Strips cut from one membrane share its lanes, but lanes splay and strips
    shift a little when cut and laid on the imager. Each lane moves to the
    centre of its own band in this strip, by at most ``reach`` of a pitch,
    where the band stands apart from both neighbours (a valley below half
    its height on each side); in a strip whose bands merge, lanes stay put.

    Parameters
    ----------
    residual : ndarray, shape (n_rows, n_columns)
        :func:`blotquant.evidence.band_residual` of the strip.
    lanes : LaneGeometry
        The shared lanes, in the strip's rows.
    reach : float
        The largest move, as a share of the pitch.
    rows : ndarray of bool, shape (n_rows,), optional
        :func:`blotquant.evidence.rows_with_bands` of the residual, when known.

    Returns
    -------
    LaneGeometry
        The same lanes, each centre moved where its own band says.
    """
    pitch = lanes.pitch
    if len(lanes.centers) < 2 or pitch <= 0:
        return lanes
    rows = rows_with_bands(residual) if rows is None else rows
    raw = column_profile(residual, lanes.slope, lanes.ref_row, rows=rows)
    profile = np.clip(raw - lower_baseline(raw, pitch), 0, None)
    refined, strengths, _ = _measure_lanes(_without_dust(profile), lanes.centers, pitch)
    # apart is judged before the lower baseline: on bands that merge into one
    # plateau the baseline climbs onto the plateau and carves false valleys
    apart = _apart(_without_dust(raw), lanes.centers)
    alone = np.concatenate([[True], apart]) & np.concatenate([apart, [True]])
    move = _strong(strengths) & alone
    shift = np.clip(refined - lanes.centers, -reach * pitch, reach * pitch)
    return replace(lanes, centers=np.where(move, lanes.centers + shift, lanes.centers))
