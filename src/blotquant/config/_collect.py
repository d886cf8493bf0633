"""What reading a config has found so far: the :class:`Collector`.

The reader, the batches and the checks across the config all add to one
Collector: its problems (reported together at the end), its warnings, the
membranes and the measurements. Settings merge here too: the built-in
defaults, then ``analysis``, then the image or batch, then the region; and
:func:`settings` and :func:`settings_dict` are the one translation between the
config's settings and :class:`~blotquant.models.AnalysisSettings` (``auto`` in
the config is ``None`` there).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as _PydanticError

from blotquant.config._messages import (
    ITEM_EXAMPLES,
    MISSING,
    ConfigError,
    Loc,
    Problem,
    closest,
    describe,
)
from blotquant.config._schema import (
    ANALYSIS_KEYS,
    AUTO_KEYS,
    CROP_FULL,
    OVERRIDE_KEYS,
    LaneModel,
    Model,
    PairModel,
    RegionModel,
    translate,
)
from blotquant.models import AnalysisSettings, Lane, Measurement
from blotquant.tables import RESERVED_LANE_KEYS

#: (role, metadata) of each lane of a membrane, before `sample` gets its default.
LaneSpecs = list[tuple[str, dict[str, Any]]]


@dataclass
class AntibodyEntry:
    """Where the config asks for one antibody on one membrane (for the checks across it)."""

    membrane: str
    antibody: str
    loc: Loc
    label: str
    raw_antibody: str | None = None  # batch file-name spelling before aliases
    subject: str = ""  # how a message about this entry starts

    def __post_init__(self) -> None:
        self.subject = self.subject or self.label


@dataclass
class MembraneInfo:
    """A membrane as the config makes it: its lanes and where it comes from."""

    name: str
    lanes: tuple[Lane, ...] | None
    origin: str  # "membranes[0]" or "batches[1]"
    specs: LaneSpecs | None


class Collector:
    """Problems, warnings, membranes and measurements found while reading one config.

    Parameters
    ----------
    config_path : Path
        The config file; relative paths start from its folder.
    lines : dict
        The YAML line of each key path (empty for Python data).
    """

    def __init__(self, config_path: Path, lines: dict[Loc, int]):
        self.config_path = config_path
        self.folder = config_path.parent
        self.lines = lines
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        # False once something that makes measurements, or lanes, could not be read
        self.measures_known = True
        self.lanes_known = True
        self.membranes: dict[str, MembraneInfo] = {}
        self.entries: list[AntibodyEntry] = []
        self.measurements: list[Measurement] = []
        self.global_analysis: dict[str, Any] = {}
        #: Where the results go (batch globs skip blotquant's own pictures there).
        self.output_folder: Path | None = None

    # -- problems

    def add(self, loc: Loc, message: str) -> None:
        """Add a problem at ``loc`` (its line is that of the nearest key written)."""
        line = None
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                line = self.lines[loc[:n]]
                break
        problem = Problem(tuple(loc), message, line)
        if problem not in self.problems:
            self.problems.append(problem)

    def error(self) -> ConfigError:
        """Return every problem in one error, in the order of their lines."""
        order = sorted(
            range(len(self.problems)),
            key=lambda i: (self.problems[i].line is None, self.problems[i].line or 0, i),
        )
        return ConfigError(self.config_path, [self.problems[i] for i in order])

    # -- reading one mapping

    def validate(
        self, model: type[Model], raw: Any, loc: Loc, example: str = ""
    ) -> tuple[Any, set[str]]:
        """Validate one mapping.

        Keys with problems are reported and dropped, so the rest of the
        mapping is still returned for the checks that do not depend on them.

        Returns
        -------
        model or None
            The mapping read (None if it is not a mapping at all).
        broken : set of str
            The keys that are unusable (with a problem, or required and missing).
        """
        if not isinstance(raw, Mapping):
            hint = _mapping_hint(model, raw, example)
            self.add(loc, f"expected a mapping (`key: value` entries); got {describe(raw)}.{hint}")
            return None, set(model.model_fields)
        clean = self._named_keys(raw, loc)
        broken: set[str] = set()
        try:
            result = model.model_validate(clean)
        except _PydanticError as exc:
            for err in exc.errors():
                self.add(loc + tuple(err["loc"]), translate(err, model.kind))
                if err["loc"]:
                    broken.add(str(err["loc"][0]))
            pruned = {k: v for k, v in clean.items() if k not in broken}
            try:
                result = model.model_validate(pruned)
            except _PydanticError:  # pragma: no cover - every field is optional
                return None, set(model.model_fields)
        for key in model.required:
            if key not in broken and getattr(result, key, None) is None:
                message = MISSING.get(key, f"`{key}` is missing.")
                if key in clean:  # written, but with no value
                    message = message.replace("is missing", "has no value", 1)
                self.add(loc + (key,), message)
                broken.add(key)
        return result, broken

    def _named_keys(self, raw: Mapping[Any, Any], loc: Loc) -> dict[str, Any]:
        """Keep the entries whose key is a name; report the others."""
        clean: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(key, str):
                clean[key] = value
                continue
            if isinstance(key, bool):
                why = (
                    " (YAML reads yes/no/on/off/true/false as true or false; put the key in quotes)"
                )
            else:
                why = ""
            self.add(
                loc, f"the key {describe(key)} is not a name{why}. Keys are names like `treatment`."
            )
        return clean

    def path(self, text: str) -> Path:
        """Return a path written in the config as an absolute path."""
        return Path(os.path.abspath(os.path.join(self.folder, os.path.expanduser(text))))

    def read_lanes(
        self, model: Any, broken: set[str], loc: Loc
    ) -> tuple[LaneSpecs | None, int | None]:
        """Read the ``lanes`` of a membrane or batch at ``loc``.

        Returns
        -------
        specs : list or None
            (role, metadata) of each lane; None if any lane has a problem.
        n_lanes : int or None
            How many lanes are listed; None if ``lanes`` is unusable.
        """
        if "lanes" in broken:
            self.lanes_known = False
            return None, None
        specs: LaneSpecs = []
        complete = True
        for k, item in enumerate(model.lanes):
            spec = self._lane_spec(item, (*loc, "lanes", k))
            if spec is None:
                complete = False
            else:
                specs.append(spec)
        if not complete:
            self.lanes_known = False
        return (specs if complete else None), len(model.lanes)

    def _lane_spec(self, item: Any, loc: Loc) -> tuple[str, dict[str, Any]] | None:
        lane, bad = self.validate(LaneModel, item, loc, ITEM_EXAMPLES["lanes"])
        if lane is None or bad:
            return None
        role = lane.role or "sample"
        meta = dict(lane.model_extra or {})
        complete = True
        for key in meta:
            if key in RESERVED_LANE_KEYS:
                self.add(
                    (*loc, key),
                    f"`{key}` is a column blotquant writes itself; "
                    f"rename this lane key (e.g. `{key}_label`).",
                )
                complete = False
        treatment = meta.get("treatment")
        if role == "sample" and (treatment is None or treatment == ""):
            typo = closest("treatment", [k for k in meta if k != "sample"])
            hint = f" Is `{typo}` meant to be `treatment`?" if typo else ""
            self.add(
                loc,
                "a sample lane needs a `treatment` (e.g. {treatment: DMSO})."
                f"{hint} Mark ladder and empty lanes with {{role: ladder}} or "
                "{role: empty}.",
            )
            complete = False
        amount = meta.get("amount")
        if role == "standard" and not (
            isinstance(amount, int | float) and not isinstance(amount, bool) and amount > 0
        ):
            self.add(
                loc,
                "a standard lane needs the `amount` of lysate (or protein) it holds, a number "
                f"above 0 in any unit, the same for every standard (e.g. {{role: standard, "
                f"amount: 5}}); got {'none' if amount is None else repr(amount)}.",
            )
            complete = False
        if meta.get("sample") in (None, ""):
            meta.pop("sample", None)
        return (role, meta) if complete else None

    def read_region(self, item: Any, loc: Loc) -> tuple[RegionModel, dict[str, Any]] | None:
        """Read one entry of ``regions``: the region and the keys it sets itself."""
        region, bad = self.validate(RegionModel, item, loc, ITEM_EXAMPLES["regions"])
        if region is None or {"antibody", "rows"} & bad:
            self.measures_known = False
            return None
        return region, overrides(region, bad, OVERRIDE_KEYS)

    # -- what the config measures

    def check_lane_centers(
        self, loc: Loc, centers: Any, n_lanes: int | None, owner: str, fix: str
    ) -> None:
        """Tell if ``lane_centers`` does not give one centre per lane of ``owner``."""
        if centers is None or n_lanes is None or len(centers) == n_lanes:
            return
        self.add(
            loc,
            f"has {len(centers)} lane centre{'s' if len(centers) != 1 else ''} but "
            f"{owner} has {n_lanes} lane{'s' if n_lanes != 1 else ''} "
            f"(ladder and empty lanes count too); {fix}",
        )

    def add_membrane(self, name: str, specs: LaneSpecs | None, origin: str) -> None:
        """Register a membrane with the lanes ``specs`` describe (None: unknown)."""
        lanes = make_lanes(specs, name) if specs is not None else None
        self.membranes[name] = MembraneInfo(name, lanes, origin, specs)

    def add_measurement(
        self,
        entry: AntibodyEntry,
        *,
        image: str | None,
        keys: Mapping[str, Any],
        source: str,
        rows: tuple[int, int] | None = None,
    ) -> None:
        """Record one antibody on one image or region (a Measurement if the image is known).

        ``keys`` are the image's (and region's) own settings; they are merged
        over the config's ``analysis``.
        """
        self.entries.append(entry)
        if image is None:
            return
        self.measurements.append(
            Measurement(
                membrane=entry.membrane,
                image=image,
                path=self.path(image),
                antibody=entry.antibody,
                channel=keys.get("channel", 0),
                rows=rows,
                band_rows=keys.get("band_rows"),
                band=keys.get("band") or "both",
                stain=keys.get("stain"),
                lane_centers=keys.get("lane_centers"),
                crop=None if keys.get("crop") == CROP_FULL else keys.get("crop"),
                find_membrane=keys.get("crop") is None,
                rotate=keys.get("rotate") or 0.0,
                analysis=settings({**self.global_analysis, **keys}),
                source=source,
                series=keys.get("series") or "",
                exposure_s=keys.get("exposure_s"),
                **_ladder_fields(keys),
            )
        )


def _mapping_hint(model: type[Model], raw: Any, example: str) -> str:
    """How to write an entry that is not a mapping."""
    hint = f" Write it like {example}." if example else ""
    if isinstance(raw, str) and raw.strip() in ("ladder", "empty") and model is LaneModel:
        hint = f" Write it as {{role: {raw.strip()}}}."
    if isinstance(raw, str) and model is PairModel and "/" in raw:
        phospho, _, total = raw.partition("/")
        hint = f" Write it as {{phospho: {phospho.strip()}, total: {total.strip()}}}."
    return hint


def absolute(path: Any) -> Path:
    """Return ``path`` absolute, with ``~`` expanded (TypeError or ValueError if no path)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def overrides(model: BaseModel, broken: set[str], keys: Iterable[str]) -> dict[str, Any]:
    """Return the keys that a mapping sets (written with a value and valid)."""
    return {
        key: getattr(model, key)
        for key in keys
        if key not in broken and getattr(model, key, None) is not None
    }


