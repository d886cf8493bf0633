"""Finding the band in each lane and the box it is measured in.

The band is the strongest peak that lines up across the sample lanes (or the
strongest inside ``band_rows``). Its row is followed from lane to lane with a
smooth curve, so smiling gels and tilted membranes are measured along the
band, not across it. Every lane of the same image gets a box of the same
height, so the fraction of each band's tails inside the box is the same in
every lane and cancels in fold changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from blotquant.lanes import LaneGeometry
from blotquant.profiles import lower_baselines, robust_sigma

#: Box half-height in units of the band's full width at half maximum.
#: 1.5 FWHM is 3.5 sigma of a Gaussian band: 99.95 % of its volume inside.
BOX_HALF_HEIGHT_FWHM = 1.5
#: How far (rows) a lane's band may sit from the curve through its neighbours.
MAX_OFF_CURVE = 6.0
#: A second band this close (in FWHMs of one band), at least this share of
#: the first's height, with a dip between them, makes a doublet.
DOUBLET_MAX_APART = 3.0
DOUBLET_MIN_SHARE = 0.4
#: Most rows above and below a whole-lane box (a stain) used for background, by default.
LANE_BOX_MARGIN = 20
#: The dip between the two bands of a doublet: at most this share of the lower peak.
DOUBLET_DIP = 0.8


@dataclass(frozen=True)
class BandBox:
    """Where one lane's band is measured.

    The box follows the band: in column ``x`` it spans rows
    ``centre(x) - half_top`` to ``centre(x) + half_bottom`` where
    ``centre(x) = center_row + slope * (x - lane_x)``.
    """

    lane: int  # 1-based lane number
    lane_x: float
    x_left: int  # first column
    x_right: int  # one past the last column
    center_row: float
    slope: float
    half_top: float
    half_bottom: float
    detected: bool
    #: Rows of membrane above and below the box used for background.
    margin: int = 3
    #: The band runs into a neighbour's with no valley between them; the box
    #: edge between them is placed by :func:`blotquant.touching.balance_touching`.
    touching: bool = False
    #: The lane's band shows as two (a doublet) where the box is.
    doublet: bool = False
    #: Box rows [start, stop) that are counted, when the box holds a doublet
    #: and only one band of it is asked for (``band: upper`` or ``lower``);
    #: None: the whole box.
    part: tuple[int, int] | None = None
    #: Row of the counted band at the lane centre, when only ``part`` is counted.
    part_row: float | None = None

    @property
    def band_row(self) -> float:
        """Row of the measured band at the lane centre (one band of a doublet: its own)."""
        return self.center_row if self.part_row is None else self.part_row

    @property
    def band_top(self) -> int:
        """First row of the box at the lane centre."""
        return int(np.floor(self.center_row - self.half_top + 0.5))

    @property
    def height(self) -> int:
        """Rows in the box, the same in every column (and every lane of an image)."""
        return int(round(self.half_top + self.half_bottom)) + 1

    @property
    def band_bottom(self) -> int:
        """Last row of the box at the lane centre (inclusive)."""
        return self.band_top + self.height - 1

    def column_tops(self) -> tuple[np.ndarray, np.ndarray]:
        """Column indices of the box and the first box row in each column.

        Returns
        -------
        cols : ndarray of int, shape (x_right - x_left,)
        tops : ndarray of int, shape (x_right - x_left,)
        """
        cols = np.arange(self.x_left, self.x_right)
        centre = self.center_row + self.slope * (cols - self.lane_x)
        tops = np.floor(centre - self.half_top + 0.5).astype(int)
        return cols, tops


def band_patch(
    image: np.ndarray, box: BandBox, margin: int, row_offset: int = 0
) -> tuple[np.ndarray, bool]:
    """Straighten the band box along the band, with ``margin`` rows each side.

    Parameters
    ----------
    image : ndarray, shape (n_rows, n_columns)
        The signal (or a background image, or a saturation mask).
    box : BandBox
        The box to cut.
    margin : int
        Rows of membrane kept above and below the box.
    row_offset : int
        The row of the full image that ``image[0]`` holds, for arrays that
        keep only some rows (a background computed where needed).

    Returns
    -------
    patch : ndarray, shape (x_right - x_left, margin + box.height + margin)
        One row per box column, of ``image``'s dtype.
    clipped : bool
        True if the box or its margins ran past the image's edge (edge rows
        are repeated there).
    """
    cols, tops = box.column_tops()
    offsets = np.arange(-margin, box.height + margin)
    rows = tops[:, None] + offsets[None, :] - row_offset
    height, width = image.shape[:2]
    clipped = bool(rows.min() < 0 or rows.max() >= height or box.x_left <= 0)
    clipped = clipped or box.x_right >= width
    rows = np.clip(rows, 0, height - 1)
    return image[rows, cols[:, None]], clipped


def column_volumes(signal: np.ndarray, box: BandBox, x_from: int, x_to: int) -> np.ndarray:
    """Net band signal of each column, along the band's rows in the box.

    The background of each column is a straight line between the mean of the
    box's margin rows above and below it (as ``profile-baseline`` does for
    the whole box).

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image, bands bright.
    box : BandBox
        Gives the band's rows (its slope and height) and margins.
    x_from, x_to : int
        Columns [x_from, x_to) to measure; they may reach beyond the box.

    Returns
    -------
    ndarray, shape (x_to - x_from,)
    """
    if x_to <= x_from:
        return np.zeros(0)
    wide = replace(box, x_left=int(x_from), x_right=int(x_to))
    margin = box.margin
    patch, _ = band_patch(signal, wide, margin)
    patch = patch.astype(np.float64, copy=False)
    height = box.height
    above = patch[:, :margin].mean(axis=1)
    below = patch[:, margin + height :].mean(axis=1)
    inside = patch[:, margin : margin + height].sum(axis=1)
    return inside - 0.5 * (above + below) * height


def box_heights(signal: np.ndarray, boxes: list[BandBox]) -> np.ndarray:
    """Each box's typical net signal per column, in the middle fifth of the box.

    Taken along the band's rows wherever the band runs (:func:`column_volumes`),
    so a band that slopes or curves away from the membrane's band rows counts.

    Returns
    -------
    ndarray, shape (n_boxes,)
    """
    heights = np.zeros(len(boxes))
    for k, b in enumerate(boxes):
        fifth = max(1, (b.x_right - b.x_left) // 5)
        middle = column_volumes(signal, b, b.x_left + 2 * fifth, b.x_right - 2 * fifth)
        heights[k] = float(np.median(middle)) if middle.size else 0.0
    return heights


def box_presence(boxes: list[BandBox], heights: np.ndarray, n_lanes: int) -> np.ndarray:
    """Each lane's band signal in its box, over that of a typical lane with a band.

    Parameters
    ----------
    boxes : list of BandBox
        The image's boxes (sample lanes only).
    heights : ndarray, shape (n_boxes,)
        :func:`box_heights` of those boxes.
    n_lanes : int
        Lanes on the membrane.

    Returns
    -------
    ndarray, shape (n_lanes,)
        About 1 for a loaded lane, about 0 for bare membrane; 0 for lanes
        without a box.
    """
    own = np.zeros(n_lanes)
    for b, height in zip(boxes, heights, strict=True):
        own[b.lane - 1] = max(float(height), 0.0)
    boxed = np.sort(np.maximum(heights, 0.0))[::-1]
    typical = float(np.median(boxed[: max(1, len(boxed) // 2)])) if len(boxed) else 0.0
    return own / typical if typical > 0 else np.zeros(n_lanes)


def lane_profiles(signal: np.ndarray, lanes: LaneGeometry, fraction: float = 0.5) -> np.ndarray:
    """Median of the central ``fraction`` of each lane's width, per row.

    The median, not the mean: a dust speck covers a few of the lane's columns
    and must not make a band (or move one) in the profile.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Image, bands bright.
    lanes : LaneGeometry
        Lanes of that image.
    fraction : float
        Share of the lane's width the median is taken over.

    Returns
    -------
    ndarray, shape (n_lanes, n_rows)
    """
    height, width = signal.shape
    half = max(1.0, fraction * lanes.width / 2.0)
    n_cols = (int(np.ceil(2 * half)) + 1) | 1  # odd: the median is one value
    out = np.zeros((len(lanes.centers), height))
    rows = np.arange(height)
    offsets = np.arange(n_cols)
    centres = lanes.centers_at(rows[:, None])
    for i in range(len(lanes.centers)):
        first = np.clip(np.floor(centres[:, i] - half).astype(int), 0, max(0, width - n_cols))
        if lanes.slope == 0.0 or np.all(first == first[0]):
            strip = signal[:, first[0] : first[0] + n_cols]
        else:
            strip = signal[rows[:, None], np.minimum(first[:, None] + offsets, width - 1)]
        out[i] = np.partition(strip, n_cols // 2, axis=1)[:, n_cols // 2]
    return out


def _fwhm(profile: np.ndarray, peak: int) -> float:
    """Full width at half maximum around ``peak`` (sub-pixel, linear crossing)."""
    value = profile[peak]
    if value <= 0:
        return 0.0
    half = value / 2.0
    left, right = _above_half(profile, peak)
    # linear interpolation of the crossings
    lx = float(left)
    if left > 0:
        a, b = profile[left - 1], profile[left]
        lx = left - 1 + (half - a) / (b - a) if b != a else float(left)
    rx = float(right)
    if right < len(profile) - 1:
        a, b = profile[right], profile[right + 1]
        rx = right + (a - half) / (a - b) if a != b else float(right)
    return max(rx - lx, 1.0)


def _local_peak(profile: np.ndarray, centre: float, reach: float) -> tuple[int, float]:
    lo = int(max(0, np.floor(centre - reach)))
    hi = int(min(len(profile), np.ceil(centre + reach) + 1))
    if hi <= lo:
        return int(np.clip(round(centre), 0, len(profile) - 1)), 0.0
    i = lo + int(np.argmax(profile[lo:hi]))
    return i, float(profile[i])


def _subpixel(profile: np.ndarray, i: int) -> float:
    if 0 < i < len(profile) - 1:
        a, b, c = profile[i - 1], profile[i], profile[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return i + 0.5 * (a - c) / denom
    return float(i)


def find_bands(
    signal: np.ndarray,
    lanes: LaneGeometry,
    sample_lanes: np.ndarray,
    *,
    band_rows: tuple[int, int] | None = None,
    margin: int | None = None,
    band: str = "both",
) -> list[BandBox]:
    """Find the band of every lane and the box to measure it in.

    Two bands close together across the lanes (a doublet: two forms of one
    protein) are boxed together by default, in every lane alike; ``band``
    picks the upper or the lower one instead.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image of one image or region, bands bright.
    lanes : LaneGeometry
        Lanes of that image.
    sample_lanes : ndarray of bool, shape (n_lanes,)
        True for lanes that carry samples (ladder and empty lanes: False).
        Only sample lanes vote for the band row, and only they get boxes.
    band_rows : (int, int), optional
        Rows of ``signal`` to search for the band in, [top, bottom).
    margin : int, optional
        Rows of membrane above and below each box used for background. By
        default 0.8 x the band's FWHM (3 to 20 rows): wide enough that the
        baseline's noise stays small, narrow enough to stay near the band.
    band : {'both', 'upper', 'lower'}
        Which band of a doublet the box holds; ignored without a doublet.

    Returns
    -------
    list of BandBox
        One per sample lane, left to right.
    """
    height = signal.shape[0]
    n_lanes = len(lanes.centers)
    sample_lanes = np.asarray(sample_lanes, dtype=bool)
    lo_row, hi_row = band_rows if band_rows is not None else (0, height)
    window = (max(0, int(lo_row)), min(height, int(hi_row)))

    profiles = lane_profiles(signal, lanes)
    smoothed = ndimage.gaussian_filter1d(profiles, 1.0, axis=1)
    detrended = smoothed - lower_baselines(smoothed, max(31, height // 6), smooth=0.0)
    # membrane tilt moves bands too: a lane drifting right going down means the
    # band drops going left, by -slope rows per column
    band_slope_guess = -lanes.slope
    x_mid = float(np.mean(lanes.centers))
    expected_shift = band_slope_guess * (lanes.centers - x_mid)

    # the sample lanes vote for the row where their bands line up
    voters = np.flatnonzero(sample_lanes) if sample_lanes.any() else np.arange(n_lanes)
    row0, combined = _vote_band_row(detrended, voters, expected_shift, window)

    # per lane: local peak near the expected row, then a smooth curve through them
    fwhm0 = _fwhm(combined, row0) if combined[row0] > 0 else 6.0
    reach = max(4.0, 1.0 * fwhm0)
    noise = np.array(
        [robust_sigma(np.diff(p[window[0] : window[1]]), differences=True) for p in profiles]
    )
    rows_found, strength, fwhms = _peaks_per_lane(
        detrended, row0 + expected_shift, reach + 10.0, noise, window
    )
    good = sample_lanes & (strength >= 5.0)
    # a doublet: most lanes with a band show a second one close by, on their own
    upper, lower, single = _lane_doublets(detrended, rows_found, good, noise, window)
    resolved = np.isfinite(upper)
    doublet = bool(good.any()) and resolved[good].sum() >= max(2, 0.5 * good.sum())
    if doublet:
        fwhm0 = float(np.median(single[resolved]))
        apart = float(np.median(lower[resolved] - upper[resolved]))
        # never reach as far as the other band
        reach = min(reach, 0.4 * apart)
        # the box always holds both bands, so its baseline runs from the membrane
        # above them to the membrane below; one band is then the part of the box
        # on its side of the dip between them (a drop line)
        rows_found = np.where(resolved, 0.5 * (upper + lower), rows_found)
        # the curve goes through the lanes that show both bands
        good &= resolved
        row0 = int(round(float(np.median(rows_found[good] - expected_shift[good]))))
    else:
        resolved[:] = False
    curve = _fit_band_curve(lanes.centers, rows_found, good, row0, expected_shift, strength)
    predicted = curve(lanes.centers)
    # lanes without a clear peak of their own near the curve look again, close to it
    # (a lane showing one band of a boxed-whole doublet has no peak where the box goes)
    again = np.flatnonzero(~good | (np.abs(rows_found - predicted) > MAX_OFF_CURVE))
    if not doublet:
        rows_found[again], strength[again], fwhms[again] = _peaks_per_lane(
            detrended[again], predicted[again], min(3.0, reach), noise[again], window
        )
    detected = strength >= 5.0
    # lanes without a clear peak are measured where the curve says the band is
    use_own = detected & (np.abs(rows_found - predicted) <= MAX_OFF_CURVE)
    if doublet:
        use_own &= resolved
    centres = np.where(use_own, rows_found, predicted)

    # one box height for every lane, from the lanes with a band of their own
    ref = sample_lanes & use_own
    fwhm = float(np.median(fwhms[ref])) if ref.any() else fwhm0
    if doublet:
        # the two bands overlap: one band's width is told from its outer flank
        fwhm = fwhm0
    # a band is no taller than the rows it is sought in: a peak whose half
    # height lies far outside them is a slope of the membrane, not a band
    fwhm = min(fwhm, float(max(window[1] - window[0], 1)))
    half = BOX_HALF_HEIGHT_FWHM * fwhm
    if margin is None:
        margin = int(np.clip(round(0.8 * fwhm), 3, 20))
    if doublet:
        # the box reaches from above the upper band to below the lower one; each
        # side still stops short of a further band beyond it
        half_apart = 0.5 * apart
        half_top, _ = _limit_by_neighbours(
            detrended, centres - half_apart, use_own, half, fwhm, margin
        )
        _, half_bottom = _limit_by_neighbours(
            detrended, centres + half_apart, use_own, half, fwhm, margin
        )
        half_top, half_bottom = half_top + half_apart, half_bottom + half_apart
    else:
        half_top, half_bottom = _limit_by_neighbours(
            detrended, centres, use_own, half, fwhm, margin
        )
    slope_at = curve.deriv()(lanes.centers) if curve.order > 0 else np.zeros(n_lanes)
    boxes = []
    for i in np.flatnonzero(sample_lanes):
        x_centre, x_left, x_right = _box_columns(lanes, int(i), centres[i], signal.shape[1])
        boxes.append(
            BandBox(
                lane=int(i) + 1,
                lane_x=x_centre,
                x_left=x_left,
                x_right=x_right,
                center_row=float(centres[i]),
                slope=float(slope_at[i]),
                half_top=float(half_top),
                half_bottom=float(half_bottom),
                detected=bool(detected[i]),
                margin=int(margin),
                doublet=bool(resolved[i]),
            )
        )
    if doublet and band != "both":
        dips = _doublet_dips(detrended, upper, lower, centres)
        own = np.where(np.isfinite(upper), upper, centres - 0.5 * apart)
        if band == "lower":
            own = np.where(np.isfinite(lower), lower, centres + 0.5 * apart)
        boxes = [
            replace(_one_of_doublet(b, dips[b.lane - 1], band), part_row=float(own[b.lane - 1]))
            for b in boxes
        ]
    return boxes


def lane_boxes(
    lanes: LaneGeometry,
    sample_lanes: np.ndarray,
    *,
    shape: tuple[int, int],
    rows: tuple[int, int] | None = None,
    margin: int | None = None,
) -> list[BandBox]:
    """Box every loaded lane whole, for a total-protein stain.

    A stain (Ponceau S, stain-free, REVERT) shows every protein of the lane:
    its loading is the sum over the lane, not one band. The box spans the
    lane's width and ``rows`` (by default every row but ``margin`` at each
    end, which the background methods use as membrane above and below).

    Parameters
    ----------
    lanes : LaneGeometry
        Lanes of the image or region.
    sample_lanes : ndarray of bool, shape (n_lanes,)
        True for the lanes that get a box.
    shape : (int, int)
        (n_rows, n_columns) of the image or region.
    rows : (int, int), optional
        Rows to measure, [top, bottom).
    margin : int, optional
        Rows of membrane above and below the box for background; by default
        every row the image has there, up to :data:`LANE_BOX_MARGIN`.

    Returns
    -------
    list of BandBox
        One per sample lane, left to right, every one ``detected``.
    """
    n_rows, n_columns = shape
    if rows is None:
        edge = margin if margin is not None else int(np.clip(n_rows // 10, 1, LANE_BOX_MARGIN))
        rows = (edge, n_rows - edge)
    top, bottom = max(0, int(rows[0])), min(n_rows, int(rows[1]))
    if bottom - top < 2:
        top, bottom = 0, n_rows
    if margin is None:
        # the baseline's noise is spread over the whole lane: take every row of
        # membrane there is above and below it, up to LANE_BOX_MARGIN
        margin = int(np.clip(min(top, n_rows - bottom), 1, LANE_BOX_MARGIN))
    centre = 0.5 * (top + bottom - 1)
    half = 0.5 * (bottom - 1 - top)
    boxes = []
    for i in np.flatnonzero(np.asarray(sample_lanes, dtype=bool)):
        x_centre, x_left, x_right = _box_columns(lanes, int(i), centre, n_columns)
        boxes.append(
            BandBox(
                lane=int(i) + 1,
                lane_x=x_centre,
                x_left=x_left,
                x_right=x_right,
                center_row=centre,
                slope=0.0,
                half_top=half,
                half_bottom=half,
                detected=True,
                margin=int(margin),
            )
        )
    return boxes


def _doublet_dips(
    detrended: np.ndarray, upper: np.ndarray, lower: np.ndarray, centres: np.ndarray
) -> np.ndarray:
    """Find the row of the dip between each lane's two bands (where the others' lie, unseen)."""
    dips = np.full(len(centres), np.nan)
    for k in np.flatnonzero(np.isfinite(upper)):
        a, b = int(round(upper[k])), int(round(lower[k]))
        if b > a:
            dips[k] = a + int(np.argmin(detrended[k, a : b + 1]))
    seen = np.isfinite(dips)
    # a lane that shows one band only is split where the others' dips lie
    offset = float(np.median(dips[seen] - centres[seen])) if seen.any() else 0.0
    return np.where(seen, dips, centres + offset)


def _one_of_doublet(box: BandBox, dip: float, band: str) -> BandBox:
    """Count only the upper or lower part of a whole-doublet box, split at the dip."""
    split = int(np.clip(round(dip) - box.band_top, 1, box.height - 1))
    part = (0, split) if band == "upper" else (split, box.height)
    return replace(box, part=part)


def _lane_doublets(
    detrended: np.ndarray,
    rows: np.ndarray,
    good: np.ndarray,
    noise: np.ndarray,
    window: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find, in each lane with a band, a second band close to it.

    The second band lies one to :data:`DOUBLET_MAX_APART` FWHMs away (inside
    ``window``), is at least :data:`DOUBLET_MIN_SHARE` of the first's height
    and clear of the noise, with a dip between them.

    Returns
    -------
    upper, lower : ndarray, shape (n_lanes,)
        Rows of the two bands; NaN where a lane shows no second band.
    single : ndarray, shape (n_lanes,)
        One band's FWHM, from the outer flank of the lane's band.
    """
    n = len(rows)
    upper, lower, single = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for k in np.flatnonzero(good):
        profile = detrended[k]
        main = int(np.clip(round(rows[k]), 0, len(profile) - 1))
        value = float(profile[main])
        if value <= 0:
            continue
        left, right = _half_widths(profile, main)
        width = 2.0 * min(left, right)
        reach = int(np.ceil(DOUBLET_MAX_APART * width))
        # a band the search window cuts through is not one the user framed
        inset = int(np.ceil(width / 2))
        lo = max(window[0] + inset, main - reach, 1)
        hi = min(window[1] - inset, main + reach + 1, len(profile) - 1)
        floor = max(DOUBLET_MIN_SHARE * value, 5.0 * noise[k])
        best = None
        for j in range(lo, hi):
            if abs(j - main) < width or profile[j] < floor:
                continue
            if profile[j] < profile[j - 1] or profile[j] < profile[j + 1]:
                continue
            a, b = sorted((j, main))
            if profile[a : b + 1].min() > DOUBLET_DIP * min(profile[j], value):
                continue
            if best is None or profile[j] > profile[best]:
                best = j
        if best is None:
            continue
        upper[k], lower[k] = sorted((_subpixel(profile, main), _subpixel(profile, best)))
        single[k] = 2.0 * (left if best > main else right)
    return upper, lower, single


