"""Band volumes: raw, background and net, with saturation and signal-to-noise flags.

The stage that measures also gives the first table: :func:`bands_table` turns
the analyses of an experiment into the contract's bands.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from blotquant.background import background_profile, background_uncertainty
from blotquant.bands import BandBox, band_patch
from blotquant.bubbles import has_void
from blotquant.dust import despeckle_box
from blotquant.ladder import LadderFit
from blotquant.lanecheck import LaneEvidence
from blotquant.lanes import LaneGeometry
from blotquant.models import Experiment, Measurement
from blotquant.profiles import clipped_sigma, robust_sigma
from blotquant.saturation import CLIPPED_SHARE
from blotquant.tables import BANDS_LEADING, BANDS_MEASURED, BUBBLE, CLIPPED_EXPORT, DOUBLET

#: Net volume below this many standard deviations of its noise: no band.
NO_BAND_SNR = 3.0
#: Below this: the band is measured, but with more than 10 % noise.
LOW_SNR = 10.0
#: Noise of rounding to whole counts: a uniform error of one count has this
#: standard deviation (1 / sqrt(12)), whatever the image shows.
ROUNDING_NOISE = 1.0 / np.sqrt(12.0)


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
    #: In an exposure series: the exposure (its file) the volumes come from,
    #: and the factor they were brought to the longest exposure's scale by.
    exposure: str = ""
    exposure_factor: float = 1.0

    @property
    def flag_text(self) -> str:
        """The flags as written in bands.csv: ``;``-separated."""
        return ";".join(self.flags)


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything blotquant decided about one image (or region) and measured in it.

    Rows and columns of ``lanes`` and ``boxes`` are relative to ``row_offset``
    and ``col_offset`` (the region's top-left corner); add them for image
    rows and columns (of the image as turned by ``rotate``).
    """

    measurement: Measurement
    polarity: str
    row_offset: int
    lanes: LaneGeometry
    boxes: tuple[BandBox, ...]
    bands: tuple[BandMeasurement, ...]
    pixel_noise: float
    warnings: tuple[str, ...] = ()
    #: First image column of the region (a ``crop``'s left edge).
    col_offset: int = 0
    #: The molecular-weight ladder's fit, when the image names its ladder.
    ladder: LadderFit | None = None
    #: What the membrane shows about the lanes (None for lanes given by hand) ...
    lane_evidence: LaneEvidence | None = None
    #: ... and, in words, why the lanes may be wrong (empty when they fit).
    lane_doubts: tuple[str, ...] = ()
    #: The box of the image measured as membrane (the config's ``crop`` or the
    #: one found inside frames), (left, top, right, bottom); None: the whole image.
    crop: tuple[int, int, int, int] | None = None
    #: Sides of the image where a frame was found and cut away.
    frame_cut: tuple[str, ...] = ()
    #: Where the lanes came from when another image of the membrane lent them
    #: (registered to this one); empty when this image's own bands placed them.
    lanes_from: str = ""
    #: (rows, columns) of the region measured.
    region_shape: tuple[int, ...] = ()
    #: An exposure series merged into this analysis: its exposures' files,
    #: shortest first (each band says which one it came from).
    exposures: tuple[str, ...] = ()


def noise_sigma(signal: np.ndarray) -> float:
    """Estimate the pixel noise of an image from differences of neighbouring columns.

    Differences cancel smooth background and bands (which are wide), leaving
    mostly noise; the median absolute deviation ignores the band edges.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        The image.

    Returns
    -------
    float
        Standard deviation of one pixel's noise; 0.0 for an image one column wide.
    """
    # about 50 000 differences give the noise to within 1 %; rows are sampled
    # before differencing, so no image-sized copy is made
    height, width = signal.shape
    row_step = max(1, int(height * width / 50_000))
    diffs = np.diff(signal[::row_step], axis=1).ravel().astype(np.float64)
    return robust_sigma(diffs, differences=True, upper_median=True)


def image_noise(signal: np.ndarray, *, whole_counts: bool) -> float:
    """Pixel noise of an image, never below the noise of rounding to whole counts.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        The image.
    whole_counts : bool
        The detector stored integers (8- or 16-bit), which adds
        :data:`ROUNDING_NOISE` even to a noiseless image.

    Returns
    -------
    float
        Standard deviation of one pixel's noise.
    """
    noise = noise_sigma(signal)
    if whole_counts:
        noise = max(noise, ROUNDING_NOISE)
    return noise


#: Shifted copies of the boxes needed to tell the membrane's own noise.
MIN_NULL_BOXES = 8
#: Shifts each way from a box, in box heights (with margins) off the band row.
NULL_SHIFTS = 2
#: Bare boxes measured at most (each costs time; with fewer, boxes one step off
#: a busy film's band row decide alone, and strong bands there came out low-snr).
MAX_NULL_BOXES = 40
#: A band's peak must stand this many noise SDs above what bare membrane shows.
PEAK_K = 4.0


