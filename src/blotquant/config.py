"""Reading and validating the YAML config.

Every problem of a config is collected and reported at once, each with where
it is (``membranes[1].images[0].band_row``) and what to do, as one
:class:`~blotquant.errors.BlotquantError`. The result is an
:class:`~blotquant.models.Experiment`: one :class:`~blotquant.models.Measurement`
per image or region, with every setting resolved.
"""

from __future__ import annotations

import difflib
import glob
import re
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from blotquant.errors import BlotquantError
from blotquant.models import (
    BACKGROUND_METHODS,
    DEFAULT_BACKGROUND,
    AnalysisSettings,
    Experiment,
    Lane,
    Measurement,
    Membrane,
    Pair,
)

PolarityName = Literal["auto", "dark-bands", "light-bands"]
BackgroundName = Literal["rolling-ball", "lane-edges", "profile-baseline", "none"]
assert set(get_args(BackgroundName)) == set(BACKGROUND_METHODS)
Scalar = str | int | float | bool | None
RowRange = Annotated[list[int], Field(min_length=2, max_length=2)]
PositiveNumber = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnalysisModel(_Strict):
    polarity: PolarityName = "auto"
    background: BackgroundName = DEFAULT_BACKGROUND  # type: ignore[assignment]
    rolling_ball_radius: PositiveNumber = 50.0
    lane_width: Literal["auto"] | PositiveNumber = "auto"
    saturation_level: float | None = None
    background_margin: Annotated[int, Field(ge=1, le=100)] = 3


class _Overrides(_Strict):
    """Keys any image (or region, or batch) may set for itself."""

    polarity: PolarityName | None = None
    background: BackgroundName | None = None
    rolling_ball_radius: PositiveNumber | None = None
    lane_width: Literal["auto"] | PositiveNumber | None = None
    saturation_level: float | None = None
    background_margin: Annotated[int, Field(ge=1, le=100)] | None = None
    channel: Annotated[int, Field(ge=0)] | None = None
    band_rows: RowRange | None = None
    lane_centers: list[float] | None = None


class RegionModel(_Overrides):
    antibody: str
    rows: RowRange


class ImageModel(_Overrides):
    file: str
    antibody: str | None = None
    regions: list[RegionModel] | None = None


class MembraneModel(_Strict):
    name: str
    lanes: list[dict[str, Scalar]] = Field(min_length=1)
    images: list[ImageModel] = Field(min_length=1)


class BatchModel(_Overrides):
    files: str
    pattern: str
    antibody_aliases: dict[str, str] = Field(default_factory=dict)
    lanes: list[dict[str, Scalar]] = Field(min_length=1)


class PairModel(_Strict):
    phospho: str
    total: str


class ConfigModel(_Strict):
    experiment: str = ""
    output: str | None = None
    analysis: AnalysisModel = Field(default_factory=AnalysisModel)
    pairs: list[PairModel] = Field(min_length=1)
    control: dict[str, Scalar] = Field(min_length=1)
    normalize_within: list[str] = Field(default_factory=list)
    summary_by: list[str] = Field(default_factory=lambda: ["treatment"])
    membranes: list[MembraneModel] = Field(default_factory=list)
    batches: list[BatchModel] = Field(default_factory=list)


_ANALYSIS_KEYS = [f.name for f in dataclass_fields(AnalysisSettings)]
_ALL_FIELDS = {
    name
    for model in (ConfigModel, AnalysisModel, ImageModel, RegionModel, BatchModel, MembraneModel)
    for name in model.model_fields
}
_IMAGE_ONLY_KEYS = ("channel", "band_rows", "lane_centers")


# --- public API -----------------------------------------------------------------------


def load_config(path: str | Path, *, output: str | Path | None = None) -> Experiment:
    """Read, validate and resolve a YAML config file.

    Parameters
    ----------
    path : str or Path
        The config file.
    output : str or Path, optional
        Output folder that overrides the config's ``output`` (``--out``).

    Raises
    ------
    BlotquantError
        Listing every problem found, each with its place in the file.
    """
    path = Path(path)
    if not path.exists():
        raise BlotquantError(
            f"Config file not found: {path.resolve()}. Check the path (and the current folder)."
        )
    if path.is_dir():
        raise BlotquantError(f"{path} is a folder; name the config's YAML file instead.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BlotquantError(
            f"Config {path.name} is not a text file (is it an image or a Word document?). "
            "Write the config as plain-text YAML."
        ) from None
    except OSError as exc:
        raise BlotquantError(f"Cannot read config {path}: {exc.strerror or exc}.") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BlotquantError(
            f"Config {path.name} is not valid YAML{where}: {problem}. Check the indentation, "
            "colons and brackets on that line and the line before it."
        ) from None
    if data is None:
        raise BlotquantError(
            f"Config {path.name} is empty. Start from configs/demo.yaml or `blotquant` "
            "README's example."
        )
    return parse_config(
        data,
        config_path=path.resolve(),
        output=Path(output).resolve() if output is not None else None,
    )