def _above_half(profile: np.ndarray, peak: int) -> tuple[int, int]:
    """First and last row of the run around ``peak`` above its half maximum."""
    half = profile[peak] / 2.0
    left = peak
    while left > 0 and profile[left - 1] > half:
        left -= 1
    right = peak
    while right < len(profile) - 1 and profile[right + 1] > half:
        right += 1
    return left, right


def _half_widths(profile: np.ndarray, peak: int) -> tuple[float, float]:
    """Rows from ``peak`` to its half maximum on the left and on the right."""
    left, right = _above_half(profile, peak)
    return max(peak - left + 0.5, 0.5), max(right - peak + 0.5, 0.5)


def _vote_band_row(
    detrended: np.ndarray,
    voters: np.ndarray,
    expected_shift: np.ndarray,
    window: tuple[int, int],
) -> tuple[int, np.ndarray]:
    """Find the row inside ``window`` where the voters' bands line up, and the votes per row.

    Each lane's profile is shifted by its expected tilt before the votes are
    added, so the votes count at the row of the membrane's middle column.
    """
    lo_row, hi_row = window
    maxima = np.array([detrended[i, lo_row:hi_row].max(initial=0.0) for i in voters])
    scale = max(float(np.median(maxima)) if len(maxima) else 0.0, 1e-12)
    combined = np.zeros(detrended.shape[1])
    for i, peak in zip(voters, maxima, strict=True):
        # each lane votes with equal weight unless it is blank (no band anywhere)
        weight = 1.0 / max(peak, 0.2 * scale)
        combined += ndimage.shift(detrended[i], -expected_shift[i], order=1, mode="nearest") * (
            weight
        )
    search = combined[lo_row:hi_row]
    return lo_row + (int(np.argmax(search)) if search.size else 0), combined