@dataclass(frozen=True)
class MembraneNoise:
    """What a band's box measures on bare membrane of its image.

    Attributes
    ----------
    volume : float
        Standard deviation of a box's net volume there (0: not measured).
    peak : float
        The height a band's peak in the lane profile must reach to be a band
        (0: not measured, no test).
    boxes : int
        How many boxes on bare membrane were measured.
    """

    volume: float = 0.0
    peak: float = 0.0
    boxes: int = 0
    #: Lane -> root mean square of the net volumes of that lane's own boxes on
    #: bare membrane (two or more, free of specks and marks): the background's
    #: error where the band is. A blotch or a bend of the background is local;
    #: the image-wide spread, clipped of outliers, leaves it out.
    local: dict[int, float] = field(default_factory=dict)


def peak_height(net_rows: np.ndarray) -> float:
    """Height of the highest peak of a box's net lane profile, smoothed over a third of the box.

    Parameters
    ----------
    net_rows : ndarray, shape (n_box_rows,)
        The lane profile minus its background, one value per box row.

    Returns
    -------
    float
    """
    width = max(1, len(net_rows) // 3)
    return float(ndimage.uniform_filter1d(net_rows, width, mode="nearest").max())


def membrane_noise(
    signal: np.ndarray,
    boxes: Sequence[BandBox],
    *,
    method: str,
    band_rows: np.ndarray | None = None,
    pixel_noise: float = 0.0,
) -> MembraneNoise:
    """Measure what the band boxes measure on bare membrane: the noise a band must beat.

    Pixel noise alone misses what a real membrane adds: its grain, blotches,
    a bending background. So each box is moved up and down its lane, clear of
    its band and its margins, and measured there the same way. The spread
    of those net volumes (their standard deviation, outliers beyond 3 robust
    SDs left out: :func:`blotquant.profiles.clipped_sigma`) is the noise a
    band's volume must stand above; the peaks their lane profiles show by chance set
    the height a band's peak must reach. Rolling-ball images are measured
    there with the straight baseline (their background is computed only
    around the bands).

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image, bands bright.
    boxes : sequence of BandBox
        The image's band boxes.
    method : str
        Background method.
    band_rows : ndarray of bool, shape (n_rows,), optional
        Rows that hold bands or marks anywhere across the image
        (:func:`blotquant.evidence.rows_with_bands`): no moved box reads them.
    pixel_noise : float
        Noise of one pixel: moved boxes with a pixel this many times
        :data:`SPECK_SIGMAS` off its neighbours (dust, a pen mark) give no
        local estimate (0: every box does).

    Returns
    -------
    MembraneNoise
        All zero when the image has too little membrane off the band rows
        to tell (fewer than :data:`MIN_NULL_BOXES` boxes).
    """
    null_method = "profile-baseline" if method == "rolling-ball" else method
    nets: list[float] = []
    peaks: list[float] = []
    by_lane: dict[int, list[float]] = {}
    n_rows = signal.shape[0]
    tops_of = {box.lane: box.column_tops()[1] for box in boxes}
    # nearest shifts first, lane after lane, until enough bare boxes are measured
    for k in (1, -1, *range(2, NULL_SHIFTS + 1), *range(-2, -NULL_SHIFTS - 1, -1)):
        if len(nets) >= MAX_NULL_BOXES:
            break
        for box in boxes:
            if len(nets) >= MAX_NULL_BOXES:
                break
            tops = tops_of[box.lane]
            shift = k * (box.height + 2 * box.margin)
            first = tops.min() + shift - box.margin
            last = tops.max() + shift + box.height + box.margin
            if first < 0 or last > n_rows:
                continue
            if band_rows is not None and band_rows[first:last].any():
                continue
            moved = replace(box, center_row=box.center_row + shift)
            # (volume and profile only: no flags, no dust, no voids on bare membrane)
            patch, _ = band_patch(signal, moved, moved.margin)
            patch = patch.astype(np.float64, copy=False)
            height = moved.height
            rows = patch.sum(axis=0)[moved.margin : moved.margin + height]
            rows = rows - background_profile(null_method, patch, moved.margin, height)
            nets.append(float(rows.sum()))
            peaks.append(peak_height(rows))
            if pixel_noise <= 0 or not _speckled(patch, pixel_noise):
                # (a speck of dust or a written mark is not the background's error)
                by_lane.setdefault(box.lane, []).append(nets[-1])
    if len(nets) < MIN_NULL_BOXES:
        return MembraneNoise()
    chance = np.asarray(peaks)
    return MembraneNoise(
        volume=clipped_sigma(np.asarray(nets)),
        peak=float(np.median(chance) + PEAK_K * robust_sigma(chance)),
        boxes=len(nets),
        # (with no background removed, a box on bare membrane holds the membrane
        # itself: no measure of a background's error)
        local={
            lane: float(np.sqrt(np.mean(np.square(values))))
            for lane, values in by_lane.items()
            if len(values) >= 2 and method != "none"
        },
    )


#: A pixel this many pixel-noise SDs off the median of its 3 x 3 neighbours is a speck.
SPECK_SIGMAS = 8.0


def _speckled(patch: np.ndarray, pixel_noise: float) -> bool:
    """Tell whether a box holds a sharp speck or stroke (dust, a mark), not only membrane."""
    limit = SPECK_SIGMAS * pixel_noise
    # a pixel that far off its 3 x 3 median is that far off one neighbour at least:
    # most boxes are told apart by their neighbours' differences alone (quick)
    steps = (
        patch[1:, :] - patch[:-1, :],
        patch[:, 1:] - patch[:, :-1],
        patch[1:, 1:] - patch[:-1, :-1],
        patch[1:, :-1] - patch[:-1, 1:],
    )
    if max((float(np.abs(d).max()) for d in steps if d.size), default=0.0) <= limit:
        return False
    smooth = ndimage.median_filter(patch, size=3, mode="nearest")
    return bool(np.abs(patch - smooth).max() > limit)


def measure_band(
    signal: np.ndarray,
    box: BandBox,
    *,
    method: str,
    margin: int | None = None,
    saturated: np.ndarray | None = None,
    clipped_membrane: np.ndarray | None = None,
    background_image: np.ndarray | None = None,
    pixel_noise: float = 0.0,
    background_row_offset: int = 0,
    membrane: MembraneNoise | None = None,
) -> BandMeasurement:
    """Measure one band.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image, bands bright (polarity applied).
    box : BandBox
        Where the band is.
    method : str
        Background method (see :mod:`blotquant.background`).
    margin : int, optional
        Rows of membrane above and below the box used for background;
        by default the box's own ``margin``.
    saturated : ndarray of bool, shape (n_rows, n_columns), optional
        Saturated pixels of the image (clipped bands' plateaus).
    clipped_membrane : ndarray of bool, shape (n_rows, n_columns), optional
        Pixels at the membrane's own limit (paper white, crushed black): a
        band whose background rows are mostly there is ``clipped-export``.
    background_image : ndarray, shape (n_background_rows, n_columns), optional
        Background image for ``rolling-ball`` (possibly only some rows, starting
        at ``background_row_offset``).
    pixel_noise : float
        Noise standard deviation of one pixel, for the signal-to-noise ratio
        and the dust test (0: no dust removal).
    background_row_offset : int
        Row of ``signal`` that ``background_image[0]`` holds.
    membrane : MembraneNoise, optional
        What boxes measure on bare membrane of this image (see
        :func:`membrane_noise`): the signal-to-noise ratio is taken against
        its volume noise when that exceeds what the pixel noise predicts, and
        a band whose peak does not reach its ``peak`` is ``no-band``.

    Returns
    -------
    BandMeasurement
    """
    margin = box.margin if margin is None else margin
    patch, clipped = band_patch(signal, box, margin)
    patch = patch.astype(np.float64, copy=False)  # (volumes are sums: double precision)
    specks = np.zeros(patch.shape, bool)
    if pixel_noise > 0:
        patch, specks = despeckle_box(signal, box, margin, pixel_noise, patch)
    height = box.height
    inside = patch[:, margin : margin + height]
    raw = float(inside.sum())
    bg_patch = None
    if background_image is not None:
        bg_patch, _ = band_patch(background_image, box, margin, background_row_offset)
        bg_patch = bg_patch.astype(np.float64, copy=False)
    bg_rows = background_profile(method, patch, margin, height, bg_patch)
    counted = inside
    if box.part is not None:
        # one band of a doublet: the box rows on its side of the dip
        first, stop = box.part
        counted = inside[:, first:stop]
        raw = float(counted.sum())
        background = float(bg_rows[first:stop].sum())
    else:
        background = float(bg_rows.sum())
    net = raw - background
    n_sat = 0
    if saturated is not None:
        sat_patch, _ = band_patch(saturated, box, margin)
        # clipped pixels of the band itself; a clipped speck of dust was replaced
        # by its neighbours (and the band is flagged `dust`), so it does not count
        n_sat = int((sat_patch & ~specks)[:, margin : margin + height].sum())
    clipped_export = False
    if clipped_membrane is not None and margin > 0:
        clip_patch, _ = band_patch(clipped_membrane, box, margin)
        rows_out = np.r_[0:margin, margin + height : clip_patch.shape[1]]
        clipped_export = bool(clip_patch[:, rows_out].mean() >= CLIPPED_SHARE)
    noise = max(
        float(
            np.hypot(
                pixel_noise * np.sqrt(counted.size),
                background_uncertainty(method, pixel_noise, patch.shape[0], margin, height),
            )
        ),
        membrane.volume if membrane is not None else 0.0,
        membrane.local.get(box.lane, 0.0) if membrane is not None else 0.0,
    )
    snr = float(net / noise) if noise > 0 else (np.inf if net > 0 else 0.0)
    peak = None
    if membrane is not None and membrane.boxes:
        profile = patch.sum(axis=0)
        peak = peak_height(profile[margin : margin + height] - bg_rows) >= membrane.peak
    flags = _flags(
        snr,
        peak=peak,
        detected=box.detected,
        saturated=n_sat > 0,
        clipped=clipped,
        clipped_export=clipped_export,
        dust=bool(specks[:, margin : margin + height].any()),
        touching=box.touching,
        doublet=box.doublet,
        bubble=has_void(patch, margin, height, bg_rows, pixel_noise=pixel_noise),
    )
    return BandMeasurement(
        lane=box.lane,
        raw_volume=raw,
        background_volume=background,
        net_volume=net,
        saturated_pixels=n_sat,
        snr=snr,
        flags=flags,
        profile=patch.sum(axis=0),
        background=bg_rows,
    )


def _flags(
    snr: float,
    *,
    peak: bool | None,
    detected: bool,
    saturated: bool,
    clipped: bool,
    dust: bool,
    touching: bool,
    clipped_export: bool = False,
    doublet: bool = False,
    bubble: bool = False,
) -> tuple[str, ...]:
    """Give the band's flag words, in the order bands.csv lists them."""
    flags: list[str] = []
    if saturated:
        flags.append("saturated")
    # a band is a peak standing above what bare membrane of the image shows
    # (peak None: too little bare membrane to tell; the volume's noise decides).
    # A lane with no clear peak of its own still counts as a band if its
    # volume stands well clear of the noise (faint but real).
    no_peak = (snr < NO_BAND_SNR) if peak is None else not peak
    if no_peak or (not detected and snr < LOW_SNR):
        flags.append("no-band")
    elif snr < LOW_SNR:
        flags.append("low-snr")
    if clipped:
        flags.append("edge")
    if dust:
        flags.append("dust")
    if touching:
        flags.append("touching")
    if clipped_export:
        flags.append(CLIPPED_EXPORT)
    if doublet:
        flags.append(DOUBLET)
    if bubble:
        flags.append(BUBBLE)
    return tuple(flags)


def bands_table(experiment: Experiment, analyses: Sequence[ImageAnalysis]) -> pd.DataFrame:
    """Tabulate every measured band: the contract's bands.csv.

    Parameters
    ----------
    experiment : Experiment
        The config the analyses came from (lane metadata, membranes).
    analyses : sequence of ImageAnalysis
        One per image or region analysed.

    Returns
    -------
    DataFrame
        One row per band; columns :data:`~blotquant.tables.BANDS_LEADING`, the
        lane metadata keys, then :data:`~blotquant.tables.BANDS_MEASURED`
        (the columns are there even when no band is).
    """
    meta_keys = experiment.lane_keys()
    rows: list[dict[str, Any]] = []
    for a in analyses:
        m = a.measurement
        lanes = experiment.membrane(m.membrane).lanes
        for box, band in zip(a.boxes, a.bands, strict=True):
            lane = lanes[box.lane - 1]
            row: dict[str, Any] = {
                "membrane": m.membrane,
                "image": m.image,
                "antibody": m.antibody,
                "lane": box.lane,
            }
            for key in meta_keys:
                row[key] = lane.metadata.get(key)
            row.update(
                x_left=box.x_left + a.col_offset,
                x_right=box.x_right + a.col_offset,
                band_top=box.band_top + a.row_offset,
                band_bottom=box.band_bottom + a.row_offset,
                raw_volume=band.raw_volume,
                background_volume=band.background_volume,
                net_volume=band.net_volume,
                saturated_pixels=band.saturated_pixels,
                flags=band.flag_text,
                snr=round(band.snr, 2) if np.isfinite(band.snr) else band.snr,
                band_row=round(box.band_row + a.row_offset, 2),
                kda=round(a.ladder.kda_at(box.band_row), 2) if a.ladder else np.nan,
                lane_center=round(box.lane_x + a.col_offset, 2),
                channel=m.channel,
                polarity=a.polarity,
                background=m.analysis.background,
                exposure=band.exposure,
                exposure_factor=band.exposure_factor if band.exposure else np.nan,
            )
            rows.append(row)
    columns = [*BANDS_LEADING, *meta_keys, *BANDS_MEASURED]
    return pd.DataFrame(rows, columns=columns)
