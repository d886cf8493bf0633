"""The analysis as a Python API: one image at a time, or a whole experiment.

A notebook user can call the stages one by one::

    from blotquant import config, io, pipeline
    exp = config.load_config("config.yaml")
    m = exp.measurements[0]
    image = io.read_image(m.path, m.channel)
    result = pipeline.analyze_image(image.pixels, image.ceiling, m, exp.membrane(m.membrane))
    result.lanes, result.boxes, result.bands

or run everything with :func:`run_experiment` and get tidy DataFrames.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blotquant.bands import BandBox, find_bands
from blotquant.errors import BlotquantError
from blotquant.io import BlotImage, read_image
from blotquant.lanes import LaneGeometry, find_lanes, fixed_lanes
from blotquant.models import Experiment, Measurement, Membrane
from blotquant.polarity import detect_polarity, saturation_mask, to_signal
from blotquant.quantify import BandMeasurement, measure_band, noise_sigma
from blotquant.tables import BANDS_LEADING, BANDS_MEASURED

#: Smallest lane spacing (pixels) blotquant will try to resolve.
MIN_LANE_PITCH = 6


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything blotquant decided about one image (or region) and measured in it.

    Rows of ``lanes`` and ``boxes`` are relative to ``row_offset`` (the top of
    the region); add it for image rows.
    """

    measurement: Measurement
    polarity: str
    row_offset: int
    lanes: LaneGeometry
    boxes: tuple[BandBox, ...]
    bands: tuple[BandMeasurement, ...]
    pixel_noise: float
    warnings: tuple[str, ...] = ()
    #: The molecular-weight ladder's fit, when the image names its ladder.
    ladder: Any = None


@dataclass
class RunResult:
    """The outcome of a run: measurements, failures and what to draw."""

    analyses: list[ImageAnalysis] = field(default_factory=list)
    #: (file or measurement, message) of every input that was rejected.
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: SHA-256 of every input file read.
    hashes: dict[str, str] = field(default_factory=dict)
    #: QC picture name -> PNG bytes (empty when they were written to ``qc_dir``).
    qc_pictures: dict[str, bytes] = field(default_factory=dict)
    #: Names of the QC pictures written to ``qc_dir`` as they came.
    qc_written: list[str] = field(default_factory=list)
    #: QC picture name -> small JPEG of it, for report.html (kept in memory).
    qc_thumbnails: dict[str, bytes] = field(default_factory=dict)


def _where(measurement: Measurement) -> str:
    return f" (config: {measurement.source})" if measurement.source else ""


def _check_rows(name: str, rows: tuple[int, int], height: int, measurement: Measurement) -> None:
    top, bottom = rows
    if top < 0 or bottom > height or top >= bottom:
        raise BlotquantError(
            f"{measurement.image}: `{name}: [{top}, {bottom}]` is outside the image, which has "
            f"rows 0 to {height}{_where(measurement)}. Give rows as [top, bottom] with "
            f"0 <= top < bottom <= {height}."
        )