def parse_config(
    data: object, *, config_path: Path, output: Path | None = None
) -> Experiment:
    """Validate an already parsed config (a dict, e.g. from a notebook)."""
    name = config_path.name
    if not isinstance(data, dict):
        raise BlotquantError(
            f"Config {name} has 1 problem(s):\n  - the file must be a set of `key: value` "
            f"lines (experiment, pairs, membranes, ...), not a {_kind(data)}."
        )
    problems: list[str] = []
    model, structural = _validate_leniently(data)
    problems.extend(structural)
    if "membranes" not in data and "batches" not in data:
        problems.append(
            "`membranes` or `batches`: missing. List the membranes (with their lanes and "
            "images) under `membranes:`, or a folder of exports under `batches:`."
        )
    warnings: list[str] = []
    experiment = None
    if model is not None:
        experiment = _resolve(model, config_path, output, problems, warnings)
    if problems:
        unique = list(dict.fromkeys(problems))
        listing = "\n".join(f"  - {p}" for p in unique)
        raise BlotquantError(f"Config {name} has {len(unique)} problem(s):\n{listing}")
    assert experiment is not None
    return experiment


# --- turning pydantic's errors into plain words ------------------------------------------------


def _validate_leniently(data: dict[str, Any]) -> tuple[ConfigModel | None, list[str]]:
    """Validate; on errors, also validate a copy without the offending keys.

    Dropping a misspelt or ill-typed optional key lets the checks across the
    whole config run too, so that every problem is reported in one go. When
    a required key is missing, only the structural problems are reported.
    """
    import copy

    problems: list[str] = []
    work = copy.deepcopy(data)
    for _ in range(5):
        try:
            return ConfigModel.model_validate(work), problems
        except ValidationError as exc:
            errors = exc.errors()
        problems.extend(_explain_all(errors, data))
        repaired = False
        for error in errors:
            loc = _clean_loc(tuple(error["loc"]))
            if error["type"] == "missing" or not loc or isinstance(loc[-1], int):
                return None, list(dict.fromkeys(problems))
            parent = _get(work, loc[:-1])
            if isinstance(parent, dict) and loc[-1] in parent:
                del parent[loc[-1]]
                repaired = True
        if not repaired:
            break
    return None, list(dict.fromkeys(problems))


def _get(node: Any, loc: tuple[Any, ...]) -> Any:
    for item in loc:
        if isinstance(node, dict) and item in node:
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
        else:
            return None
    return node


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags (``literal['auto']``, ``constrained-float``)."""
    return tuple(
        p for p in loc
        if isinstance(p, int) or not any(c in p for c in "[-") or p in _ALL_FIELDS
    )


def _explain_all(errors: list[Any], data: object) -> list[str]:
    """One message per place: a union's branches are merged into one."""
    by_place: dict[tuple[Any, ...], list[Any]] = {}
    for error in errors:
        by_place.setdefault(_clean_loc(tuple(error["loc"])), []).append(error)
    messages = []
    for loc, group in by_place.items():
        if len(group) == 1:
            messages.append(_explain({**group[0], "loc": loc}, data))
            continue
        value = group[0].get("input")
        wanted = []
        for e in group:
            if e["type"] == "literal_error":
                wanted.append(str(e.get("ctx", {}).get("expected", "")))
            elif e["type"] in _EXPECTED:
                wanted.append(_EXPECTED[e["type"]])
            else:
                wanted.append(e["msg"].lower())
        messages.append(
            f"{_location(loc, data)}: {value!r} is not valid here; expected "
            f"{' or '.join(dict.fromkeys(wanted))}."
        )
    return messages


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "yes/no value"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "empty value" if value is None else type(value).__name__


