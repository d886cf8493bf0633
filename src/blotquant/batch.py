"""Running a whole experiment: every file read once, files in parallel, membranes checked.

:func:`run_experiment` analyses each image file in a worker (its regions and
channels share one read and one lane search per membrane), draws its QC
picture there, and then looks at each membrane as a whole: lanes in doubt on
any of its images flag all of them (:mod:`blotquant.lanecheck`).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from blotquant.errors import BlotquantError, OverExposedError
from blotquant.exposures import exposure_seconds, merge_analysis
from blotquant.io import BlotImage, read_image
from blotquant.lanecheck import bare_lanes
from blotquant.lanes import LaneGeometry
from blotquant.models import Experiment, Measurement, Membrane
from blotquant.pipeline import (
    SharedLanes,
    analyze_image,
    config_at,
    lanes_warning,
    measure_in_boxes,
    membrane_lanes,
)
from blotquant.qc import qc_name, render_qc_and_thumbnail
from blotquant.quantify import BandMeasurement, ImageAnalysis
from blotquant.register import Fingerprint, Registration, fingerprint, register
from blotquant.tables import LANES_UNCERTAIN

#: An image as the analysis sees it: file, channel, rotation.
View = tuple[Path, int, float]


@dataclass
class BatchAnalyses:
    """The analyses of a batch of images: measurements, failures and what to draw."""

    analyses: list[ImageAnalysis] = field(default_factory=list)
    #: (file or measurement, message) of every input that was rejected.
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: SHA-256 of every input file read.
    hashes: dict[str, str] = field(default_factory=dict)
    #: What imagers' own files say about their acquisition (exposure, binning, ...).
    acquisition: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: QC picture name -> PNG bytes (empty when they were written to ``qc_dir``).
    qc_pictures: dict[str, bytes] = field(default_factory=dict)
    #: Names of the QC pictures written to ``qc_dir`` as they came.
    qc_written: list[str] = field(default_factory=list)
    #: QC picture name -> small JPEG of it, for report.html (kept in memory).
    qc_thumbnails: dict[str, bytes] = field(default_factory=dict)
    #: Fingerprints of the views whose membrane has other images to register to.
    fingerprints: dict[View, Fingerprint] = field(default_factory=dict)
    #: exposures.csv: the fitted scales of every exposure series.
    exposure_rows: list[dict[str, Any]] = field(default_factory=list)
    #: (series, image, message) of each exposure left out for being over-exposed.
    overexposed: list[tuple[tuple[Any, ...], str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _FileTask:
    path: Path
    measurements: tuple[Measurement, ...]
    membranes: dict[str, Membrane]
    qc: bool
    #: Where the worker writes its QC pictures itself (None: send them back).
    qc_dir: Path | None = None
    #: Membranes imaged in other files or channels too: their views are
    #: fingerprinted, to be registered to each other.
    registered: frozenset[str] = frozenset()


def _group_by_file(experiment: Experiment) -> list[_FileTask]:
    """One task per image file, so each file is read once (regions, channels)."""
    order: dict[Path, list[Measurement]] = {}
    for m in experiment.measurements:
        order.setdefault(m.path, []).append(m)
    membranes = {m.name: m for m in experiment.membranes}
    registered = frozenset(_imaged_more_than_once(experiment.measurements))
    return [
        _FileTask(
            path,
            tuple(ms),
            {m.membrane: membranes[m.membrane] for m in ms},
            True,
            registered=registered & {m.membrane for m in ms},
        )
        for path, ms in order.items()
    ]


def _imaged_more_than_once(measurements: Iterable[Measurement]) -> set[str]:
    """Name the membranes seen in more than one view, automatic lanes sought in one at least."""
    views: dict[str, set[View]] = {}
    automatic: set[str] = set()
    for m in measurements:
        views.setdefault(m.membrane, set()).add((m.path, m.channel, m.rotate))
        if m.lane_centers is None:
            automatic.add(m.membrane)
    return {name for name, seen in views.items() if len(seen) > 1 and name in automatic}


def _run_file(task: _FileTask) -> BatchAnalyses:
    """Read one file once and analyse every measurement on it."""
    outcome = BatchAnalyses()
    read: dict[int, BlotImage] = {}
    # (channel, rotate) -> the image as each measurement asks to see it
    images: dict[tuple[int, float], BlotImage] = {}
    # (membrane, channel, rotate) -> the lanes its strips share in this file
    shared: dict[tuple[str, int, float], SharedLanes | None] = {}
    for m in task.measurements:
        try:
            if m.channel not in read:
                read[m.channel] = read_image(m.path, m.channel)
                outcome.hashes[str(m.path)] = read[m.channel].sha256
                if read[m.channel].acquisition:
                    outcome.acquisition[str(m.path)] = dict(read[m.channel].acquisition)
                outcome.warnings.extend(read[m.channel].warnings)
            key = (m.channel, m.rotate)
            if key not in images:
                images[key] = read[m.channel].rotated(m.rotate)
            image = images[key]
            view = (m.membrane, m.channel, m.rotate)
            if view not in shared:
                together = [
                    n for n in task.measurements if (n.membrane, n.channel, n.rotate) == view
                ]
                shared[view] = membrane_lanes(image, together, task.membranes[m.membrane])
            analysis = analyze_image(
                image, m, task.membranes[m.membrane], shared_lanes=shared[view]
            )
            outcome.analyses.append(analysis)
            if m.membrane in task.registered:
                whole = (m.path, m.channel, m.rotate)
                if whole not in outcome.fingerprints:
                    outcome.fingerprints[whole] = fingerprint(image.pixels)
            outcome.warnings.extend(analysis.warnings)
        except OverExposedError as exc:
            if not m.series:
                outcome.failures.append((f"{m.image} [{m.antibody}]", _with_source(exc, m)))
                continue
            # one exposure of a series: the series does without it (unless it is all there is)
            outcome.overexposed.append((_series_key(m), m.image, _with_source(exc, m)))
            outcome.warnings.append(
                f"{m.image} ({m.antibody} on {m.membrane}): {exc.share:.0%} of its pixels are at "
                "the detector's limit, so this exposure of the series is left out; its other "
                "exposures are used."
            )
        except BlotquantError as exc:
            outcome.failures.append((f"{m.image} [{m.antibody}]", _with_source(exc, m)))
    if task.qc:
        by_view: dict[tuple[int, float], list[ImageAnalysis]] = {}
        for a in outcome.analyses:
            by_view.setdefault((a.measurement.channel, a.measurement.rotate), []).append(a)
        for (channel, rotate), analyses in by_view.items():
            name = qc_name(analyses[0].measurement, len(read) > 1 or channel != 0)
            if sum(view[0] == channel for view in by_view) > 1:
                name = name.replace(".png", f"_turned{rotate:g}.png")
            picture, thumbnail = render_qc_and_thumbnail(
                images[(channel, rotate)], analyses, lane_names=_lane_names(task.membranes.values())
            )
            written = False
            if task.qc_dir is not None:
                # written here, in the worker: the main process need not receive
                # and write every picture (it would compete with the workers);
                # if it cannot (a full disk), the main process tries and says why
                with contextlib.suppress(OSError):
                    (task.qc_dir / name).write_bytes(picture)
                    written = True
            if written:
                outcome.qc_written.append(name)
            else:
                outcome.qc_pictures[name] = picture
            if thumbnail is not None:
                outcome.qc_thumbnails[name] = thumbnail
    return outcome


def _with_source(exc: BlotquantError, m: Measurement) -> str:
    """Word the error with where the config writes the measurement."""
    message = str(exc)
    if m.source and "config:" not in message:
        message += f" (config: {m.source})"
    return message


def _series_key(m: Measurement) -> tuple[Any, ...]:
    """Name the series an exposure belongs to: membrane, series, antibody and strip."""
    return (m.membrane, m.series, m.antibody, m.rows)


def _in_workers(tasks: list[_FileTask], workers: int) -> Iterator[BatchAnalyses]:
    """Run the tasks in worker processes, yielding their outcomes in task order.

    A worker that dies (the out-of-memory killer, a crash in a library) costs
    only the image it was analysing: the images after it are run again one at
    a time, each in a fresh worker, and the one that kills its worker is
    reported as a failure. Ctrl-C or SIGTERM in the parent stops every worker
    at once (they ignore Ctrl-C themselves, so only the parent reports it).
    """
    pending = list(tasks)
    width = workers
    while pending:
        pool = ProcessPoolExecutor(max_workers=width, initializer=_worker_ignores_ctrl_c)
        try:
            futures = [pool.submit(_run_file_safely, task) for task in pending]
            for future in futures:
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    break
                pending.pop(0)
                yield outcome
            else:
                continue
            if width == 1:  # alone in its worker, this image is what killed it
                yield _lost(pending.pop(0))
            width = 1
        finally:
            _stop(pool)


def _worker_ignores_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (a forked worker inherits the CLI's)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut a pool down, ending its workers at once if work is left."""
    processes = list(getattr(pool, "_processes", {}).values())  # (no public handle)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


