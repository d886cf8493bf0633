"""``batches``: many exported files, their membrane and antibody read from the file name.

The one place where reading a config looks at the disk (:func:`find_files`,
a glob). A batch's ``pattern`` is compiled into a regular expression by
:func:`compile_pattern`; each file it matches becomes a measurement (or one
per strip, with ``regions``).
"""

from __future__ import annotations

import glob
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from blotquant.config._collect import (
    AntibodyEntry,
    Collector,
    LaneSpecs,
    json_values,
    overrides,
)
from blotquant.config._messages import ITEM_EXAMPLES, Loc, keypath
from blotquant.config._schema import OVERRIDE_KEYS, BatchModel, RegionModel
from blotquant.models import INSPECT_SUFFIX, QC_DIR, STAGING_PREFIX

# At most this many unmatched files of one batch are listed one by one.
_MAX_LISTED = 5

Strip = tuple[int, RegionModel, dict[str, Any]]  # (index, region, the keys it sets)


@dataclass
class _Batch:
    """One batch as read, and what its files have given so far."""

    index: int
    model: BatchModel
    specs: LaneSpecs | None
    keys: dict[str, Any]  # the settings the batch sets for every file
    strips: list[Strip] | None  # None: one antibody per file, from the pattern
    found: dict[tuple[str, str], str] = field(default_factory=dict)  # -> first file
    used_aliases: set[str] = field(default_factory=set)

    @property
    def loc(self) -> Loc:
        return ("batches", self.index)

    @property
    def origin(self) -> str:
        return f"batches[{self.index}]"


def read_batch(c: Collector, i: int, raw: Any) -> dict[str, Any]:
    """Read ``batches[i]``, add its membranes and measurements; return it for run.json."""
    loc: Loc = ("batches", i)
    model, broken = c.validate(BatchModel, raw, loc, ITEM_EXAMPLES["batches"])
    if model is None:
        c.measures_known = c.lanes_known = False
        return {}
    specs, n_lanes = c.read_lanes(model, broken, loc)
    keys = overrides(model, broken, OVERRIDE_KEYS)
    c.check_lane_centers(
        (*loc, "lane_centers"),
        keys.get("lane_centers"),
        n_lanes,
        "the batch",
        "give one centre per lane.",
    )
    resolved: dict[str, Any] = {
        "files": model.files,
        "pattern": model.pattern,
        "antibody_aliases": dict(model.antibody_aliases or {}),
        "lanes": [{"role": role, **meta} for role, meta in specs or []],
        "channel": keys.get("channel", 0),
        **json_values({k: v for k, v in keys.items() if k != "channel"}),
    }
    if {"files", "pattern", "antibody_aliases"} & broken:
        c.measures_known = c.lanes_known = False
        return resolved
    strips = None
    if isinstance(raw, dict) and raw.get("regions") is not None and "regions" not in broken:
        strips = _read_strips(c, loc, model)
        resolved["regions"] = [
            {"antibody": r.antibody, "rows": list(r.rows), **json_values(own)}
            for _, r, own in strips
        ]
    _match_files(c, _Batch(i, model, specs, keys, strips))
    return resolved


def _read_strips(c: Collector, loc: Loc, model: BatchModel) -> list[Strip]:
    strips = []
    for k, item in enumerate(model.regions or []):
        read = c.read_region(item, (*loc, "regions", k))
        if read is not None:
            strips.append((k, *read))
    return strips


def _match_files(c: Collector, batch: _Batch) -> None:
    """Match the batch's files against its pattern and add what each gives."""
    model, loc = batch.model, batch.loc
    compiled = compile_pattern(c, model.pattern, (*loc, "pattern"), batch.strips is not None)
    files = find_files(c, model.files, (*loc, "files"))
    if compiled is None or not files:
        c.measures_known = c.lanes_known = False
        return
    regex, groups = compiled
    unmatched: list[str] = []
    # {exposure} in the pattern: files of one membrane and antibody are a series
    series: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for rel in files:
        target = rel if "/" in model.pattern else PurePosixPath(rel).name
        match = regex.search(target)
        if match is None:
            unmatched.append(rel)
        elif batch.strips is not None:
            _add_strips(c, batch, rel, match.group(groups["membrane"]))
        elif "exposure" in groups:
            key = (match.group(groups["membrane"]), match.group(groups["antibody"]))
            series.setdefault(key, []).append((rel, match.group(groups["exposure"])))
        else:
            raw_antibody = match.group(groups["antibody"])
            _add_file(c, batch, rel, match.group(groups["membrane"]), raw_antibody)
    for (membrane, raw_antibody), exposures in series.items():
        if len(exposures) == 1:
            _add_file(c, batch, exposures[0][0], membrane, raw_antibody)
            continue
        for rel, text in exposures:
            label = f"{keypath(batch.loc)} {membrane}/{raw_antibody}"
            _add_file(
                c, batch, rel, membrane, raw_antibody, series=(label, exposure_seconds_of(text))
            )
    _report_unmatched(c, batch, unmatched)