def _peaks_per_lane(
    detrended: np.ndarray,
    guesses: np.ndarray,
    reach: float,
    noise: np.ndarray,
    window: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each profile's highest point within ``reach`` rows of its guess (inside ``window``).

    Returns the sub-pixel row, the strength (peak over noise) and the FWHM,
    one value per profile each.
    """
    n = len(guesses)
    rows, strength, fwhms = np.empty(n), np.empty(n), np.empty(n)
    for k in range(n):
        profile = detrended[k]
        peak_row, peak_value = _local_peak(_clip_window(profile, *window), guesses[k], reach)
        rows[k] = _subpixel(profile, peak_row)
        strength[k] = peak_value / max(noise[k], 1e-12)
        fwhms[k] = _fwhm(profile, peak_row)
    return rows, strength, fwhms


def _box_columns(lanes: LaneGeometry, i: int, row: float, width: int) -> tuple[float, int, int]:
    """Lane ``i``'s centre column at ``row`` and its box's columns [left, right)."""
    x_centre = float(lanes.centers_at(row)[i])
    half_w = lanes.width / 2.0
    x_left = int(max(0, np.floor(x_centre - half_w + 0.5)))
    x_right = int(min(width, np.floor(x_centre + half_w + 0.5)))
    if lanes.bounds is not None:
        # not past the valley into a neighbouring lane: a bright neighbour's
        # flank is not membrane, and the baseline would not remove it
        drift = lanes.drift_at(row)
        if i > 0:
            x_left = max(x_left, int(np.ceil(lanes.bounds[i - 1] + drift)))
        if i < len(lanes.centers) - 1:
            x_right = min(x_right, int(np.floor(lanes.bounds[i] + drift)) + 1)
    if x_right <= x_left:
        x_right = min(width, x_left + 1)
    return x_centre, x_left, x_right


def _clip_window(profile: np.ndarray, lo: int, hi: int) -> np.ndarray:
    out = np.full_like(profile, -np.inf)
    out[lo:hi] = profile[lo:hi]
    return out


def _fit_band_curve(
    x: np.ndarray,
    rows: np.ndarray,
    good: np.ndarray,
    row0: float,
    shift: np.ndarray,
    strength: np.ndarray,
) -> np.poly1d:
    """Smooth band row across the membrane: quadratic (smile) + tilt, robustly.

    Each lane counts by the square root of its peak's strength: with a few
    lanes only (too few to cast one out), a faint hump must not tilt the row
    that strong bands agree on.
    """
    use = good & np.isfinite(rows)
    if use.sum() < 2:
        return np.poly1d(np.polyfit(x, row0 + shift, 1)) if len(x) > 1 else np.poly1d([row0])
    order = 2 if use.sum() >= 5 else 1
    weight = np.sqrt(np.clip(strength, 1.0, None))
    for _ in range(3):
        coef = np.polyfit(x[use], rows[use], order, w=weight[use])
        resid = rows - np.polyval(coef, x)
        scale = max(1.0, robust_sigma(resid[use], centred=False))
        keep = use & (np.abs(resid) <= max(3.0 * scale, 2.0))
        if keep.sum() < order + 2 or np.array_equal(keep, use):
            break
        use = keep
    return np.poly1d(np.polyfit(x[use], rows[use], order, w=weight[use]))


def _limit_by_neighbours(
    profiles: np.ndarray,
    centres: np.ndarray,
    own: np.ndarray,
    half: float,
    fwhm: float,
    margin: int,
) -> tuple[float, float]:
    """Shrink the box where another band sits closer than the box edge.

    The box then ends so that its background margin sits in the valley
    between the two bands, as a careful user would draw the baseline from
    valley to valley. The limits are the medians over the lanes that have a
    band of their own (every lane gets the same box), never under one FWHM.
    """
    tops, bottoms = [], []
    reach = int(np.ceil(half + margin)) + 2
    for i in np.flatnonzero(own):
        prof = profiles[i]
        c = int(round(centres[i]))
        up = prof[max(0, c - reach) : c + 1][::-1]
        down = prof[c : c + reach + 1]
        tops.append(_edge_before_valley(up, half, margin))
        bottoms.append(_edge_before_valley(down, half, margin))
    if not tops:
        return half, half
    return max(fwhm, float(np.median(tops))), max(fwhm, float(np.median(bottoms)))


def _edge_before_valley(side: np.ndarray, half: float, margin: int) -> float:
    """Box half-height on one side: ``half``, or less if a neighbour band rises."""
    if side.size < 4:
        return half
    peak = float(side[0])
    if peak <= 0:
        return half
    smooth = ndimage.uniform_filter1d(side, 3, mode="nearest")
    for j in range(2, len(smooth) - 1):
        if smooth[j] >= 0.5 * peak or smooth[j] > smooth[j - 1] or smooth[j] > smooth[j + 1]:
            continue
        # a minimum below half the peak, followed by a real rise: another band
        if smooth[j + 1 : j + 1 + 3 * margin + 3].max(initial=smooth[j]) > smooth[j] + 0.03 * peak:
            edge = j - (margin + 1) // 2 - 0.5
            return min(half, max(edge, 1.0))
    return half