def _lost(task: _FileTask) -> BatchAnalyses:
    outcome = BatchAnalyses()
    outcome.failures.append(
        (
            str(task.path.name),
            f"{task.path}: the process analysing this image stopped (killed, perhaps "
            "because the computer ran out of memory); it was not measured. The other "
            "images were. Run again with fewer --jobs, or on a computer with more memory.",
        )
    )
    return outcome


def _run_file_safely(task: _FileTask) -> BatchAnalyses:
    try:
        return _run_file(task)
    except Exception as exc:  # a bug must not cost the user the other images
        outcome = BatchAnalyses()
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
) -> BatchAnalyses:
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
    BatchAnalyses
    """
    tasks = [replace(t, qc=qc, qc_dir=qc_dir if qc else None) for t in _group_by_file(experiment)]
    result = BatchAnalyses(warnings=list(experiment.warnings))
    total = len(tasks)
    outcomes: Iterable[BatchAnalyses]
    if jobs > 1 and total > 1:
        outcomes = _in_workers(tasks, min(jobs, total, os.cpu_count() or jobs))
    else:
        outcomes = map(_run_file_safely, tasks)
    for done, outcome in enumerate(outcomes, start=1):
        result.analyses.extend(outcome.analyses)
        result.failures.extend(outcome.failures)
        result.hashes.update(outcome.hashes)
        result.acquisition.update(outcome.acquisition)
        result.qc_written.extend(outcome.qc_written)
        result.qc_pictures.update(outcome.qc_pictures)
        result.qc_thumbnails.update(outcome.qc_thumbnails)
        result.fingerprints.update(outcome.fingerprints)
        result.overexposed.extend(outcome.overexposed)
        for w in outcome.warnings:
            if w not in result.warnings:
                result.warnings.append(w)
        if progress is not None:
            progress(done, total)
    # membrane-wide steps, in this process: each image they touch is read once,
    # and its QC picture drawn again once, after both
    views: dict[View, BlotImage] = {}
    redraw, registered = _hold_to_registered_lanes(result, experiment, views)
    redraw |= _place_unseen_lanes(result, experiment, views, skip=registered)
    redraw |= _flag_doubtful_membranes(result, experiment)
    redraw |= _merge_exposure_series(
        result, views, qc_dir if qc else None, _lane_names(experiment.membranes), qc=qc
    )
    if qc:
        for key in redraw:
            try:
                image = _view(views, key)
            except BlotquantError:
                continue
            _redraw_qc(result, image, key, qc_dir, _lane_names(experiment.membranes))
    return result


def _merge_exposure_series(
    result: BatchAnalyses,
    views: dict[View, BlotImage],
    qc_dir: Path | None,
    lane_names: dict[str, list[str]],
    *,
    qc: bool,
) -> set[View]:
    """Merge each exposure series into one analysis (see :mod:`blotquant.exposures`).

    Every exposure is measured in the boxes of the longest one; each band
    keeps the volume of its longest unsaturated exposure, brought to the
    longest's scale. The other exposures' QC pictures are drawn again in
    those boxes; the merged analysis takes the longest's place.

    Returns
    -------
    set of View
        The views whose QC picture is to be drawn again (the longest exposures).
    """
    series: dict[tuple[Any, ...], list[int]] = {}
    for i, a in enumerate(result.analyses):
        m = a.measurement
        if m.series:
            series.setdefault(_series_key(m), []).append(i)
    for key, image, message in result.overexposed:
        if key not in series:
            # every exposure of the series was over-exposed: nothing to measure it in
            result.failures.append((f"{image} [{key[2]}]", message))
    redraw: set[View] = set()
    drop: set[int] = set()
    for (membrane, _, antibody, _), members in series.items():
        if len(members) < 2:
            continue
        analyses = [result.analyses[i] for i in members]
        seconds = [
            a.measurement.exposure_s
            if a.measurement.exposure_s is not None
            else exposure_seconds(result.acquisition.get(str(a.measurement.path), {}))
            for a in analyses
        ]
        known = all(t is not None for t in seconds)
        # the boxes: the longest exposure's (by time, else by brightness), where faint bands show
        if known:
            ref = int(np.argmax(seconds))  # type: ignore[arg-type]
        else:
            ref = int(
                np.argmax([np.median([b.net_volume for b in a.bands] or [0.0]) for a in analyses])
            )
        reference = analyses[ref]
        measured: list[tuple[int, tuple[BandMeasurement, ...]]] = []
        shifts: dict[int, tuple[int, int]] = {}
        for k, a in enumerate(analyses):
            if k == ref:
                measured.append((k, reference.bands))
                continue
            try:
                image = _view(views, _view_of(a))
                bands, shift = measure_in_boxes(
                    image,
                    a.measurement,
                    reference,
                    reference_image=_view(views, _view_of(reference)),
                )
            except BlotquantError as exc:
                result.failures.append((f"{a.measurement.image} [{antibody}]", str(exc)))
                continue
            measured.append((k, bands))
            shifts[k] = shift
            if shift != (0, 0):
                result.warnings.append(
                    f"{a.measurement.image} ({antibody} on {membrane}) lies {shift[0]} row(s) and "
                    f"{shift[1]} column(s) from {reference.measurement.image}: the membrane moved "
                    "between exposures; it was measured where its bands are."
                )
        if len(measured) < 2:
            continue
        # shortest first: by time, else by the bands' volumes in the same boxes
        if known:
            measured.sort(key=lambda item: seconds[item[0]])  # type: ignore[arg-type,return-value]
        else:
            measured.sort(key=lambda item: float(np.median([b.net_volume for b in item[1]])))
        files = tuple(analyses[k].measurement.image for k, _ in measured)
        merged, rows = merge_analysis(
            reference,
            [bands for _, bands in measured],
            files,
            [seconds[k] for k, _ in measured],
        )
        for row in rows:
            result.exposure_rows.append({"membrane": membrane, "antibody": antibody, **row})
        for k, bands in measured:
            if k != ref:
                # its QC picture: its own pixels, in the boxes its volumes came from
                i = members[k]
                dy, dx = shifts.get(k, (0, 0))
                again = replace(
                    reference,
                    measurement=analyses[k].measurement,
                    bands=bands,
                    row_offset=reference.row_offset + dy,
                    col_offset=reference.col_offset + dx,
                )
                result.analyses[i] = replace(again, warnings=analyses[k].warnings)
                if qc:
                    _redraw_qc(
                        result, _view(views, _view_of(again)), _view_of(again), qc_dir, lane_names
                    )
                drop.add(i)
        _replace_analysis(result, members[ref], merged)
        redraw.add(_view_of(merged))
    result.analyses = [a for i, a in enumerate(result.analyses) if i not in drop]
    return redraw


def _view(views: dict[View, BlotImage], key: View) -> BlotImage:
    """Read (once) the image of a view, turned as its measurements ask."""
    if key not in views:
        views[key] = read_image(key[0], key[1]).rotated(key[2])
    return views[key]


def _flag_doubtful_membranes(result: BatchAnalyses, experiment: Experiment) -> set[View]:
    """Flag every band of a membrane whose lanes are in doubt in any of its images.

    The images of one membrane share one lane list, so a count that does not
    fit one of them puts all of them in question. A sample lane bare in every
    image, the total and loading-control bands too, was most likely never
    loaded: the config lists more lanes than the membrane has.

    Returns the views (file, channel, rotate) whose QC pictures were drawn
    before their lanes came into doubt here, to be drawn again.
    """
    redraw: set[View] = set()
    by_membrane: dict[str, list[int]] = {}
    for i, analysis in enumerate(result.analyses):
        by_membrane.setdefault(analysis.measurement.membrane, []).append(i)
    for name, indices in by_membrane.items():
        analyses = [result.analyses[i] for i in indices]
        membrane = experiment.membrane(name)
        sample = np.array([lane.loaded for lane in membrane.lanes])
        presences = [a.lane_evidence.presence for a in analyses if a.lane_evidence is not None]
        bare = bare_lanes(presences, sample)
        doubted = [a for a in analyses if a.lane_doubts]
        if not len(bare) and not doubted:
            continue
        if len(bare):
            doubt = f"lane {', '.join(str(k) for k in bare)} holds no band in any image of {name}"
            result.warnings.append(
                f"Membrane {name}: {doubt}: the config may list more lanes than the membrane "
                "has, so the lanes found may sit one lane off. Check the `lanes` list (ladder "
                "and empty lanes count too), mark a lane that was not loaded {role: empty}, or "
                "give `lane_centers`."
            )
            analyses = [replace(a, lane_doubts=(*a.lane_doubts, doubt)) for a in analyses]
        if len(analyses) > 1:
            seen = ", ".join(f"{a.measurement.image} [{a.measurement.antibody}]" for a in doubted)
            result.warnings.append(
                f"Membrane {name}: every band is flagged `{LANES_UNCERTAIN}`, because its images "
                f"share one lane list and the lanes are in doubt"
                + (f" on {seen}." if seen else ".")
            )
            shared = f"lanes in doubt on {seen}, an image of the same membrane"
            analyses = [
                a if a.lane_doubts or not seen else replace(a, lane_doubts=(shared,))
                for a in analyses
            ]
        for before, after in zip([result.analyses[i] for i in indices], analyses, strict=True):
            if after.lane_doubts != before.lane_doubts:
                m = after.measurement
                redraw.add((m.path, m.channel, m.rotate))
        for i, analysis in zip(indices, analyses, strict=True):
            bands = tuple(
                b if LANES_UNCERTAIN in b.flags else replace(b, flags=(*b.flags, LANES_UNCERTAIN))
                for b in analysis.bands
            )
            result.analyses[i] = replace(analysis, bands=bands)
    return redraw


#: Lanes of two registered images of one membrane agree when their centres
#: lie within this share of a pitch of each other (the real-blot lane test's).
AGREE = 0.25


def _hold_to_registered_lanes(
    result: BatchAnalyses, experiment: Experiment, views: dict[View, BlotImage]
) -> tuple[set[View], set[View]]:
    """Hold the images of one membrane to one set of lanes, registered between them.

    The reference is an image whose lanes were given by hand (``lane_centers``)
    if there is one, otherwise the image whose lanes are in least doubt (most
    lanes placed by their own bands). Every other image of the membrane is
    registered to it (:func:`blotquant.register.register`) and measured on
    the reference's lanes carried over, each free to settle on its own band
    (:func:`_held_to`). Returns the views measured again (to be drawn again)
    and the views registered (whose lanes no other step is to move).
    """
    redraw: set[View] = set()
    registered: set[View] = set()
    by_membrane: dict[str, list[int]] = {}
    # image rows (top, bottom) of every band box of each view, left out of registering
    band_rows: dict[View, list[tuple[float, float]]] = {}
    for i, analysis in enumerate(result.analyses):
        view = _view_of(analysis)
        if view in result.fingerprints:
            by_membrane.setdefault(analysis.measurement.membrane, []).append(i)
            band_rows.setdefault(view, []).extend(
                (box.band_top + analysis.row_offset, box.band_bottom + analysis.row_offset)
                for box in analysis.boxes
            )
    for name, indices in by_membrane.items():
        membrane = experiment.membrane(name)
        reference = max(
            (result.analyses[i] for i in indices),
            key=lambda a: (a.lane_evidence is None, not a.lane_doubts, int(a.lanes.found.sum())),
        )
        home = _view_of(reference)
        registrations: dict[View, Registration | None] = {}
        for i in indices:
            taker = result.analyses[i]
            view = _view_of(taker)
            if (
                view == home
                or taker.lane_evidence is None  # (lanes given by hand are the user's)
                or len(taker.lanes.centers) != len(reference.lanes.centers)
            ):
                continue
            if view not in registrations:
                registrations[view] = register(
                    result.fingerprints[home],
                    result.fingerprints[view],
                    pitch=reference.lanes.pitch,
                    reference_bands=band_rows[home],
                    moving_bands=band_rows[view],
                )
            registration = registrations[view]
            if registration is None:
                continue
            registered |= {view, home}
            held = _held_to(
                reference,
                taker,
                registration,
                membrane,
                width=result.fingerprints[view].shape[1],
                read=lambda view=view: _view(views, view),  # (only if measured again)
            )
            if held is not None:
                _replace_analysis(result, i, held)
                redraw.add(view)
    return redraw, registered


def _held_to(
    reference: ImageAnalysis,
    taker: ImageAnalysis,
    registration: Registration,
    membrane: Membrane,
    *,
    width: int,
    read: Callable[[], BlotImage],
) -> ImageAnalysis | None:
    """Measure an image again on the reference's lanes, or say that the two disagree.

    None when every lane of the taker already lies within a quarter pitch of
    the reference's, when the lanes both images place by their own bands are
    not whole lanes apart, or when the lanes would be carried off the image
    (``width`` columns): the registration is then what is off. The lanes
    carried over are kept unless the taker's own bands (its image from
    ``read``) then put them in more doubt than before; in that case the
    taker keeps its lanes, and if most of them lie a quarter pitch or more
    from the reference's, the disagreement is itself a doubt: a membrane
    whose images place its lanes differently is flagged, never silently
    measured two ways.
    """
    pitch = reference.lanes.pitch
    carried = _carried_lanes(reference, taker, registration)
    row = taker.lanes.ref_row + taker.row_offset
    here = carried.centers + carried.drift_at(row)
    offsets = taker.lanes.centers - here
    apart = np.abs(offsets)
    # lanes both images place by their own bands agree to within whole lanes
    # (where they do not, the registration, not both lane finders, is off)
    both = taker.lanes.found & reference.lanes.found
    within = np.abs((offsets[both] + pitch / 2) % pitch - pitch / 2)
    if both.sum() < 2 or np.median(within) >= AGREE * pitch:
        return None
    right = width if taker.crop is None else taker.crop[2]
    if here.min() < 0 or here.max() >= right - taker.col_offset:
        return None
    if apart.max() < AGREE * pitch:
        return None
    m = taker.measurement
    try:
        retry = analyze_image(read(), m, membrane, shared_lanes=SharedLanes(carried))
    except BlotquantError:
        retry = None
    source = f"{reference.measurement.image} [{reference.measurement.antibody}]"
    moved = f"moved {registration.rows:.0f} rows, {registration.columns:.0f} columns"
    away = f"{np.median(apart):.0f} px from where {source} places them"
    agree = np.median(apart) < AGREE * pitch
    if retry is not None and len(retry.lane_doubts) <= len(taker.lane_doubts):
        retry = replace(retry, lanes_from=f"{source}, registered ({moved})")
        if agree:
            return retry
        note = (
            f"{m.image} [{m.antibody}]: its own bands put its lanes {away}, so they were "
            f"carried over from that image of the same membrane ({moved}){config_at(m)}."
        )
        return replace(retry, warnings=(*retry.warnings, note))
    if agree:
        return None  # (one set of lanes: a lane or two settled apart on each image's bands)
    doubts = (*taker.lane_doubts, f"its lanes lie {away}, an image of the same membrane ({moved})")
    before = lanes_warning(m, membrane, taker.lane_doubts)
    warnings = [w for w in taker.warnings if w != before]
    return replace(
        taker, lane_doubts=doubts, warnings=(*warnings, lanes_warning(m, membrane, doubts))
    )


def _replace_analysis(result: BatchAnalyses, i: int, new: ImageAnalysis) -> None:
    """Put an image's new analysis in place of its old one, warnings too."""
    old = result.analyses[i]
    result.analyses[i] = new
    for w in old.warnings:
        if w in result.warnings and w not in new.warnings:
            result.warnings.remove(w)
    result.warnings.extend(w for w in new.warnings if w not in result.warnings)