def exposure_seconds_of(text: str) -> float | None:
    """Read an exposure time from a file name's {exposure} field: ``30s``, ``500ms``, ``2min``.

    A bare number is seconds; anything else is no time (the series is then
    ordered by brightness).
    """
    found = re.fullmatch(r"\s*(\d+(?:[.,p]\d+)?)\s*(ms|s|sec|secs|min)?\s*", text, re.I)
    if found is None:
        return None
    value = float(found.group(1).replace(",", ".").replace("p", "."))
    unit = (found.group(2) or "s").lower()
    return value / 1000 if unit == "ms" else value * 60 if unit == "min" else value


def _add_file(
    c: Collector,
    batch: _Batch,
    rel: str,
    membrane: str,
    raw_antibody: str,
    *,
    series: tuple[str, float | None] | None = None,
) -> None:
    """One file of a batch without `regions`: one antibody, named in the file name.

    ``series``: the file is one exposure of a series (its name, its seconds).
    """
    aliases = batch.model.antibody_aliases or {}
    antibody = aliases.get(raw_antibody, raw_antibody)
    if raw_antibody in aliases:
        batch.used_aliases.add(raw_antibody)
    tail = " Remove one file or narrow `files`."
    first = batch.found.get((membrane, antibody))
    in_series = series is not None and first is not None and first.startswith("series ")
    if not in_series:
        if not _first_of_antibody(c, batch, rel, membrane, antibody, tail):
            return
        if series is not None:
            batch.found[membrane, antibody] = f"series {rel}"
        if not _claim_membrane(c, batch, rel, membrane):
            return
    keys = batch.keys
    if series is not None:
        keys = {**keys, "series": series[0], "exposure_s": series[1]}
    c.add_measurement(
        AntibodyEntry(
            membrane,
            antibody,
            (*batch.loc, "files"),
            f"file {rel}",
            raw_antibody if raw_antibody == antibody else None,
        ),
        image=rel,
        keys=keys,
        source=f"{batch.origin} ({batch.model.files}) > {rel}",
    )


def _add_strips(c: Collector, batch: _Batch, rel: str, membrane: str) -> None:
    """One file of a batch with `regions`: one measurement per strip."""
    if not _claim_membrane(c, batch, rel, membrane):
        return
    for k, region, own in batch.strips or ():
        if not _first_of_antibody(c, batch, rel, membrane, region.antibody, ""):
            continue
        c.add_measurement(
            AntibodyEntry(membrane, region.antibody, (*batch.loc, "regions", k), f"file {rel}"),
            image=rel,
            keys={**batch.keys, **own},
            source=f"{batch.origin} ({batch.model.files}) > {rel} > regions[{k}]",
            rows=region.rows,
        )


def _first_of_antibody(
    c: Collector, batch: _Batch, rel: str, membrane: str, antibody: str, tail: str
) -> bool:
    """Tell whether no earlier file of the batch gave this membrane and antibody."""
    first = batch.found.get((membrane, antibody))
    if first is not None:
        c.add(
            (*batch.loc, "files"),
            f"{first} and {rel} both give membrane `{membrane}`"
            f", antibody `{antibody}`; each antibody is measured once per membrane.{tail}",
        )
        return False
    batch.found[membrane, antibody] = rel
    return True


def _claim_membrane(c: Collector, batch: _Batch, rel: str, membrane: str) -> bool:
    """Register the membrane a file names, or tell whether it may join the one known."""
    info = c.membranes.get(membrane)
    if info is None:
        c.add_membrane(membrane, batch.specs, batch.origin)
        return True
    if batch.strips is not None:
        if info.origin != batch.origin:
            c.add(
                (*batch.loc, "files"),
                f"{rel} gives membrane `{membrane}`, which {info.origin} also makes; "
                "rename the files.",
            )
            return False
        return True
    if info.origin.startswith("membranes"):
        c.add(
            (*batch.loc, "files"),
            f"{rel} gives membrane `{membrane}`, but {info.origin} already has "
            "that name; rename the membrane or the files.",
        )
        return False
    if info.origin != batch.origin and info.specs != batch.specs:
        c.add(
            (*batch.loc, "lanes"),
            f"{rel} gives membrane `{membrane}`, which {info.origin} also makes "
            "with a different lane layout; one membrane has one layout. Make "
            "the `lanes` the same or rename the files.",
        )
        return False
    return True


def _report_unmatched(c: Collector, batch: _Batch, unmatched: list[str]) -> None:
    """Files the glob found but the pattern does not match; aliases no file used."""
    model, loc = batch.model, batch.loc
    for rel in unmatched[:_MAX_LISTED]:
        c.add(
            (*loc, "pattern"),
            f"{rel} matches `files` ({model.files}) but not `pattern` "
            f"({model.pattern}), so its membrane and antibody are unknown. Rename the "
            "file, change `pattern`, or narrow `files` so it is not picked up.",
        )
    if len(unmatched) > _MAX_LISTED:
        c.add(
            (*loc, "pattern"),
            f"... and {len(unmatched) - _MAX_LISTED} more files that match `files` but "
            f"not `pattern` ({model.pattern}).",
        )
    if unmatched:
        c.measures_known = False
    for alias in model.antibody_aliases or {}:
        if alias not in batch.used_aliases and not unmatched and batch.strips is None:
            c.warnings.append(
                f"{batch.origin}.antibody_aliases: no file of the batch names the antibody "
                f"`{alias}`; check the spelling (case matters)."
            )