def analyze_image(
    pixels: np.ndarray,
    ceiling: float | None,
    measurement: Measurement,
    membrane: Membrane,
    floor: float | None = None,
) -> ImageAnalysis:
    """Find lanes and bands in one image (or region) and measure them.

    Parameters
    ----------
    pixels : ndarray
        The whole 2-D image as exported (the region is cut here).
    ceiling : float or None
        The detector's largest value (255, 65535, or a lower clipping
        plateau) or None if unknown.
    measurement : Measurement
        What to measure: antibody, region, band window, settings.
    membrane : Membrane
        The membrane's lanes (count, roles).
    floor : float or None
        The detector's smallest value (saturation of dark bands); by default
        0 for unsigned-integer images and none for floating-point ones.

    Returns
    -------
    ImageAnalysis
    """
    settings = measurement.analysis
    if floor is None and pixels.dtype.kind == "u":
        floor = 0.0
    height, width = pixels.shape
    warnings: list[str] = []
    row_offset = 0
    region = pixels
    if measurement.rows is not None:
        _check_rows("rows", measurement.rows, height, measurement)
        row_offset = measurement.rows[0]
        region = pixels[measurement.rows[0] : measurement.rows[1]]
    band_rows = None
    if measurement.band_rows is not None:
        _check_rows("band_rows", measurement.band_rows, height, measurement)
        top, bottom = measurement.band_rows
        band_rows = (max(0, top - row_offset), min(region.shape[0], bottom - row_offset))
        if band_rows[0] >= band_rows[1]:
            raise BlotquantError(
                f"{measurement.image}: `band_rows: [{top}, {bottom}]` lies outside the region "
                f"`rows: {list(measurement.rows or ())}`{_where(measurement)}. band_rows are "
                "image rows and must fall inside the region's rows."
            )

    n_lanes = len(membrane.lanes)
    if width < n_lanes * MIN_LANE_PITCH:
        raise BlotquantError(
            f"{measurement.image} is {width} pixels wide, too narrow for the {n_lanes} lanes of "
            f"membrane {membrane.name} (at least {MIN_LANE_PITCH} px per lane). Check the `lanes` "
            f"list and that the right image is named{_where(measurement)}."
        )
    if region.shape[0] < 8:
        raise BlotquantError(
            f"{measurement.image}: the region is only {region.shape[0]} rows tall"
            f"{_where(measurement)}; a band needs more. Check `rows`."
        )
    lo, hi = float(region.min()), float(region.max())
    if lo == hi:
        raise BlotquantError(
            f"{measurement.image}{_where(measurement)}: every pixel has the value {lo:g}: the "
            "image is blank. Check the export (wrong channel or an empty capture?)."
        )

    # an image mostly at either limit is over-exposed, whichever way the bands go
    # (a share of a half is told as well from every third row and column)
    sample = region[::3, ::3]
    at_limit = max(
        float(saturation_mask(sample, "light-bands", ceiling, settings.saturation_level).mean()),
        float(saturation_mask(sample, "dark-bands", ceiling, None, floor).mean()),
    )
    polarity = settings.polarity
    if polarity == "auto":
        polarity = detect_polarity(region)
    sat = saturation_mask(region, polarity, ceiling, settings.saturation_level, floor)
    saturated_share = max(float(sat.mean()), at_limit)
    if saturated_share > 0.5:
        raise BlotquantError(
            f"{measurement.image}{_where(measurement)}: {saturated_share:.0%} of the pixels are at "
            "the detector's limit (saturated), so nothing in it can be measured. Image the "
            "membrane again with a shorter exposure."
        )
    # 8- and 16-bit counts are exact in single precision; sums are taken in double
    exact32 = region.dtype.kind in "ui" and region.dtype.itemsize <= 2
    signal = to_signal(region, polarity, ceiling, np.float32 if exact32 else np.float64)

    if measurement.lane_centers is not None:
        centers = np.asarray(measurement.lane_centers, dtype=float)
        if centers.min() < 0 or centers.max() >= width:
            raise BlotquantError(
                f"{measurement.image}: `lane_centers` {list(measurement.lane_centers)} run "
                f"outside the image's columns 0 to {width - 1}{_where(measurement)}."
            )
        lanes = fixed_lanes(centers, settings.lane_width, (region.shape[0] - 1) / 2.0)
    else:
        # lanes from the whole image or region: ladder marks and other bands
        # outside band_rows help place them (band_rows only limits the band search)
        lanes = find_lanes(signal, n_lanes, lane_width=settings.lane_width)
    roles = np.array([lane.role == "sample" for lane in membrane.lanes])
    ladder = None
    if measurement.ladder_lane is not None:
        from blotquant.bands import lane_profiles
        from blotquant.ladder import fit_ladder

        if not 1 <= measurement.ladder_lane <= n_lanes:
            raise BlotquantError(
                f"{measurement.image}: `ladder: {{lane: {measurement.ladder_lane}}}` but membrane "
                f"{membrane.name} has {n_lanes} lanes{_where(measurement)}."
            )
        profile = lane_profiles(signal, lanes)[measurement.ladder_lane - 1]
        ladder = fit_ladder(profile, measurement.ladder_kda or ())
        if ladder is None:
            warnings.append(
                f"{measurement.image}: the ladder's {len(measurement.ladder_kda or ())} marks were "
                f"not found in lane {measurement.ladder_lane}{_where(measurement)}; no kDa."
            )
    if measurement.band_kda is not None:
        if ladder is None:
            raise BlotquantError(
                f"{measurement.image}: `band_kda: {measurement.band_kda:g}` needs a ladder whose "
                f"marks are found{_where(measurement)}. Give `ladder: {{lane: N, kda: [...]}}` "
                "or use band_rows instead."
            )
        tol = measurement.band_kda_tolerance
        top = ladder.row_at(measurement.band_kda * (1 + tol))
        bottom = ladder.row_at(measurement.band_kda * (1 - tol))
        band_rows = (max(0, int(np.floor(top))), min(region.shape[0], int(np.ceil(bottom)) + 1))
    boxes = find_bands(signal, lanes, roles, band_rows=band_rows, margin=settings.background_margin)
    background_image = None
    first = 0
    if settings.background == "rolling-ball" and boxes:
        from blotquant.rollingball import rolling_ball_rows

        # only the rows the boxes and their margins read
        tops = [int(b.column_tops()[1].min()) - b.margin for b in boxes]
        bottoms = [int(b.column_tops()[1].max()) + b.height + b.margin for b in boxes]
        first, last = max(0, min(tops)), min(signal.shape[0], max(bottoms) + 1)
        background_image = rolling_ball_rows(signal, settings.rolling_ball_radius, (first, last))
    noise = noise_sigma(signal)
    if pixels.dtype.kind in "ui":
        # rounding to whole counts adds noise of 1/sqrt(12) count, whatever the image shows
        noise = max(noise, 1.0 / np.sqrt(12.0))
    bands = tuple(
        measure_band(
            signal,
            box,
            method=settings.background,
            saturated=sat,
            background_image=background_image,
            pixel_noise=noise,
            background_row_offset=first,
        )
        for box in boxes
    )
    return ImageAnalysis(
        measurement=measurement,
        polarity=polarity,
        row_offset=row_offset,
        lanes=lanes,
        boxes=tuple(boxes),
        bands=bands,
        pixel_noise=noise,
        warnings=tuple(warnings),
        ladder=ladder,
    )