def _view_of(analysis: ImageAnalysis) -> View:
    m = analysis.measurement
    return (m.path, m.channel, m.rotate)


def _carried_lanes(
    reference: ImageAnalysis, taker: ImageAnalysis, registration: Registration
) -> LaneGeometry:
    """Carry the reference's lanes over to the taker's image (the taker's crop columns, image rows).

    The lane through column ``c`` at reference row ``y`` passes through
    column ``c + columns`` at row ``y + rows`` of the taker's image.
    """
    lanes = reference.lanes
    ref_row = lanes.ref_row + reference.row_offset + registration.rows
    shift = registration.columns + reference.col_offset - taker.col_offset
    bounds = None if lanes.bounds is None else lanes.bounds + shift
    # (the width too: the wells make a lane as wide as it is, and the taker's
    # own width comes from the very bands that could not place its lanes)
    return replace(lanes, centers=lanes.centers + shift, bounds=bounds, ref_row=ref_row)


def _place_unseen_lanes(
    result: BatchAnalyses,
    experiment: Experiment,
    views: dict[View, BlotImage],
    *,
    skip: Collection[View] = (),
) -> set[View]:
    """Place the lanes an image shows no band in where another image of its membrane shows them.

    A phospho blot whose treated lanes are faint has nothing to place those
    lanes by, and the comb guesses; the total or loading-control image of
    the same membrane shows them. Its lanes are mapped onto this image by the
    lanes both show (a straight line: the membrane may move and stretch a
    little between images), and the image is measured again. Kept only if
    its lanes are not in more doubt than before. Views in ``skip`` (images
    registered to each other, whose lanes are already held to one set) are
    left alone. Returns the views measured again, whose QC pictures are to be
    drawn again.
    """
    redraw: set[View] = set()
    by_membrane: dict[str, list[int]] = {}
    for i, analysis in enumerate(result.analyses):
        if analysis.lane_evidence is not None:
            by_membrane.setdefault(analysis.measurement.membrane, []).append(i)
    for name, indices in by_membrane.items():
        membrane = experiment.membrane(name)
        analyses = [result.analyses[i] for i in indices]
        for i in indices:
            taker = result.analyses[i]
            if _view_of(taker) in skip:
                continue
            lanes = _lanes_seen_elsewhere(taker, analyses)
            if lanes is None:
                continue
            m = taker.measurement
            key = (m.path, m.channel, m.rotate)
            try:
                retry = analyze_image(_view(views, key), m, membrane, shared_lanes=lanes)
            except BlotquantError:
                continue
            if len(retry.lane_doubts) > len(taker.lane_doubts):
                continue
            _replace_analysis(result, i, retry)
            redraw.add(key)
    return redraw


