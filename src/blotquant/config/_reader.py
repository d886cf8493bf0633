"""Reading a config from the top: settings, pairs, membranes and their images, then checks.

:func:`load_config` and :func:`parse_config` are the two ways in; both end in
:func:`read`, which walks the config with a
:class:`~blotquant.config._collect.Collector` and builds the
:class:`~blotquant.models.Experiment`, or raises one
:class:`~blotquant.config._messages.ConfigError` with every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from blotquant.config._batches import read_batch
from blotquant.config._checks import (
    check_calibrators,
    check_control,
    check_doses,
    check_duplicates,
    check_lane_keys,
    check_pair_reference,
    check_pairs,
)
from blotquant.config._collect import (
    AntibodyEntry,
    Collector,
    absolute,
    json_values,
    lane_dict,
    make_lanes,
    overrides,
    settings,
    settings_dict,
)
from blotquant.config._messages import (
    EMPTY,
    EXAMPLES,
    ITEM_EXAMPLES,
    MISSING,
    ConfigError,
    Loc,
    Problem,
    describe,
    keypath,
)
from blotquant.config._schema import (
    ANALYSIS_KEYS,
    DEFAULT_CONTROL,
    DEFAULT_OUTPUT,
    DEFAULT_SUMMARY_BY,
    OVERRIDE_KEYS,
    AnalysisModel,
    ExposureModel,
    ImageModel,
    LoadingPairModel,
    MembraneModel,
    PairModel,
    RegionModel,
    TopModel,
)
from blotquant.config._yaml import TooBig, plain, read_text, read_yaml
from blotquant.errors import BlotquantError
from blotquant.models import AnalysisSettings, Experiment, Membrane, Pair


def load_config(path: str | Path, *, output: str | Path | None = None) -> Experiment:
    """Read a YAML config file and check it.

    Parameters
    ----------
    path : str or Path
        The config file. Paths inside it are relative to its folder.
    output : str or Path, optional
        Output folder (``--out``); overrides the config's ``output``.

    Returns
    -------
    Experiment
        One :class:`~blotquant.models.Measurement` per image or region.

    Raises
    ------
    ConfigError
        A :class:`~blotquant.errors.BlotquantError` listing every problem
        in the file, one per line, each with its line and key path.
    """
    try:
        config_path = absolute(path)
    except (TypeError, ValueError) as exc:
        raise BlotquantError(f"Config path {path!r} is not a valid file name ({exc}).") from None
    data, lines, problems = read_yaml(read_text(config_path))
    if problems and data is None and not lines:
        raise ConfigError(config_path, problems)
    return _parse(data, config_path, output, lines, problems)


def parse_config(data: object, *, config_path: Path, output: Path | None = None) -> Experiment:
    """Check a config given as Python data (what YAML would give) and expand it.

    Parameters
    ----------
    data : object
        The config as dicts, lists and scalars.
    config_path : Path
        Where the config (notionally) is; relative paths start from its folder
        and messages name it. The file need not exist.
    output : Path, optional
        Output folder; overrides the config's ``output``.

    Returns
    -------
    Experiment
        One :class:`~blotquant.models.Measurement` per image or region.

    Raises
    ------
    ConfigError
        Every problem in the config, in one error.
    """
    try:
        path = absolute(config_path)
    except (TypeError, ValueError) as exc:
        raise BlotquantError(f"config_path {config_path!r} is not a valid path ({exc}).") from None
    return _parse(data, path, output, {}, [])


def _parse(
    data: Any,
    config_path: Path,
    output: str | Path | None,
    lines: dict[Loc, int],
    early: list[Problem],
) -> Experiment:
    """Check and expand; raise one ConfigError with every problem."""
    c = Collector(config_path, lines)
    c.problems.extend(early)
    try:
        if data is None:
            c.add((), EMPTY)
        elif not isinstance(data, Mapping):
            c.add(
                (),
                "the top level must be a mapping of keys (experiment:, pairs:, membranes:, "
                f"...), but it is {describe(data)}. Start from the example config.",
            )
        else:
            try:
                data = plain(data)
            except (TooBig, RecursionError):
                c.add(
                    (),
                    "is nested too deeply or too large (a YAML anchor that refers to itself, or "
                    "anchors that expand enormously?). Write the lists out plainly.",
                )
            else:
                experiment = read(c, data, output)
                if experiment is not None and not c.problems:
                    return experiment
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - never let a config crash the program
        c.add(
            (),
            f"blotquant could not read this config ({type(exc).__name__}: {exc}). This is a bug "
            "in blotquant; please report it with the config.",
        )
    raise c.error()


# --- the top level -----------------------------------------------------------------------


def read(c: Collector, data: dict[str, Any], output: str | Path | None) -> Experiment | None:
    """Read a whole config into ``c``; the Experiment, or None if there are problems."""
    top, broken = c.validate(TopModel, data, ())
    analysis = _read_analysis(c, top, broken)
    pairs = _read_pairs(c, top.pairs) if "pairs" not in broken else None
    # (before the batches: their globs never pick up the run's own results)
    out_path = c.output_folder = _output_folder(c, top, broken, output)
    membranes_and_batches = _read_membranes_and_batches(c, top, broken)
    grouping = _read_grouping(top, broken)
    _check_across(c, top, broken, pairs, grouping)
    name = top.experiment if "experiment" not in broken and top.experiment else c.config_path.stem
    if c.problems:
        return None
    pair_objs = tuple(pairs or [])
    resolved = {
        "experiment": name,
        "output": str(out_path),
        "analysis": settings_dict(analysis),
        "pairs": [p.as_config() for p in pair_objs],
        **grouping,
        **membranes_and_batches,
    }
    return Experiment(
        config_path=c.config_path,
        experiment=name,
        output=out_path,
        analysis=analysis,
        pairs=pair_objs,
        control=grouping["control"],
        normalize_within=tuple(grouping["normalize_within"] or ()),
        summary_by=tuple(grouping["summary_by"] or ()),
        dose_key=grouping["dose_key"],
        normalize_to=grouping["normalize_to"],
        compare=tuple(grouping["compare"]),
        membranes=tuple(Membrane(info.name, info.lanes or ()) for info in c.membranes.values()),
        measurements=tuple(c.measurements),
        resolved=resolved,
        warnings=tuple(c.warnings),
    )


def _read_analysis(c: Collector, top: TopModel, broken: set[str]) -> AnalysisSettings:
    """Read ``analysis`` (the settings every image starts from)."""
    if "analysis" not in broken and top.analysis is not None:
        analysis, bad = c.validate(AnalysisModel, top.analysis, ("analysis",), EXAMPLES["analysis"])
        if analysis is not None:
            c.global_analysis = overrides(analysis, bad, ANALYSIS_KEYS)
    return settings(c.global_analysis)


def _read_membranes_and_batches(c: Collector, top: TopModel, broken: set[str]) -> dict[str, Any]:
    """Read ``membranes`` and ``batches``; return both as run.json shows them."""
    membranes = top.membranes if "membranes" not in broken else None
    batches = top.batches if "batches" not in broken else None
    if not membranes and not batches:
        c.measures_known = c.lanes_known = False
        if "membranes" not in broken and "batches" not in broken:
            c.add(
                (),
                "the config has no `membranes` and no `batches`: describe at least one "
                "membrane with its lanes and images, e.g. "
                + EXAMPLES["membranes"]
                + ", or a batch of exported files.",
            )
    resolved = {
        "membranes": [_read_membrane(c, i, raw) for i, raw in enumerate(membranes or [])],
        "batches": [read_batch(c, i, raw) for i, raw in enumerate(batches or [])],
    }
    if "membranes" in broken or "batches" in broken:
        c.measures_known = c.lanes_known = False
    return resolved


def _read_grouping(top: TopModel, broken: set[str]) -> dict[str, Any]:
    """Read the control lanes and how lanes are grouped (defaults filled in)."""
    control = top.control if "control" not in broken else None
    summary = None
    if "summary_by" not in broken:
        summary = list(top.summary_by) if top.summary_by is not None else list(DEFAULT_SUMMARY_BY)
    return {
        "control": dict(control) if control is not None else dict(DEFAULT_CONTROL),
        "normalize_within": (
            list(top.normalize_within or []) if "normalize_within" not in broken else None
        ),
        "summary_by": summary,
        "dose_key": top.dose_key if "dose_key" not in broken and top.dose_key else "dose_nM",
        "normalize_to": (
            top.normalize_to if "normalize_to" not in broken and top.normalize_to else "control"
        ),
        "compare": list(top.compare or []) if "compare" not in broken else [],
    }


def _check_across(
    c: Collector,
    top: TopModel,
    broken: set[str],
    pairs: list[Pair] | None,
    grouping: dict[str, Any],
) -> None:
    """Run the checks across the config, once everything is read."""
    normalize = grouping["normalize_within"]
    check_duplicates(c)
    check_pairs(c, pairs)
    if "control" not in broken:
        check_control(c, grouping["control"], top.control is not None, normalize)
    check_lane_keys(c, "normalize_within", normalize, ("membrane",))
    check_lane_keys(c, "summary_by", grouping["summary_by"], ("membrane", "lane"))
    check_lane_keys(c, "compare", grouping["compare"], ())
    if top.dose_key:
        check_lane_keys(c, "dose_key", [grouping["dose_key"]], (), single=True)
    check_doses(c, grouping["dose_key"])
    for k, pair in enumerate(pairs or []):
        check_pair_reference(c, k, pair)
    if grouping["normalize_to"] == "calibrator":
        check_calibrators(c, [p for p in pairs or [] if p.normalize_to is None])


def _output_folder(
    c: Collector, top: TopModel, broken: set[str], output: str | Path | None
) -> Path:
    """Choose the output folder: ``--out``, else the config's ``output``, else the default."""
    if top.output is not None and "output" not in broken:
        out_path = c.path(top.output)
    else:
        out_path = c.folder / DEFAULT_OUTPUT
    if output is not None:
        try:
            out_path = absolute(output)
        except (TypeError, ValueError) as exc:
            c.add((), f"the output folder {output!r} is not a valid path ({exc}).")
    return out_path