def _location(loc: tuple[Any, ...], data: object) -> str:
    """``membranes[0] (rep1).images[1] (a.tif).band_row`` from a pydantic location."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict):
                tag = node.get("name") or node.get("file") or node.get("antibody")
                if isinstance(tag, (str, int, float)):
                    label += f" ({tag})"
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the last key of ``loc``."""
    model: Any = ConfigModel
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(item)
        if info is None:
            return None
        model = _inner_model(info.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    for arg in get_args(annotation):
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "string_type": "text",
    "list_type": "a list (lines starting with `- `, or [a, b])",
    "dict_type": "a mapping (`key: value` lines, or {key: value})",
    "model_type": "a mapping (`key: value` lines, or {key: value})",
    "model_attributes_type": "a mapping (`key: value` lines, or {key: value})",
    "bool_type": "yes or no",
}


def _explain(error: dict[str, Any], data: object) -> str:
    loc = _clean_loc(tuple(error["loc"]))
    kind = error["type"]
    value = error.get("input")
    where = _location(loc, data)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc)
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f" Did you mean `{close[0]}`?" if close else (
            f" Allowed here: {', '.join(allowed)}." if allowed else ""
        )
        return f"{where}: unknown key `{key}`.{hint}"
    if kind == "missing":
        return f"{where}: missing. This key is required here."
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{where}: {value!r} is not allowed; use one of {allowed}."
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {_kind(value)} {value!r}."
    if kind in ("greater_than", "greater_than_equal"):
        limit = error.get("ctx", {}).get("gt", error.get("ctx", {}).get("ge"))
        word = "greater than" if kind == "greater_than" else "at least"
        return f"{where}: must be {word} {limit}, got {value!r}."
    if kind == "less_than_equal":
        return f"{where}: must be at most {error.get('ctx', {}).get('le')}, got {value!r}."
    if kind in ("too_short", "too_long"):
        if loc and loc[-1] in ("band_rows", "rows"):
            return f"{where}: expected two rows [top, bottom], got {value!r}."
        return f"{where}: {error['msg'].lower()}."
    return f"{where}: {error['msg']} (got {value!r})."


# --- from a validated model to an Experiment --------------------------------------------------


def _lanes(raw: list[dict[str, Any]], membrane: str, where: str, problems: list[str]):
    lanes = []
    for i, entry in enumerate(raw, start=1):
        entry = dict(entry)
        role = entry.pop("role", "sample") or "sample"
        if role not in ("sample", "ladder", "empty"):
            problems.append(
                f"{where}.lanes[{i - 1}]: role {role!r} is not allowed; use sample, ladder or "
                "empty."
            )
            role = "sample"
        if role == "sample":
            if entry.get("treatment") in (None, ""):
                problems.append(
                    f"{where}.lanes[{i - 1}]: a sample lane needs a `treatment` (e.g. "
                    "{treatment: DMSO}); mark ladder or empty lanes with `role: ladder` or "
                    "`role: empty`."
                )
            entry.setdefault("sample", f"{membrane}-L{i}")
        lanes.append(Lane(number=i, role=role, metadata=entry))  # type: ignore[arg-type]
    return tuple(lanes)


def _settings(base: AnalysisModel, *layers: BaseModel) -> AnalysisSettings:
    values = base.model_dump()
    for layer in layers:
        for key in _ANALYSIS_KEYS:
            value = getattr(layer, key, None)
            if value is not None:
                values[key] = value
    if values["lane_width"] == "auto":
        values["lane_width"] = None
    return AnalysisSettings(**values)


def _pick(key: str, *layers: BaseModel) -> Any:
    """The innermost layer's value of an image key (region over image over batch)."""
    for layer in reversed(layers):
        value = getattr(layer, key, None)
        if value is not None:
            return value
    return None


def _check_rows(value: list[int] | None, where: str, key: str, problems: list[str]) -> None:
    if value is None:
        return
    top, bottom = value
    if top < 0 or bottom < 0:
        problems.append(f"{where}.{key}: rows cannot be negative, got {value}.")
    elif top >= bottom:
        problems.append(
            f"{where}.{key}: [{top}, {bottom}] is upside down or empty; give [top, bottom] "
            "with top < bottom (row 0 is the top of the image)."
        )