def _lanes_seen_elsewhere(
    taker: ImageAnalysis, analyses: list[ImageAnalysis]
) -> SharedLanes | None:
    """Place the lanes the taker shows no band in from the image of its membrane showing most.

    None when no other image shows one of them, when fewer than two lanes are
    seen in both, or when no lane would move by more than a tenth of a pitch.
    """
    unseen = ~taker.lanes.found
    if not unseen.any():
        return None
    best: tuple[int, int, ImageAnalysis] | None = None
    for donor in analyses:
        if donor is taker or len(donor.lanes.centers) != len(taker.lanes.centers):
            continue
        common = int((taker.lanes.found & donor.lanes.found).sum())
        covers = int((unseen & donor.lanes.found).sum())
        if common >= 2 and covers and (best is None or (covers, common) > best[:2]):
            best = (covers, common, donor)
    if best is None:
        return None
    donor = best[2]
    here = taker.lanes.centers + taker.col_offset
    there = donor.lanes.centers + donor.col_offset
    common = taker.lanes.found & donor.lanes.found
    if common.sum() >= 3:
        predicted = np.polyval(np.polyfit(there[common], here[common], 1), there)
    else:
        predicted = there + float(np.median(here[common] - there[common]))
    covers = unseen & donor.lanes.found
    centers = np.where(covers, predicted, here)
    # a lane within a tenth of a pitch of its place is measured well enough by
    # its box; measuring the image again costs a second read
    if np.max(np.abs(centers - here)) <= max(2.0, 0.1 * taker.lanes.pitch):
        return None
    lanes = taker.lanes
    # (valleys next to a moved lane are no longer known: the midpoint)
    mid = 0.5 * (centers[:-1] + centers[1:]) - taker.col_offset
    bounds = mid if lanes.bounds is None else np.where(covers[:-1] | covers[1:], mid, lanes.bounds)
    moved = replace(
        lanes,
        centers=centers - taker.col_offset,
        found=lanes.found | covers,
        bounds=bounds,
        ref_row=lanes.ref_row + taker.row_offset,
    )
    # (the lanes the image does show stay where its own fit put them)
    return SharedLanes(moved, settle=False)