# --- running a whole experiment ---------------------------------------------------------


@dataclass(frozen=True)
class _FileTask:
    path: Path
    measurements: tuple[Measurement, ...]
    membranes: dict[str, Membrane]
    qc: bool
    #: Where the worker writes its QC pictures itself (None: send them back).
    qc_dir: Path | None = None


def _group_by_file(experiment: Experiment) -> list[_FileTask]:
    """One task per image file, so each file is read once (regions, channels)."""
    order: dict[Path, list[Measurement]] = {}
    for m in experiment.measurements:
        order.setdefault(m.path, []).append(m)
    membranes = {m.name: m for m in experiment.membranes}
    return [
        _FileTask(path, tuple(ms), {m.membrane: membranes[m.membrane] for m in ms}, True)
        for path, ms in order.items()
    ]


def _run_file(task: _FileTask) -> RunResult:
    """Read one file once and analyse every measurement on it."""
    from blotquant.qc import qc_name, render_qc_and_thumbnail

    outcome = RunResult()
    images: dict[int, BlotImage] = {}
    for m in task.measurements:
        try:
            if m.channel not in images:
                images[m.channel] = read_image(m.path, m.channel)
                image = images[m.channel]
                outcome.hashes[str(m.path)] = image.sha256
                outcome.warnings.extend(image.warnings)
            image = images[m.channel]
            analysis = analyze_image(
                image.pixels, image.ceiling, m, task.membranes[m.membrane], image.floor
            )
            outcome.analyses.append(analysis)
            outcome.warnings.extend(analysis.warnings)
        except BlotquantError as exc:
            message = str(exc)
            if m.source and "config:" not in message:
                message += f" (config: {m.source})"
            outcome.failures.append((f"{m.image} [{m.antibody}]", message))
    if task.qc:
        by_channel: dict[int, list[ImageAnalysis]] = {}
        for a in outcome.analyses:
            by_channel.setdefault(a.measurement.channel, []).append(a)
        for channel, analyses in by_channel.items():
            name = qc_name(analyses[0].measurement, len(images) > 1 or channel != 0)
            picture, thumbnail = render_qc_and_thumbnail(images[channel], analyses)
            if task.qc_dir is not None:
                # written here, in the worker: the main process need not receive
                # and write every picture (it would compete with the workers)
                (task.qc_dir / name).write_bytes(picture)
                outcome.qc_written.append(name)
            else:
                outcome.qc_pictures[name] = picture
            if thumbnail is not None:
                outcome.qc_thumbnails[name] = thumbnail
    return outcome