def _read_pairs(c: Collector, raw: list[Any] | None) -> list[Pair] | None:
    """Read ``pairs`` (phospho over total, or a target over loading controls); None on a problem."""
    if raw is None:
        c.add(("pairs",), MISSING["pairs"])
        return None
    if not raw:
        c.add(("pairs",), "is empty; list at least one ratio, e.g. " + EXAMPLES["pairs"] + ".")
        return None
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    complete = True
    for k, item in enumerate(raw):
        loading_pair = isinstance(item, Mapping) and (
            "target" in item or ("loading" in item and not {"phospho", "total"} & set(item))
        )
        model = LoadingPairModel if loading_pair else PairModel
        read, bad = c.validate(model, item, ("pairs", k), ITEM_EXAMPLES["pairs"])
        if read is None or bad:
            complete = False
            continue
        own = {
            "control": tuple(read.control.items()) if read.control else None,
            "normalize_within": (
                tuple(read.normalize_within) if read.normalize_within is not None else None
            ),
            "normalize_to": read.normalize_to,
        }
        if loading_pair:
            loading = (read.loading,) if isinstance(read.loading, str) else tuple(read.loading)
            pair = Pair(read.target, "+".join(loading), "target/loading", loading, **own)
        else:
            per_band = _band_loading(c, k, read)
            if per_band is None:
                complete = False
                continue
            pair = Pair(
                read.phospho,
                read.total,
                phospho_loading=per_band[0],
                total_loading=per_band[1],
                **own,
            )
        if pair.phospho in pair.denominators or len(set(pair.denominators)) < len(
            pair.denominators
        ):
            what = "phospho and total are both" if not loading_pair else "the pair names twice"
            c.add(
                ("pairs", k),
                f"{what} `{pair.phospho if pair.phospho in pair.denominators else pair.total}`; "
                "a ratio needs different antibodies.",
            )
        if pair.name in seen:
            c.add(
                ("pairs", k),
                f"the pair {pair.name} is listed twice (also pairs[{seen[pair.name]}]); "
                "remove one.",
            )
        seen.setdefault(pair.name, k)
        pairs.append(pair)
    return pairs if complete else None