def _lane_names(membranes: Iterable[Membrane]) -> dict[str, list[str]]:
    """Membrane name -> what each of its lanes holds, for the QC pictures' key."""
    return {m.name: [lane.label for lane in m.lanes] for m in membranes}


def _redraw_qc(
    result: BatchAnalyses,
    image: BlotImage,
    key: View,
    qc_dir: Path | None,
    lane_names: dict[str, list[str]] | None = None,
) -> None:
    """Draw again the QC picture of one file's channel after its lanes were placed again."""
    analyses = [
        a
        for a in result.analyses
        if (a.measurement.path, a.measurement.channel, a.measurement.rotate) == key
    ]
    written = set(result.qc_written) | set(result.qc_pictures)
    names = [qc_name(analyses[0].measurement, flag) for flag in (False, True)]
    name = next((n for n in names if n in written), None)
    if name is None:
        return
    picture, thumbnail = render_qc_and_thumbnail(image, analyses, lane_names=lane_names)
    written = False
    if qc_dir is not None and name in result.qc_written:
        with contextlib.suppress(OSError):  # (the caller writes it and says why not)
            (qc_dir / name).write_bytes(picture)
            written = True
    if not written:
        result.qc_pictures[name] = picture
    if thumbnail is not None:
        result.qc_thumbnails[name] = thumbnail