def _run_file_safely(task: _FileTask) -> RunResult:
    try:
        return _run_file(task)
    except Exception as exc:  # a bug must not cost the user the other images
        outcome = RunResult()
        outcome.failures.append(
            (
                str(task.path.name),
                f"{task.path}: internal error while analysing this image "
                f"({type(exc).__name__}: {exc}). Please report it with the image and config.",
            )
        )
        return outcome


def run_experiment(
    experiment: Experiment,
    *,
    jobs: int = 1,
    qc: bool = True,
    progress: Callable[[int, int], None] | None = None,
    qc_dir: Path | None = None,
) -> RunResult:
    """Analyse every image of an experiment.

    Parameters
    ----------
    experiment : Experiment
        A validated config (:func:`blotquant.config.load_config`).
    jobs : int
        Worker processes; 1 runs in this process.
    qc : bool
        Render QC pictures.
    progress : callable, optional
        Called with (done, total) after each image file.
    qc_dir : Path, optional
        Write each QC picture there as soon as it is drawn, instead of keeping
        them all in memory (a folder of hundreds of exports).

    Returns
    -------
    RunResult
    """
    tasks = [
        _FileTask(t.path, t.measurements, t.membranes, qc, qc_dir if qc else None)
        for t in _group_by_file(experiment)
    ]
    result = RunResult(warnings=list(experiment.warnings))
    total = len(tasks)
    outcomes: Iterable[RunResult]
    if jobs > 1 and total > 1:
        workers = min(jobs, total, os.cpu_count() or jobs)
        pool = ProcessPoolExecutor(max_workers=workers)
        outcomes = pool.map(_run_file_safely, tasks)
    else:
        pool = None
        outcomes = map(_run_file_safely, tasks)
    try:
        for done, outcome in enumerate(outcomes, start=1):
            result.analyses.extend(outcome.analyses)
            result.failures.extend(outcome.failures)
            result.hashes.update(outcome.hashes)
            result.qc_written.extend(outcome.qc_written)
            result.qc_pictures.update(outcome.qc_pictures)
            result.qc_thumbnails.update(outcome.qc_thumbnails)
            for w in outcome.warnings:
                if w not in result.warnings:
                    result.warnings.append(w)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return result


def bands_table(experiment: Experiment, analyses: Sequence[ImageAnalysis]) -> pd.DataFrame:
    """One row per measured band: the contract's bands.csv."""
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
                x_left=box.x_left,
                x_right=box.x_right,
                band_top=box.band_top + a.row_offset,
                band_bottom=box.band_bottom + a.row_offset,
                raw_volume=band.raw_volume,
                background_volume=band.background_volume,
                net_volume=band.net_volume,
                saturated_pixels=band.saturated_pixels,
                flags=band.flag_text,
                snr=round(band.snr, 2) if np.isfinite(band.snr) else band.snr,
                band_row=round(box.center_row + a.row_offset, 2),
                kda=round(a.ladder.kda_at(box.center_row), 2) if a.ladder else np.nan,
                lane_center=round(box.lane_x, 2),
                channel=m.channel,
                polarity=a.polarity,
                background=m.analysis.background,
            )
            rows.append(row)
    columns = [*BANDS_LEADING, *meta_keys, *BANDS_MEASURED]
    return pd.DataFrame(rows, columns=columns)
