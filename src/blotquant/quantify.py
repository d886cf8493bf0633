"""Band volumes: raw, background and net, with saturation and signal-to-noise flags."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from blotquant.background import background_profile, background_uncertainty
from blotquant.bands import BandBox

#: Net volume below this many standard deviations of its noise: no band.
NO_BAND_SNR = 3.0
#: Below this: the band is measured, but with more than 10 % noise.
LOW_SNR = 10.0


@dataclass(frozen=True)
class BandMeasurement:
    """Volumes and flags of one band (signal units: more protein, larger)."""

    lane: int
    raw_volume: float
    background_volume: float
    net_volume: float
    saturated_pixels: int
    snr: float
    flags: tuple[str, ...]
    #: Lane profile through the band (summed across the lane), margins included.
    profile: np.ndarray | None = None
    #: Background under each box row (summed across the lane).
    background: np.ndarray | None = None

    @property
    def flag_text(self) -> str:
        return ";".join(self.flags)


def band_patch(
    image: np.ndarray, box: BandBox, margin: int, row_offset: int = 0
) -> tuple[np.ndarray, bool]:
    """The band box straightened along the band, with ``margin`` rows each side.

    Returns
    -------
    patch : ndarray, shape (n_columns, margin + box.height + margin)
    clipped : bool
        True if the box or its margins ran past the image's edge (edge rows
        are repeated there).

    ``row_offset`` is the row of the full image that ``image[0]`` holds, for
    arrays that keep only some rows (a background computed where needed).
    """
    cols, tops = box.column_tops()
    offsets = np.arange(-margin, box.height + margin)
    rows = tops[:, None] + offsets[None, :] - row_offset
    height, width = image.shape[:2]
    clipped = bool(rows.min() < 0 or rows.max() >= height or box.x_left <= 0)
    clipped = clipped or box.x_right >= width
    rows = np.clip(rows, 0, height - 1)
    return image[rows, cols[:, None]], clipped


#: Noise standard deviations, and share of the local signal (a speck at least
#: doubles it; the mottle of real bands reaches about half), by which a
#: pixel must stand out from the band to start a speck.
SPECK_CORE_SD = 8.0
SPECK_CORE_SHARE = 1.0
#: A speck's skirt: pixels joined to its core that still stand out by this
#: many noise standard deviations (a bright speck's skirt is wide).
SPECK_SKIRT_SD = 3.0
#: Largest speck core, in pixels across (a speck of 2 px radius that is 30
#: times brighter than the band under it has a core about 11 px across).
SPECK_MAX_PX = 12


def running_median(patch: np.ndarray, size: int) -> np.ndarray:
    """Running median along axis 0 (edge values repeated), on every third column or so.

    Along a band the median changes slowly, so it is taken exactly at every
    ``size // 8``-th position and interpolated linearly between them: the
    same answer on the band's plateau and its straight flanks, for a few
    times less work.
    """
    n = patch.shape[0]
    half = size // 2
    padded = np.pad(patch, ((half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)
    stride = max(1, size // 8)
    at = np.arange(0, n, stride)
    if at[-1] != n - 1:
        at = np.append(at, n - 1)
    sampled = np.partition(windows[at], half, axis=-1)[..., half]
    if len(at) == n:
        return sampled
    pos = np.arange(n)
    j = np.clip(np.searchsorted(at, pos, side="right") - 1, 0, len(at) - 2)
    w = ((pos - at[j]) / (at[j + 1] - at[j]))[:, None]
    return sampled[j] * (1.0 - w) + sampled[j + 1] * w


def _may_hold_specks(patch: np.ndarray, pixel_noise: float) -> bool:
    """Quick test: does any pixel stand out from both neighbours a speck's width away?

    A speck core (at most ``SPECK_MAX_PX`` across) is higher (or lower) than
    the band on both sides of it along the band; a band's own profile across
    the lane only rises, stays and falls. Most patches hold no speck, and
    this spares them the running median.
    """
    d = SPECK_MAX_PX // 2 + 1
    n = patch.shape[0]
    if n <= 2 * d:
        return True
    # neighbours a speck's width to the left and right (at the ends of the
    # box, where one of them is missing, the other one counts twice)
    index = np.arange(n)
    left = patch[np.where(index >= d, index - d, index + d)]
    right = patch[np.where(index < n - d, index + d, index - d)]
    # each line along the band with its own noise (as in despeckle), from
    # neighbouring differences; a little below the speck threshold, so that
    # no speck is missed for noise on its neighbours
    steps = np.abs(np.diff(patch, axis=0))
    middle = steps.shape[0] // 2
    typical_step = np.partition(steps, middle, axis=0)[middle]
    line_noise = np.maximum(pixel_noise, 1.4826 / np.sqrt(2.0) * typical_step)
    threshold = 0.75 * SPECK_CORE_SD * line_noise[None, :]
    higher = patch - np.maximum(left, right) > threshold
    # (at the ends a band's flank falls towards the box edge: a dip there is
    # only judged against both sides)
    lower = (np.minimum(left, right) - patch > threshold)[d : n - d]
    return bool(higher.any() or lower.any())


def despeckle(
    patch: np.ndarray, pixel_noise: float, size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace specks (dust, hot pixels) in a band patch by their neighbours' median.

    The median runs along the band (``patch`` axis 0) over half the box's
    width: across a lane a band's profile only rises and falls, so the median
    follows it, even at the band's corners, while a speck, round and smaller
    than half a lane, stands out. A speck starts where a pixel departs from
    that median by more than ``SPECK_CORE_SD`` noise standard deviations and
    by more than ``SPECK_CORE_SHARE`` of the local signal, and takes in the
    pixels joined to it that still depart by ``SPECK_SKIRT_SD`` (hysteresis,
    as in edge detection): a bright speck's skirt is faint pixel by pixel but
    adds up. Speck and skirt, one pixel wider, are replaced by the median.

    Parameters
    ----------
    patch : ndarray
        Band patch, columns along axis 0 (see :func:`band_patch`).
    pixel_noise : float
        The image's pixel noise (standard deviation).
    size : int, optional
        Columns of the running median; by default half the patch's columns
        (at most 31).

    Returns
    -------
    clean : ndarray
    specks : ndarray of bool
        The pixels that started a speck.
    """
    from scipy import ndimage

    size = min(31, patch.shape[0] // 2 if size is None else size) | 1
    if size < 5 or not _may_hold_specks(patch, pixel_noise):
        return patch, np.zeros(patch.shape, bool)
    median = running_median(patch, size)
    floor = float(np.percentile(median, 5))
    deviation = np.abs(patch - median)
    # shot noise grows with the signal: on a bright band the noise is larger
    # than the image's (mostly background) pixel noise, so each row along the
    # band gets its own robust noise level
    noise = np.maximum(pixel_noise, 1.4826 * np.median(deviation, axis=0))[None, :]
    specks = (deviation > SPECK_CORE_SD * noise) & (
        deviation > SPECK_CORE_SHARE * np.abs(median - floor)
    )
    if not specks.any():
        return patch, specks
    # a speck is small and wholly seen: a larger object standing out from the
    # running median is the band's own shape (a band that bulges into the
    # margin, a lane that smiles), and one that runs into the ends of the
    # strip may be a neighbouring lane's flank; those are measured, never
    # replaced
    cores, _ = ndimage.label(specks)
    n = patch.shape[0]
    small = [
        k + 1
        for k, where in enumerate(ndimage.find_objects(cores))
        if where is not None
        and max(sl.stop - sl.start for sl in where) <= SPECK_MAX_PX
        and where[0].start > 0
        and where[0].stop < n
    ]
    specks = np.isin(cores, small)
    if not specks.any():
        return patch, specks
    # the skirt: joined to a core, and no farther from it than half a speck
    near_core = ndimage.binary_dilation(specks, iterations=SPECK_MAX_PX // 2)
    labels, _ = ndimage.label(specks | (near_core & (deviation > SPECK_SKIRT_SD * noise)))
    replaced = ndimage.binary_dilation(np.isin(labels, np.unique(labels[specks])))
    return np.where(replaced, median, patch), specks


#: Columns beyond each side of the box that the speck test also looks at.
SPECK_OVERHANG = SPECK_MAX_PX // 2


def _despeckle_box(
    signal: np.ndarray, box: BandBox, margin: int, pixel_noise: float, patch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`despeckle` of a box's patch, judged with a few columns beyond the box.

    At the ends of a patch the running median repeats the end column, so a
    speck cut by the box's edge would be its own median. Half a speck's
    width more on each side puts such a speck inside what is judged, while a
    neighbour's flank entering the box keeps rising beyond it and is not
    taken for one.
    """
    if not _may_hold_specks(patch, pixel_noise):
        return patch, np.zeros(patch.shape, bool)
    left = max(0, box.x_left - SPECK_OVERHANG)
    right = min(signal.shape[1], box.x_right + SPECK_OVERHANG)
    if (left, right) == (box.x_left, box.x_right):
        return despeckle(patch, pixel_noise, size=(box.x_right - box.x_left) // 2)
    wide, _ = band_patch(signal, replace(box, x_left=left, x_right=right), margin)
    clean, specks = despeckle(
        wide.astype(np.float64, copy=False), pixel_noise, size=(box.x_right - box.x_left) // 2
    )
    keep = slice(box.x_left - left, box.x_left - left + (box.x_right - box.x_left))
    return clean[keep], specks[keep]


def noise_sigma(signal: np.ndarray) -> float:
    """Pixel noise of an image, robustly, from differences of neighbouring columns.

    Differences cancel smooth background and bands (which are wide), leaving
    mostly noise; the median absolute deviation ignores the band edges.
    """
    # about 50 000 differences give the noise to within 1 %; rows are sampled
    # before differencing, so no image-sized copy is made
    height, width = signal.shape
    row_step = max(1, int(height * width / 50_000))
    diffs = np.diff(signal[::row_step], axis=1).ravel().astype(np.float64)
    if diffs.size == 0:
        return 0.0
    middle = diffs.size // 2
    diffs.partition(middle)
    deviations = np.abs(diffs - diffs[middle])
    deviations.partition(middle)
    return float(1.4826 * deviations[middle] / np.sqrt(2.0))


def measure_band(
    signal: np.ndarray,
    box: BandBox,
    *,
    method: str,
    margin: int | None = None,
    saturated: np.ndarray | None = None,
    background_image: np.ndarray | None = None,
    pixel_noise: float = 0.0,
    background_row_offset: int = 0,
) -> BandMeasurement:
    """Measure one band.

    Parameters
    ----------
    signal : ndarray
        2-D float image, bands bright (polarity applied).
    box : BandBox
        Where the band is.
    method : str
        Background method (see :mod:`blotquant.background`).
    margin : int, optional
        Rows of membrane above and below the box used for background;
        by default the box's own ``margin``.
    saturated : ndarray of bool, optional
        Saturated pixels of the image.
    background_image : ndarray, optional
        Background image for ``rolling-ball`` (possibly only some rows, starting
        at ``background_row_offset``).
    pixel_noise : float
        Noise standard deviation of one pixel, for the signal-to-noise ratio.
    """
    margin = box.margin if margin is None else margin
    patch, clipped = band_patch(signal, box, margin)
    patch = patch.astype(np.float64, copy=False)  # (volumes are sums: double precision)
    specks = np.zeros(patch.shape, bool)
    if pixel_noise > 0:
        patch, specks = _despeckle_box(signal, box, margin, pixel_noise, patch)
    height = box.height
    inside = patch[:, margin : margin + height]
    raw = float(inside.sum())
    bg_patch = None
    if background_image is not None:
        bg_patch, _ = band_patch(background_image, box, margin, background_row_offset)
        bg_patch = bg_patch.astype(np.float64, copy=False)
    bg_rows = background_profile(method, patch, margin, height, bg_patch)
    background = float(bg_rows.sum())
    net = raw - background
    n_sat = 0
    if saturated is not None:
        sat_patch, _ = band_patch(saturated, box, margin)
        # clipped pixels of the band itself; a clipped speck of dust was replaced
        # by its neighbours (and the band is flagged `dust`), so it does not count
        n_sat = int((sat_patch & ~specks)[:, margin : margin + height].sum())
    n_pixels = inside.size
    noise = np.hypot(
        pixel_noise * np.sqrt(n_pixels),
        background_uncertainty(method, pixel_noise, patch.shape[0], margin, height),
    )
    snr = float(net / noise) if noise > 0 else (np.inf if net > 0 else 0.0)
    flags: list[str] = []
    if n_sat:
        flags.append("saturated")
    # a lane with no clear peak of its own still counts as a band if its
    # volume stands well clear of the noise (faint but real)
    if snr < NO_BAND_SNR or (not box.detected and snr < LOW_SNR):
        flags.append("no-band")
    elif snr < LOW_SNR:
        flags.append("low-snr")
    if clipped:
        flags.append("edge")
    if specks[:, margin : margin + height].any():
        flags.append("dust")
    return BandMeasurement(
        lane=box.lane,
        raw_volume=raw,
        background_volume=background,
        net_volume=net,
        saturated_pixels=n_sat,
        snr=snr,
        flags=tuple(flags),
        profile=patch.sum(axis=0),
        background=bg_rows,
    )