def _band_loading(
    c: Collector, k: int, read: PairModel
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Read a phospho/total pair's loading: ``loading`` for both bands, or one per band."""

    def names(value: str | list[str] | None) -> tuple[str, ...]:
        return () if value is None else (value,) if isinstance(value, str) else tuple(value)

    both = names(read.loading)
    phospho, total = names(read.phospho_loading), names(read.total_loading)
    if both and (phospho or total):
        c.add(
            ("pairs", k, "loading"),
            "gives the loading of both bands, and phospho_loading or total_loading gives it "
            "again: write `loading` (the same for both bands) or the two per-band keys.",
        )
        return None
    if bool(phospho) != bool(total):
        given, missing = ("phospho", "total") if phospho else ("total", "phospho")
        c.add(
            ("pairs", k, f"{given}_loading"),
            f"corrects the {given} band for loading, but the {missing} band is not: add "
            f"{missing}_loading (each band over its own gel's stain), or write `loading` for both.",
        )
        return None
    return (both, both) if both else (phospho, total)


# --- membranes and their images ----------------------------------------------------------


class _Membrane(NamedTuple):
    """A membrane being read: what its images need to know about it."""

    index: int
    name: str | None
    n_lanes: int | None


class _Image(NamedTuple):
    """An image (or a strip of one) being read: its settings and where each is written."""

    membrane: _Membrane
    file: str | None
    keys: dict[str, Any]
    key_locs: dict[str, Loc]
    source: str


def _read_membrane(c: Collector, i: int, raw: Any) -> dict[str, Any]:
    """Read ``membranes[i]`` with its lanes and images; return it for run.json."""
    loc: Loc = ("membranes", i)
    model, broken = c.validate(MembraneModel, raw, loc, ITEM_EXAMPLES["membranes"])
    if model is None:
        c.measures_known = c.lanes_known = False
        return {}
    name = model.name if "name" not in broken else None
    specs, n_lanes = c.read_lanes(model, broken, loc)
    lanes = make_lanes(specs, name) if specs is not None and name is not None else None
    if name is None:
        c.measures_known = c.lanes_known = False
    elif name in c.membranes:
        c.add(
            (*loc, "name"),
            f"membrane name `{name}` is already used by "
            f"{c.membranes[name].origin}; give each membrane its own name.",
        )
    else:
        c.add_membrane(name, specs, f"membranes[{i}]")
    images = []
    if "images" in broken:
        c.measures_known = False
    else:
        membrane = _Membrane(i, name, n_lanes)
        images = [_read_image(c, membrane, j, image) for j, image in enumerate(model.images)]
    return {"name": name, "lanes": [lane_dict(lane) for lane in lanes or ()], "images": images}


def _read_image(c: Collector, membrane: _Membrane, j: int, raw: Any) -> dict[str, Any]:
    """Read one entry of a membrane's ``images``; return it for run.json."""
    loc: Loc = ("membranes", membrane.index, "images", j)
    model, broken = c.validate(ImageModel, raw, loc, ITEM_EXAMPLES["images"])
    if model is None:
        c.measures_known = False
        return {}
    file = model.file if "file" not in broken else None
    keys = overrides(model, broken, OVERRIDE_KEYS)
    series = _read_exposures(
        c, loc, model, broken, written=isinstance(raw, Mapping) and "file" in raw
    )
    if series is None:
        c.measures_known = False
        return {}
    resolved: dict[str, Any] = (
        {"file": file}
        if not series
        else {"exposures": [{"file": f, "seconds": t} for f, t in series]}
    )
    shows = _what_it_shows(c, loc, raw)
    if shows is None or shows in broken:
        c.measures_known = False
    # (the regions are read once; each exposure of a series measures them all)
    strips = _read_strips(c, loc, model) if shows == "regions" else []
    for each, seconds in series or [(file, None)]:
        own = {**keys, "series": keypath(loc) if series else "", "exposure_s": seconds}
        source = f"membranes[{membrane.index}] ({membrane.name}) > images[{j}] ({each})"
        image = _Image(membrane, each, own, {key: (*loc, key) for key in keys}, source)
        if shows == "antibody":
            _measure(c, image, loc, model.antibody)
        for rloc, region, extra in strips:
            strip = image._replace(
                keys={**image.keys, **extra},
                key_locs={**image.key_locs, **{key: (*rloc, key) for key in extra}},
                source=f"{image.source} > regions[{rloc[-1]}]",
            )
            _measure(c, strip, rloc, region.antibody, region.rows)
    if shows == "regions":
        resolved["regions"] = [
            {"antibody": region.antibody, "rows": list(region.rows), **json_values(extra)}
            for _, region, extra in strips
        ]
    elif shows == "antibody":
        resolved["antibody"] = model.antibody
    resolved["channel"] = keys.get("channel", 0)
    resolved.update(json_values({k: v for k, v in keys.items() if k != "channel"}))
    return resolved


def _read_strips(
    c: Collector, loc: Loc, model: ImageModel
) -> list[tuple[Loc, RegionModel, dict[str, Any]]]:
    """Read an image's ``regions``: each usable one with where it is and the keys it sets."""
    strips = []
    for k, item in enumerate(model.regions or ()):
        rloc = (*loc, "regions", k)
        read = c.read_region(item, rloc)
        if read is not None:
            strips.append((rloc, *read))
    return strips


def _read_exposures(
    c: Collector, loc: Loc, model: ImageModel, broken: set[str], *, written: bool
) -> list[tuple[str, float | None]] | None:
    """Read an image's ``exposures`` ([] without them); None on a problem.

    ``written``: the image writes a ``file`` key (perhaps with no value).
    """
    if model.exposures is None:
        if model.file is None and "file" not in broken:
            message = MISSING["file"]
            if written:
                message = message.replace("is missing", "has no value", 1)
            c.add((*loc, "file"), message)
            return None
        return []
    if model.file is not None:
        c.add(
            loc,
            "has both `file` and `exposures`: an image is one file, or one membrane imaged at "
            "several exposures (exposures: [{file: a_5s.tif, seconds: 5}, {file: a_30s.tif, "
            "seconds: 30}]); keep one.",
        )
        return None
    series: list[tuple[str, float | None]] = []
    for k, item in enumerate(model.exposures):
        item = {"file": item} if isinstance(item, str) else item
        read, bad = c.validate(
            ExposureModel, item, (*loc, "exposures", k), ITEM_EXAMPLES["exposures"]
        )
        if read is None or bad:
            return None
        series.append((read.file, read.seconds))
    if len(series) < 2:
        c.add(
            (*loc, "exposures"),
            "lists one exposure; a series needs two or more (a single file is `file: ...`).",
        )
        return None
    return series


def _what_it_shows(c: Collector, loc: Loc, raw: Mapping[str, Any]) -> str | None:
    """Return "antibody" or "regions", whichever the image has; None if it has both or neither."""
    has_antibody = raw.get("antibody") is not None
    has_regions = raw.get("regions") is not None
    if has_antibody and has_regions:
        c.add(
            loc,
            "has both `antibody` and `regions`: an image shows one antibody "
            "(antibody: AKT) or is cut into strips (regions: [...], each with its own "
            "antibody); keep one.",
        )
        return None
    if not has_antibody and not has_regions:
        c.add(
            loc,
            "needs `antibody` (the antibody this image shows) or `regions` (strips "
            "of one image, each with antibody and rows), e.g. " + ITEM_EXAMPLES["images"] + ".",
        )
        return None
    return "antibody" if has_antibody else "regions"


def _measure(
    c: Collector,
    image: _Image,
    loc: Loc,
    antibody: str,
    rows: tuple[int, int] | None = None,
) -> None:
    """Check one image or region (``rows``) against its membrane and record it."""
    c.check_lane_centers(
        image.key_locs.get("lane_centers", loc),
        image.keys.get("lane_centers"),
        image.membrane.n_lanes,
        f"membrane {image.membrane.name}",
        "give one centre per lane, left to right.",
    )
    band_rows = image.keys.get("band_rows")
    if (
        rows is not None
        and band_rows is not None
        and (band_rows[1] <= rows[0] or band_rows[0] >= rows[1])
    ):
        written = image.key_locs["band_rows"]
        where = "" if written[:-1] == loc else " (set on the image)"
        c.add(
            written,
            f"band_rows {list(band_rows)}{where} lie outside the rows {list(rows)} of "
            f"{keypath(loc)}; band_rows are image rows (counted from the top of the "
            "whole image), so they must fall inside the region's rows.",
        )
    if image.membrane.name is None:
        return
    subject = "this region" if rows is not None else "this image"
    entry = AntibodyEntry(
        image.membrane.name, antibody, loc, f"{keypath(loc)} ({image.file})", subject=subject
    )
    c.add_measurement(entry, image=image.file, keys=image.keys, source=image.source, rows=rows)