def _measurements_for_image(
    image: ImageModel,
    layers: tuple[BaseModel, ...],
    membrane: str,
    n_lanes: int,
    base: AnalysisModel,
    folder: Path,
    where: str,
    problems: list[str],
) -> list[Measurement]:
    if (image.antibody is None) == (image.regions is None):
        problems.append(
            f"{where}: give either `antibody` (the whole image is one antibody) or `regions` "
            "(strips, each with its antibody), not "
            + ("both." if image.antibody is not None else "neither.")
        )
        return []
    parts: list[tuple[BaseModel, ...]] = []
    if image.regions is None:
        parts.append((*layers, image))
    else:
        if not image.regions:
            problems.append(f"{where}.regions: empty; list at least one strip.")
        parts.extend((*layers, image, region) for region in image.regions)
    out = []
    for k, stack in enumerate(parts):
        region = stack[-1] if isinstance(stack[-1], RegionModel) else None
        place = f"{where}.regions[{k}]" if region is not None else where
        band_rows = _pick("band_rows", *stack)
        centers = _pick("lane_centers", *stack)
        _check_rows(band_rows, place, "band_rows", problems)
        if region is not None:
            _check_rows(region.rows, place, "rows", problems)
        if centers is not None and len(centers) != n_lanes:
            problems.append(
                f"{place}.lane_centers: {len(centers)} centres for the {n_lanes} lanes of "
                f"membrane {membrane}; give one centre per lane (ladder and empty lanes too)."
            )
        out.append(
            Measurement(
                membrane=membrane,
                image=image.file,
                path=(folder / image.file).resolve(),
                antibody=region.antibody if region is not None else str(image.antibody),
                channel=int(_pick("channel", *stack) or 0),
                rows=tuple(region.rows) if region is not None else None,  # type: ignore[arg-type]
                band_rows=tuple(band_rows) if band_rows is not None else None,  # type: ignore
                lane_centers=tuple(float(c) for c in centers) if centers is not None else None,
                analysis=_settings(base, *stack),
                source=place,
            )
        )
    return out


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", pattern)
    regex, seen = "", set()
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        elif part in seen:
            regex += f"(?P={part})"
        else:
            seen.add(part)
            regex += f"(?P<{part}>.+?)"
    return re.compile(f"^{regex}$")


def _resolve(
    model: ConfigModel,
    config_path: Path,
    output: Path | None,
    problems: list[str],
    warnings: list[str],
) -> Experiment | None:
    folder = config_path.parent
    membranes: list[Membrane] = []
    measurements: list[Measurement] = []
    seen_names: dict[str, str] = {}

    def add_membrane(name: str, lanes: tuple[Lane, ...], where: str) -> None:
        if name in seen_names:
            problems.append(
                f"{where}: membrane name {name!r} is used twice (also at {seen_names[name]}); "
                "give each membrane its own name."
            )
            return
        seen_names[name] = where
        membranes.append(Membrane(name=name, lanes=lanes))

    for i, m in enumerate(model.membranes):
        where = f"membranes[{i}] ({m.name})"
        lanes = _lanes(m.lanes, m.name, where, problems)
        add_membrane(m.name, lanes, where)
        for j, image in enumerate(m.images):
            measurements += _measurements_for_image(
                image, (), m.name, len(lanes), model.analysis, folder,
                f"{where}.images[{j}] ({image.file})", problems,
            )

    batch_files: list[list[str]] = []
    for b, batch in enumerate(model.batches):
        where = f"batches[{b}]"
        matched: list[str] = []
        batch_files.append(matched)
        regex = _pattern_regex(batch.pattern)
        if "membrane" not in regex.groupindex or "antibody" not in regex.groupindex:
            problems.append(
                f"{where}.pattern: {batch.pattern!r} must contain {{membrane}} and {{antibody}}, "
                'e.g. "{membrane}_{antibody}.tif".'
            )
            continue
        files = sorted(glob.glob(str(folder / batch.files), recursive=True))
        files = [f for f in files if Path(f).is_file()]
        if not files:
            problems.append(
                f"{where}.files: {batch.files!r} matches no file in {folder}. Check the folder "
                "and the file extension (globs are relative to the config file)."
            )
            continue
        lanes_cache: dict[str, tuple[Lane, ...]] = {}
        claimed: dict[tuple[str, str], str] = {}
        for f in files:
            rel = Path(f).relative_to(folder).as_posix()
            subject = rel if "/" in batch.pattern else Path(f).name
            found = regex.match(subject)
            if found is None:
                problems.append(
                    f"{where}: file {rel!r} matches `files` but not the pattern "
                    f"{batch.pattern!r}. Rename the file, or narrow `files` so it is not "
                    "included."
                )
                continue
            membrane = found.group("membrane")
            antibody = batch.antibody_aliases.get(found.group("antibody"), found.group("antibody"))
            if (membrane, antibody) in claimed:
                problems.append(
                    f"{where}: files {claimed[(membrane, antibody)]!r} and {rel!r} are both "
                    f"{antibody} on membrane {membrane}; keep one."
                )
                continue
            claimed[(membrane, antibody)] = rel
            matched.append(rel)
            if membrane not in lanes_cache:
                lanes_cache[membrane] = _lanes(batch.lanes, membrane, where, problems)
                add_membrane(membrane, lanes_cache[membrane], f"{where} ({rel})")
            image = ImageModel(file=rel, antibody=antibody)
            measurements += _measurements_for_image(
                image, (batch,), membrane, len(lanes_cache[membrane]), model.analysis, folder,
                f"{where} ({rel})", problems,
            )

    _check_experiment(model, membranes, measurements, problems, warnings)
    if problems:
        return None
    resolved = model.model_dump(mode="json")
    for b, matched in enumerate(batch_files):
        resolved["batches"][b]["matched_files"] = matched
    out = output or (folder / model.output if model.output else folder / "blotquant-results")
    return Experiment(
        config_path=config_path,
        experiment=model.experiment,
        output=Path(out).resolve(),
        analysis=_settings(model.analysis),
        pairs=tuple(Pair(p.phospho, p.total) for p in model.pairs),
        control=dict(model.control),
        normalize_within=tuple(model.normalize_within),
        summary_by=tuple(model.summary_by),
        membranes=tuple(membranes),
        measurements=tuple(measurements),
        resolved=resolved,
        warnings=tuple(warnings),
    )