def compile_pattern(
    c: Collector, pattern: str, loc: Loc, with_regions: bool = False
) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """Compile a file-name pattern (``"{membrane}_{antibody}.tif"``).

    Returns
    -------
    tuple or None
        The regular expression and its group name for each field; None (with
        a problem added) if the pattern is not valid.
    """
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        c.add(
            loc,
            f"`{pattern}` is not a valid pattern ({exc}); write fields as "
            "{membrane} and {antibody}, and a literal brace as {{ or }}.",
        )
        return None
    regex = ""
    groups: dict[str, str] = {}
    for literal, name, spec, conversion in parts:
        regex += re.escape(literal)
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            c.add(
                loc,
                f"`{{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}` in `{pattern}` is not a field; write "
                "fields as a plain name in braces, e.g. {membrane}, {antibody}, "
                "{date}.",
            )
            return None
        if name in groups:
            regex += f"(?P={groups[name]})"
        else:
            groups[name] = f"f{len(groups)}"
            regex += f"(?P<{groups[name]}>[^/]+?)"
    if not _has_fields(c, pattern, loc, groups, with_regions):
        return None
    anchored = ("(?:^|/)" if "/" in pattern else "^") + regex + "$"
    return re.compile(anchored, re.DOTALL), groups


def _has_fields(
    c: Collector, pattern: str, loc: Loc, groups: dict[str, str], with_regions: bool
) -> bool:
    """Tell whether the pattern has the fields it needs (and no {antibody} with regions)."""
    if with_regions and "antibody" in groups:
        c.add(
            loc,
            f"`{pattern}` has an {{antibody}} field, but the batch's `regions` "
            "name the antibodies of every file; drop {antibody} from the pattern, "
            'e.g. "{membrane}.tif".',
        )
        return False
    needed = ("membrane",) if with_regions else ("membrane", "antibody")
    missing = [f for f in needed if f not in groups]
    if missing:
        fields = " and ".join("{" + f + "}" for f in missing)
        c.add(
            loc,
            f"`{pattern}` has no {fields} field; the pattern must say where the "
            "file name holds the membrane and the antibody, e.g. "
            '"{membrane}_{antibody}.tif".',
        )
        return False
    return True


def find_files(c: Collector, pattern: str, loc: Loc) -> list[str]:
    """Return the files (not folders) the glob finds, relative to the config folder, sorted.

    If there are none, a problem says what the folder holds instead.
    """
    expanded = os.path.expanduser(pattern)
    try:
        hits = glob.glob(expanded, root_dir=c.folder, recursive=True)
        files = _real_files(c, hits)
    except (OSError, ValueError) as exc:
        c.add(loc, f"`{pattern}` cannot be searched ({exc}).")
        return []
    if files:
        return files
    message = f"`{pattern}` matches no file in {c.folder}."
    if hits:
        message += " It matches only folders; end the glob with the files, e.g. /*.tif."
    else:
        message += _what_is_there(c.folder, expanded)
    c.add(loc, message + " Check the folder and the file extension (case matters).")
    return []


def _real_files(c: Collector, hits: list[str]) -> list[str]:
    """Keep the files among ``hits``: each real file once, none of the run's own results.

    A symlinked folder (or a loop of them) can make a ``**`` glob find one
    file under many names; the QC pictures and staging folders of the run's
    output folder are results, never input.
    """
    ours: list[Path] = []
    if c.output_folder is not None:
        out = Path(os.path.realpath(c.output_folder))
        ours = [out / QC_DIR, *out.glob(f"{STAGING_PREFIX}*")]
    seen: set[str] = set()
    files = []
    # shortest name first: a file reached through a symlinked folder keeps its own name
    for hit in sorted((Path(h).as_posix() for h in hits), key=lambda h: (h.count("/"), h)):
        path = c.folder / hit
        if not path.is_file() or path.name.endswith(INSPECT_SUFFIX):
            continue  # (a picture `blotquant inspect` wrote is no export)
        real = os.path.realpath(path)
        if real in seen or any(Path(real).is_relative_to(folder) for folder in ours):
            continue
        seen.add(real)
        files.append(hit)
    return sorted(files)


def _what_is_there(root: Path, expanded: str) -> str:
    """Say whether the glob's folder exists and, if so, what it holds."""
    fixed = []
    for part in PurePosixPath(Path(expanded).as_posix()).parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    folder = root.joinpath(*fixed) if fixed else root
    try:
        if fixed and not folder.is_dir():
            return f" The folder {folder} does not exist."
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
            if names:
                shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                return f" {folder} holds: {shown}."
    except (OSError, ValueError):
        pass
    return ""