def settings(values: Mapping[str, Any]) -> AnalysisSettings:
    """Build AnalysisSettings from merged config keys (`auto` becomes None)."""
    return AnalysisSettings(
        **{
            key: None if key in AUTO_KEYS and values[key] == "auto" else values[key]
            for key in ANALYSIS_KEYS
            if key in values
        }
    )


def settings_dict(analysis: AnalysisSettings) -> dict[str, Any]:
    """Write AnalysisSettings as the config would (None becomes `auto`), for run.json."""
    out = {key: getattr(analysis, key) for key in ANALYSIS_KEYS}
    for key in AUTO_KEYS:
        if out[key] is None:
            out[key] = "auto"
    return out


def _ladder_fields(keys: Mapping[str, Any]) -> dict[str, Any]:
    """Measurement fields for the molecular-weight ladder and band_kda."""
    ladder = keys.get("ladder")
    fields: dict[str, Any] = {"band_kda": keys.get("band_kda")}
    if ladder is not None:
        fields.update(ladder_lane=ladder["lane"], ladder_kda=tuple(ladder["kda"]))
    if keys.get("band_kda_tolerance") is not None:
        fields["band_kda_tolerance"] = keys["band_kda_tolerance"]
    return fields


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the values with tuples as lists, as run.json shows them."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def make_lanes(specs: LaneSpecs, membrane: str | None) -> tuple[Lane, ...]:
    """Make the lanes, numbered from 1; a lane without `sample` gets ``<membrane>-L<n>``."""
    lanes = []
    for number, (role, meta) in enumerate(specs, start=1):
        metadata = dict(meta)
        metadata.setdefault("sample", f"{membrane}-L{number}")
        lanes.append(Lane(number=number, role=role, metadata=metadata))  # type: ignore[arg-type]
    return tuple(lanes)


def lane_dict(lane: Lane) -> dict[str, Any]:
    """Write a lane as the config would, for run.json."""
    return {"role": lane.role, **lane.metadata}