def _check_experiment(
    model: ConfigModel,
    membranes: list[Membrane],
    measurements: list[Measurement],
    problems: list[str],
    warnings: list[str],
) -> None:
    """Checks across the whole config: antibodies, controls, grouping keys."""
    measured = {m.antibody for m in measurements}
    by_key: dict[tuple[str, str], Measurement] = {}
    for m in measurements:
        key = (m.membrane, m.antibody)
        if key in by_key:
            problems.append(
                f"{m.source}: {m.antibody} is measured twice on membrane {m.membrane} (also at "
                f"{by_key[key].source}); a lane's ratio needs one {m.antibody} band."
            )
        by_key[key] = m
    for i, pair in enumerate(model.pairs):
        for role in ("phospho", "total"):
            name = getattr(pair, role)
            if measurements and name not in measured:
                close = difflib.get_close_matches(name, sorted(measured), n=1, cutoff=0.5)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                problems.append(
                    f"pairs[{i}].{role}: no image measures {name!r} (antibodies measured: "
                    f"{', '.join(sorted(measured))}).{hint}"
                )
    sample_lanes = [lane for m in membranes for lane in m.lanes if lane.role == "sample"]
    if not sample_lanes:
        return
    keys = {k for lane in sample_lanes for k in lane.metadata}
    for field in ("normalize_within", "summary_by"):
        for k in getattr(model, field):
            if k not in keys:
                problems.append(
                    f"{field}: no lane has the key {k!r} (lane keys: {', '.join(sorted(keys))})."
                )
    for k in model.control:
        if k not in keys:
            problems.append(
                f"control: no lane has the key {k!r} (lane keys: {', '.join(sorted(keys))})."
            )
    if any(k not in keys for k in model.control):
        return

    def is_control(lane: Lane) -> bool:
        return all(_same(lane.metadata.get(k), v) for k, v in model.control.items())

    if not any(is_control(lane) for lane in sample_lanes):
        problems.append(
            f"control: {dict(model.control)} matches no lane; fold changes need control lanes. "
            "Check the spelling against the lanes' values."
        )
        return
    for m in membranes:
        groups: dict[tuple[str, ...], bool] = {}
        for lane in m.lanes:
            if lane.role != "sample":
                continue
            group = tuple(str(lane.metadata.get(k)) for k in model.normalize_within)
            groups[group] = groups.get(group, False) or is_control(lane)
        for group, has_control in groups.items():
            if not has_control:
                label = ", ".join(f"{k}={v}" for k, v in zip(model.normalize_within, group,
                                                              strict=True))
                warnings.append(
                    f"Membrane {m.name}{' (' + label + ')' if label else ''} has no control "
                    "lane: its lanes get ratios but no fold change."
                )


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)
