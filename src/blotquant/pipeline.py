"""Analysing one image (or region): the stages in order, from pixels to band volumes.

A notebook user can call the stages one by one::

    from blotquant import config, io, pipeline
    exp = config.load_config("config.yaml")
    m = exp.measurements[0]
    image = io.read_image(m.path, m.channel)  # or io.BlotImage.from_array(pixels)
    result = pipeline.analyze_image(image, m, exp.membrane(m.membrane))
    result.lanes, result.boxes, result.bands

or run everything with :func:`blotquant.batch.run_experiment` (and tabulate
it with :func:`blotquant.quantify.bands_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from skimage.registration import phase_cross_correlation

from blotquant.background import background_image
from blotquant.bands import BandBox, box_heights, box_presence, find_bands, lane_boxes
from blotquant.errors import BlotquantError, OverExposedError
from blotquant.evidence import across_quantiles, band_residual, rows_with_bands
from blotquant.io import BlotImage
from blotquant.ladder import LadderFit, band_window, fit_ladder_lane
from blotquant.lanecheck import LaneEvidence, lane_evidence
from blotquant.lanes import LaneGeometry, find_lanes, fixed_lanes, follow_lanes
from blotquant.models import AnalysisSettings, Measurement, Membrane
from blotquant.polarity import Resolved, detect_polarity, signal_dtype, to_signal
from blotquant.quantify import (
    BandMeasurement,
    ImageAnalysis,
    image_noise,
    measure_band,
    membrane_noise,
)
from blotquant.saturation import limit_mask, membrane_limit_mask, saturated_plateaus
from blotquant.tables import LANES_UNCERTAIN
from blotquant.touching import balance_touching

#: Smallest lane spacing (pixels) blotquant will try to resolve.
MIN_LANE_PITCH = 6


def analyze_image(
    image: BlotImage,
    measurement: Measurement,
    membrane: Membrane,
    *,
    shared_lanes: SharedLanes | None = None,
) -> ImageAnalysis:
    """Find lanes and bands in one image (or region) and measure them.

    Parameters
    ----------
    image : BlotImage
        The whole image as exported (the region is cut here), with the
        detector's ceiling and floor (:func:`blotquant.io.read_image`, or
        :meth:`blotquant.io.BlotImage.from_array`).
    measurement : Measurement
        What to measure: antibody, region, band window, settings.
    membrane : Membrane
        The membrane's lanes (count, roles).
    shared_lanes : SharedLanes, optional
        Lanes already found for the whole membrane in this image (see
        :func:`membrane_lanes`), used instead of finding them in this region
        alone. Lanes given with ``lane_centers`` still win.

    Returns
    -------
    ImageAnalysis

    Raises
    ------
    BlotquantError
        If the region or the lane centres lie outside the image, or the image
        cannot be measured (too narrow for its lanes, too short, blank, or
        mostly saturated), or a band size is asked for without a ladder.
    """
    settings = measurement.analysis
    crop, frame_cut = membrane_crop(image, measurement)
    region, row_offset, col_offset, band_rows = _cut_region(image.pixels, measurement, crop)
    _refuse_unmeasurable(region, measurement, membrane)
    polarity = settings.polarity
    if polarity == "auto":
        detected = shared_lanes.polarity if shared_lanes is not None else None
        polarity = detected if detected is not None else detect_polarity(region)
    saturated, clipped, export_notes = _saturated_pixels(region, polarity, image, measurement)
    signal = to_signal(region, polarity, image.ceiling, signal_dtype(region))
    if shared_lanes is not None and measurement.lane_centers is None:
        lanes, residual, quantiles = shared_lanes.in_region(row_offset, region.shape[0])
        if residual is None:
            residual = band_residual(signal)
        rows = rows_with_bands(residual, quantiles)
        if shared_lanes.settle:
            lanes = follow_lanes(residual, lanes, rows=rows)
        evidence = lane_evidence(signal, lanes, residual=residual, rows=rows)
    else:
        lanes, evidence, rows = _place_lanes(signal, measurement, membrane, col_offset)
    if rows is None:
        # (every fourth column tells which rows hold bands)
        rows = rows_with_bands(band_residual(signal[:, ::4]))
    ladder, warnings = _fit_ladder(signal, lanes, measurement, membrane)
    warnings = (*export_notes, *warnings)
    if measurement.band_kda is not None:
        band_rows = _kda_rows(ladder, measurement, region.shape[0])
    sample_lanes = np.array([lane.loaded for lane in membrane.lanes])
    if measurement.stain is not None:
        # a total-protein stain: the lane's loading is the whole lane, not one band
        boxes = lane_boxes(
            lanes,
            sample_lanes,
            shape=signal.shape,
            rows=band_rows,
            margin=settings.background_margin,
        )
        heights = box_heights(signal, boxes)
    else:
        boxes = find_bands(
            signal,
            lanes,
            sample_lanes,
            band_rows=band_rows,
            margin=settings.background_margin,
            band=measurement.band,
        )
        heights = box_heights(signal, boxes)
        boxes = balance_touching(signal, boxes, pitch=lanes.pitch, heights=heights)
    noise = image_noise(signal, whole_counts=region.dtype.kind in "ui")
    bands = _measure_boxes(signal, boxes, settings, saturated, clipped, noise, rows)
    if evidence is not None:
        # a lane is bare only if its box holds no band either: a band that
        # slopes away from the membrane's band rows is missed by the columns
        boxed = box_presence(boxes, heights, len(membrane.lanes))
        evidence = replace(evidence, presence=np.maximum(evidence.presence, boxed))
    doubts = tuple(evidence.doubts()) if evidence is not None else ()
    if doubts:
        bands = tuple(replace(b, flags=(*b.flags, LANES_UNCERTAIN)) for b in bands)
        warnings = (*warnings, lanes_warning(measurement, membrane, doubts))
    return ImageAnalysis(
        measurement=measurement,
        polarity=polarity,
        row_offset=row_offset,
        col_offset=col_offset,
        lanes=lanes,
        boxes=tuple(boxes),
        bands=bands,
        pixel_noise=noise,
        warnings=warnings,
        ladder=ladder,
        lane_evidence=evidence,
        lane_doubts=doubts,
        crop=crop,
        frame_cut=frame_cut,
        region_shape=region.shape,
    )


def _measure_boxes(
    signal: np.ndarray,
    boxes: list[BandBox],
    settings: AnalysisSettings,
    saturated: np.ndarray,
    clipped: np.ndarray,
    noise: float,
    rows: np.ndarray,
) -> tuple[BandMeasurement, ...]:
    """Measure every box of a region: its background, then each band."""
    background, background_first_row = background_image(
        settings.background, signal, boxes, settings.rolling_ball_radius
    )
    bare = membrane_noise(
        signal, boxes, method=settings.background, band_rows=rows, pixel_noise=noise
    )
    return tuple(
        measure_band(
            signal,
            box,
            method=settings.background,
            saturated=saturated if saturated.any() else None,
            clipped_membrane=clipped if clipped.any() else None,
            background_image=background,
            pixel_noise=noise,
            background_row_offset=background_first_row,
            membrane=bare,
        )
        for box in boxes
    )


def measure_in_boxes(
    image: BlotImage,
    measurement: Measurement,
    reference: ImageAnalysis,
    *,
    reference_image: BlotImage | None = None,
) -> tuple[tuple[BandMeasurement, ...], tuple[int, int]]:
    """Measure an image in another image's boxes: the same membrane, imaged again.

    For an exposure series: every exposure of a membrane is measured in the
    boxes of one of them, so the scale between exposures is the bands' own.
    The imager does not move the membrane between exposures; when
    ``reference_image`` is given, the shift between the two is measured
    anyway (phase correlation) and followed, to the nearest pixel.

    Parameters
    ----------
    image : BlotImage
        The other image, turned as ``measurement`` asks.
    measurement : Measurement
        What it is (its saturation level, its background method).
    reference : ImageAnalysis
        The analysis whose region, polarity and boxes are used.
    reference_image : BlotImage, optional
        The image ``reference`` analysed, to register ``image`` to.

    Returns
    -------
    bands : tuple of BandMeasurement
        One per box of ``reference``.
    shift : (int, int)
        Rows and columns the image's membrane lies from the reference's.

    Raises
    ------
    BlotquantError
        If the image is not the reference's size, or is mostly saturated.
    """
    ref = reference.measurement
    region = _cut_region(image.pixels, ref, reference.crop)[0]
    same_size = reference_image is None or image.pixels.shape == reference_image.pixels.shape
    if not same_size or (reference.region_shape and region.shape != reference.region_shape):
        raise BlotquantError(
            f"{measurement.image}: this exposure is not the size of "
            f"{ref.image}{config_at(measurement)}; the exposures of a series "
            "are one membrane imaged in place, so they must be the same size. Export them "
            "alike (same binning, same crop)."
        )
    shift = (0, 0)
    if reference_image is not None:
        shift = _exposure_shift(region, _cut_region(reference_image.pixels, ref, reference.crop)[0])
        if shift != (0, 0):
            region = _cut_region(_shifted(image.pixels, shift), ref, reference.crop)[0]
    polarity: Resolved = "dark-bands" if reference.polarity == "dark-bands" else "light-bands"
    saturated, clipped, _ = _saturated_pixels(region, polarity, image, measurement)
    signal = to_signal(region, polarity, image.ceiling, signal_dtype(region))
    noise = image_noise(signal, whole_counts=region.dtype.kind in "ui")
    rows = rows_with_bands(band_residual(signal[:, ::4]))
    bands = _measure_boxes(
        signal, list(reference.boxes), measurement.analysis, saturated, clipped, noise, rows
    )
    return bands, shift


def _exposure_shift(region: np.ndarray, reference_region: np.ndarray) -> tuple[int, int]:
    """Rows and columns ``region``'s membrane lies from the reference's (phase correlation).

    On the logarithm of each region: exposures differ by a factor, which the
    logarithm makes an offset (the correlation's normalisation takes it away).
    """
    logs = [np.log1p(np.abs(np.asarray(r, float))) for r in (reference_region, region)]
    found, _, _ = phase_cross_correlation(logs[0], logs[1], normalization=None)
    dy, dx = (int(round(-v)) for v in found)
    return dy, dx


def _shifted(pixels: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """Move the image back by ``shift`` (edge pixels repeated where it runs out)."""
    dy, dx = shift
    if dy == 0 and dx == 0:
        return pixels
    height, width = pixels.shape
    rows = np.clip(np.arange(height) + dy, 0, height - 1)
    cols = np.clip(np.arange(width) + dx, 0, width - 1)
    return pixels[rows[:, None], cols[None, :]]


def config_at(measurement: Measurement) -> str:
    """Say where in the config a measurement is written, for a message: `` (config: FILE:LINE)``."""
    return f" (config: {measurement.source})" if measurement.source else ""


def _check_rows(name: str, rows: tuple[int, int], height: int, measurement: Measurement) -> None:
    top, bottom = rows
    if top < 0 or bottom > height or top >= bottom:
        raise BlotquantError(
            f"{measurement.image}: `{name}: [{top}, {bottom}]` is outside the image, which has "
            f"rows 0 to {height}{config_at(measurement)}. Give rows as [top, bottom] with "
            f"0 <= top < bottom <= {height}."
        )


def membrane_crop(
    image: BlotImage, measurement: Measurement
) -> tuple[tuple[int, int, int, int] | None, tuple[str, ...]]:
    """Settle the box of the image that is membrane: the config's ``crop``, or one found.

    With no ``crop`` (and not ``crop: full``), frames at the image's edges
    (:func:`blotquant.membrane.find_membrane`) are cut away. Lanes placed by
    hand keep every column (the user placed them), and a strip that lies in a
    found frame keeps every row (its rows are the user's).

    Returns
    -------
    crop : tuple of int or None
        ``(left, top, right, bottom)`` in image pixels; None for the whole image.
    cut : tuple of str
        The sides where a frame was found and cut ("left", "top", ...).
    """
    if measurement.crop is not None or not measurement.find_membrane:
        return measurement.crop, ()
    box = image.membrane
    left, top, right, bottom = box.crop
    height, width = image.pixels.shape
    keep: set[str] = set()
    if measurement.lane_centers is not None:
        keep |= {"left", "right"}
    if measurement.rows is not None and (
        measurement.rows[1] <= top or measurement.rows[0] >= bottom
    ):
        keep |= {"top", "bottom"}
    if "left" in keep:
        left, right = 0, width
    if "top" in keep:
        top, bottom = 0, height
    cut = tuple(side for side in box.cut if side not in keep)
    return ((left, top, right, bottom), cut) if cut else (None, ())


def _cut_region(
    pixels: np.ndarray,
    measurement: Measurement,
    crop: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, int, int, tuple[int, int] | None]:
    """Cut the measurement's region (``crop``, then ``rows``).

    ``crop`` is the box :func:`membrane_crop` settled on (the config's own
    ``crop`` is checked against the image here).

    Returns the region, its first image row and column, and its band window
    in region rows.
    """
    height, width = pixels.shape
    row_offset = col_offset = 0
    region = pixels
    if crop is not None:
        left, top, right, bottom = crop
        if right > width or bottom > height:
            raise BlotquantError(
                f"{measurement.image}: `crop: [{left}, {top}, {right}, {bottom}]` reaches outside "
                f"the image, which is {width} x {height} pixels{config_at(measurement)}. Give the "
                f"box as [left, top, right, bottom] with right <= {width} and bottom <= {height}"
                + (" (after `rotate`)." if measurement.rotate else ".")
            )
        region = pixels[top:bottom, left:right]
        row_offset, col_offset = top, left
    if measurement.rows is not None:
        _check_rows("rows", measurement.rows, height, measurement)
        top = max(measurement.rows[0], row_offset)
        bottom = min(measurement.rows[1], row_offset + region.shape[0])
        if top >= bottom:
            raise BlotquantError(
                f"{measurement.image}: `rows: {list(measurement.rows)}` lie outside "
                f"`crop: {list(measurement.crop or ())}`{config_at(measurement)}."
            )
        region = region[top - row_offset : bottom - row_offset]
        row_offset = top
    if measurement.band_rows is None:
        return region, row_offset, col_offset, None
    _check_rows("band_rows", measurement.band_rows, height, measurement)
    top, bottom = measurement.band_rows
    band_rows = (max(0, top - row_offset), min(region.shape[0], bottom - row_offset))
    if band_rows[0] >= band_rows[1]:
        raise BlotquantError(
            f"{measurement.image}: `band_rows: [{top}, {bottom}]` lies outside the region "
            f"`rows: {list(measurement.rows or ())}`{config_at(measurement)}. band_rows are "
            "image rows and must fall inside the region's rows."
        )
    return region, row_offset, col_offset, band_rows


def _refuse_unmeasurable(region: np.ndarray, measurement: Measurement, membrane: Membrane) -> None:
    """Refuse a region too narrow for its lanes, too short for a band, or blank."""
    n_lanes = len(membrane.lanes)
    height, width = region.shape
    if width < n_lanes * MIN_LANE_PITCH:
        raise BlotquantError(
            f"{measurement.image} is {width} pixels wide, too narrow for the {n_lanes} lanes of "
            f"membrane {membrane.name} (at least {MIN_LANE_PITCH} px per lane). Check the `lanes` "
            f"list and that the right image is named{config_at(measurement)}."
        )
    if height < 8:
        raise BlotquantError(
            f"{measurement.image}: the region is only {height} rows tall"
            f"{config_at(measurement)}; a band needs more. Check `rows`."
        )
    lo, hi = float(region.min()), float(region.max())
    if lo == hi:
        raise BlotquantError(
            f"{measurement.image}{config_at(measurement)}: every pixel has the value {lo:g}: the "
            "image is blank. Check the export (wrong channel or an empty capture?)."
        )


def _saturated_pixels(
    region: np.ndarray, polarity: Resolved, image: BlotImage, measurement: Measurement
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Find the region's saturated and clipped-membrane pixels; refuse it if over-exposed.

    Returns the clipped bands' plateaus, the pixels at the membrane's own
    limit (a clipped export), and notes on what else sits at a limit.
    """
    level = measurement.analysis.saturation_level
    # a share of a half is told as well from every third row and column
    sample = region[::3, ::3]
    over = float(limit_mask(sample, polarity, image.ceiling, level, image.floor).mean())
    clipped = membrane_limit_mask(region, polarity, image.ceiling, image.floor)
    if image.bit_depth > 8:
        # a raw detector image is never paper white: mostly at either limit, it is
        # over-exposed whichever way the bands were taken to go
        over = max(over, float(clipped[::3, ::3].mean()))
    if over > 0.5:
        raise OverExposedError(
            f"{measurement.image}{config_at(measurement)}: {over:.0%} of the pixels are at "
            "the detector's limit (saturated), so nothing in it can be measured. Image the "
            "membrane again with a shorter exposure.",
            share=over,
        )
    saturated, lone, marks = saturated_plateaus(region, polarity, image.ceiling, level, image.floor)
    notes: list[str] = []
    top = "brightest" if polarity == "light-bands" else "darkest"
    if lone and not saturated.any():
        notes.append(
            f"{measurement.image}: {lone} lone pixel(s) at the export's {top} value with none "
            "beside them: the export was contrast-stretched. A lone pixel is not saturation "
            "and is not flagged; a linear stretch changes no fold change, but the imager's "
            "raw file is the better measurement."
        )
    if marks:
        notes.append(
            f"{measurement.image}: {marks} pixel(s) at the {top} value have plain membrane "
            "right beside them (burned-in outlines, labels or marks); they are not counted as "
            "saturated bands. Export the image without annotations."
        )
    return saturated, clipped, tuple(notes)


def _place_lanes(
    signal: np.ndarray, measurement: Measurement, membrane: Membrane, col_offset: int = 0
) -> tuple[LaneGeometry, LaneEvidence | None, np.ndarray | None]:
    """Place the lanes where the config puts them, or find and check them in the signal.

    Lanes found automatically come with the membrane's evidence about them
    (:func:`blotquant.lanecheck.lane_evidence`) and the rows that hold bands;
    lanes given by hand are the user's call and are not second-guessed.
    """
    width = signal.shape[1]
    if measurement.lane_centers is None:
        # lanes from the whole image or region: ladder marks and other bands
        # outside band_rows help place them (band_rows only limits the band search)
        lanes, residual, quantiles = _membrane_lanes_in(
            signal, membrane, measurement.analysis.lane_width
        )
        rows = rows_with_bands(residual, quantiles)
        return lanes, lane_evidence(signal, lanes, residual=residual, rows=rows), rows
    # lane centres are image columns; the signal may start at a crop's left edge
    centers = np.asarray(measurement.lane_centers, dtype=float) - col_offset
    if centers.min() < 0 or centers.max() >= width:
        raise BlotquantError(
            f"{measurement.image}: `lane_centers` {list(measurement.lane_centers)} run "
            f"outside the image's columns 0 to {width - 1}{config_at(measurement)}."
        )
    lanes = fixed_lanes(centers, measurement.analysis.lane_width, (signal.shape[0] - 1) / 2.0)
    return lanes, None, None


@dataclass(frozen=True)
class SharedLanes:
    """Lanes found once for the strips of one membrane in one image.

    Attributes
    ----------
    lanes : LaneGeometry
        The lanes, ``ref_row`` in image rows (columns in the crop's columns).
    residual : ndarray, shape (n_rows, n_columns), or None
        :func:`blotquant.evidence.band_residual` of image rows ``top`` onwards,
        kept so that each strip's lane check need not compute its own.
    top : int
        Image row of the residual's first row.
    quantiles : dict or None
        :func:`blotquant.evidence.across_quantiles` of the residual (one
        value per row: a strip's are a slice of them).
    polarity : {'dark-bands', 'light-bands'} or None
        The polarity detected on all strips together (one export has one),
        for the strips whose ``polarity`` is ``auto``; None if it was set.
    """

    lanes: LaneGeometry
    residual: np.ndarray | None = None
    top: int = 0
    quantiles: dict[float, np.ndarray] | None = None
    polarity: Resolved | None = None
    #: Let each lane settle on the strip's own band (:func:`blotquant.lanes.follow_lanes`).
    settle: bool = True

    def in_region(
        self, row_offset: int, n_rows: int
    ) -> tuple[LaneGeometry, np.ndarray | None, dict[float, np.ndarray] | None]:
        """Give the lanes, residual and row quantiles of the strip from image row ``row_offset``."""
        lanes = replace(self.lanes, ref_row=self.lanes.ref_row - row_offset)
        if self.residual is None:
            return lanes, None, None
        rows = slice(row_offset - self.top, row_offset - self.top + n_rows)
        quantiles = None
        if self.quantiles is not None:
            quantiles = {level: values[rows] for level, values in self.quantiles.items()}
        return lanes, self.residual[rows], quantiles


def membrane_lanes(
    image: BlotImage, measurements: list[Measurement], membrane: Membrane
) -> SharedLanes | None:
    """Find one set of lanes for the strips (regions) of one membrane in one image.

    Strips cut from one membrane share its lanes. Found from all strips
    together, a strip whose bands merge (a saturated loading control) takes
    its lanes from the strips whose bands separate, and the tilt is read over
    the whole membrane. None unless there are two or more strips with
    automatic lanes under the same ``crop``.

    Parameters
    ----------
    image : BlotImage
        The image (as turned by ``rotate``).
    measurements : list of Measurement
        The measurements of this membrane on this image.
    membrane : Membrane
        Their membrane.

    Returns
    -------
    SharedLanes or None
    """
    height = image.pixels.shape[0]
    strips = [
        m
        for m in measurements
        if m.rows is not None and m.lane_centers is None and 0 <= m.rows[0] < m.rows[1] <= height
    ]
    if len(strips) < 2 or len({(m.crop, m.rotate, m.find_membrane) for m in strips}) != 1:
        return None
    first = strips[0]
    union = replace(
        first,
        rows=(min(m.rows[0] for m in strips), max(m.rows[1] for m in strips)),  # type: ignore[index]
        band_rows=None,
    )
    try:
        crop, _ = membrane_crop(image, union)
        region, row_offset, col_offset, _ = _cut_region(image.pixels, union, crop)
        detected = detect_polarity(region) if first.analysis.polarity == "auto" else None
        polarity = detected or first.analysis.polarity
        signal = to_signal(region, polarity, image.ceiling, signal_dtype(region))
        lanes, residual, quantiles = _membrane_lanes_in(signal, membrane, first.analysis.lane_width)
    except BlotquantError:
        return None  # (each strip then finds its lanes, and says what is wrong, on its own)
    ref_row = lanes.ref_row + row_offset
    return SharedLanes(
        replace(lanes, ref_row=ref_row), residual, row_offset, quantiles, polarity=detected
    )


def _membrane_lanes_in(
    signal: np.ndarray, membrane: Membrane, lane_width: float | None
) -> tuple[LaneGeometry, np.ndarray, dict[float, np.ndarray]]:
    """Find the membrane's lanes in a signal.

    Returns the lanes, the signal's band residual and the residual's row
    quantiles (:func:`blotquant.evidence.across_quantiles`), for the caller
    to keep.
    """
    residual = band_residual(signal)
    quantiles = across_quantiles(residual)
    lanes = find_lanes(
        signal,
        len(membrane.lanes),
        lane_width=lane_width,
        residual=residual,
        quantiles=quantiles,
        ladder_ends=_ladder_ends(membrane),
    )
    return lanes, residual, quantiles


def _ladder_ends(membrane: Membrane) -> tuple[int, int]:
    """How many ladder lanes stand at the left and at the right end of the membrane."""
    roles = [lane.role for lane in membrane.lanes]
    left = next((k for k, role in enumerate(roles) if role != "ladder"), len(roles))
    right = next((k for k, role in enumerate(reversed(roles)) if role != "ladder"), 0)
    return left, right


def lanes_warning(measurement: Measurement, membrane: Membrane, doubts: tuple[str, ...]) -> str:
    """Tell the user, in words, that this image's lanes do not fit what the membrane shows."""
    n = len(membrane.lanes)
    return (
        f"{measurement.image} [{measurement.antibody}]: the lanes may not be where the membrane "
        f"has them ({'; '.join(doubts)}), so its bands are flagged `{LANES_UNCERTAIN}`. Check "
        f"the `lanes` list of membrane {membrane.name} ({n} lanes listed; ladder and empty "
        f"lanes count too), or give `lane_centers`; see `blotquant inspect {measurement.path} "
        f"--lanes {n}`{config_at(measurement)}."
    )


def _fit_ladder(
    signal: np.ndarray, lanes: LaneGeometry, measurement: Measurement, membrane: Membrane
) -> tuple[LadderFit | None, tuple[str, ...]]:
    """Fit the ladder when the image names one; warn when its marks are not found."""
    lane = measurement.ladder_lane
    if lane is None:
        return None, ()
    if not 1 <= lane <= len(membrane.lanes):
        raise BlotquantError(
            f"{measurement.image}: `ladder: {{lane: {lane}}}` but membrane "
            f"{membrane.name} has {len(membrane.lanes)} lanes{config_at(measurement)}."
        )
    kda = measurement.ladder_kda or ()
    ladder = fit_ladder_lane(signal, lanes, lane, kda)
    if ladder is not None:
        return ladder, ()
    return None, (
        f"{measurement.image}: the ladder's {len(kda)} marks were "
        f"not found in lane {lane}{config_at(measurement)}; no kDa.",
    )


def _kda_rows(ladder: LadderFit | None, measurement: Measurement, n_rows: int) -> tuple[int, int]:
    """Turn ``band_kda`` into a band window, from the ladder."""
    if ladder is None:
        raise BlotquantError(
            f"{measurement.image}: `band_kda: {measurement.band_kda:g}` needs a ladder whose "
            f"marks are found{config_at(measurement)}. Give `ladder: {{lane: N, kda: [...]}}` "
            "or use band_rows instead."
        )
    return band_window(ladder, measurement.band_kda, measurement.band_kda_tolerance, n_rows)


# --- running a whole experiment ---------------------------------------------------------
