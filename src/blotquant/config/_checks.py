"""Checks across the whole config, once every membrane and image is read.

Each check looks at what the :class:`~blotquant.config._collect.Collector`
holds: an antibody measured twice on one membrane, a pair whose antibodies
are never measured together, a control that matches no lane, a lane key that
no lane has.
"""

from __future__ import annotations

import re
from typing import Any

from blotquant.config._collect import AntibodyEntry, Collector
from blotquant.config._messages import closest, did_you_mean
from blotquant.models import Lane, Pair
from blotquant.tables import same_value


def check_duplicates(c: Collector) -> None:
    """Check that each antibody is measured once per membrane."""
    first: dict[tuple[str, str], AntibodyEntry] = {}
    for m in c.entries:
        key = (m.membrane, m.antibody)
        if key not in first:
            first[key] = m
        elif first[key].loc != m.loc:  # the same loc: reported as a batch's own duplicate
            c.add(
                m.loc,
                f"{m.subject} measures `{m.antibody}` on membrane `{m.membrane}`"
                f", as {first[key].label} does already; each antibody is measured once "
                "per membrane. Remove one, or name them apart (e.g. AKT-long).",
            )


def check_pairs(c: Collector, pairs: list[Pair] | None) -> None:
    """Check that every antibody of each pair is measured, all together on some membrane."""
    if pairs is None or not c.measures_known:
        return
    where: dict[str, set[str]] = {}
    for m in c.entries:
        where.setdefault(m.antibody, set()).add(m.membrane)
    paired = {name for pair in pairs for name in pair.antibodies}
    unpaired = sorted(set(where) - paired)
    if unpaired and pairs:
        c.warnings.append(
            f"{', '.join(unpaired)} {'is' if len(unpaired) == 1 else 'are'} measured but in no "
            "pair: bands.csv has the volumes; ratios.csv and summary.csv do not use them. "
            "Add a pair (e.g. {target: AXL, loading: GAPDH}) if you want ratios."
        )
    # (a total-protein stain is the lane's whole protein, not a housekeeping band)
    stains = {m.antibody for m in c.measurements if m.stain is not None}
    single = [
        p.name
        for p in pairs
        if p.kind == "target/loading" and len(p.loading) == 1 and p.loading[0] not in stains
    ]
    if single:
        c.warnings.append(
            f"{', '.join(single)}: one housekeeping band is a weaker reference than the lane's "
            "total protein (Ponceau S, stain-free, REVERT), which journals now prefer; where "
            "you can, list two or more loading controls (combined by their geometric mean)."
        )
    for k, pair in enumerate(pairs):
        if _unmeasured(c, k, pair, where):
            continue
        on = [where[a] for a in pair.antibodies]
        together = set.intersection(*on)
        if not together:
            c.add(
                ("pairs", k),
                f"{' and '.join(f'`{a}`' for a in pair.antibodies)} are never measured on the "
                "same membrane ("
                + "; ".join(f"{a} on {', '.join(sorted(where[a]))}" for a in pair.antibodies)
                + "), so no ratio can be computed. A ratio needs all its antibodies on one "
                "membrane.",
            )
            continue
        for membrane in sorted(set.union(*on) - together):
            lacks = [a for a in pair.antibodies if membrane not in where[a]]
            has = [a for a in pair.antibodies if membrane in where[a]]
            c.warnings.append(
                f"Membrane {membrane} has {', '.join(has)} but no {', '.join(lacks)}; the pair "
                f"{pair.name} gives no ratios for it."
            )


def _roles(pair: Pair) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(where in the pair, what it is, antibody) for each antibody of a pair."""
    if pair.kind == "phospho/total":
        roles: list[tuple[tuple[str | int, ...], str, str]] = [
            (("phospho",), "phospho", pair.phospho),
            (("total",), "total", pair.total),
        ]
        if pair.phospho_loading == pair.total_loading:
            keys = [("loading", pair.phospho_loading)]
        else:
            keys = [
                ("phospho_loading", pair.phospho_loading),
                ("total_loading", pair.total_loading),
            ]
        for key, names in keys:
            roles += [
                (((key,) if len(names) == 1 else (key, i)), "loading control", name)
                for i, name in enumerate(names)
            ]
        return roles
    loading: list[tuple[tuple[str | int, ...], str, str]] = [
        ((("loading",) if len(pair.loading) == 1 else ("loading", i)), "loading control", name)
        for i, name in enumerate(pair.loading)
    ]
    return [(("target",), "target", pair.phospho), *loading]


def _unmeasured(c: Collector, k: int, pair: Pair, where: dict[str, set[str]]) -> bool:
    """Report the antibodies of ``pairs[k]`` that nothing measures; tell if there are any."""
    raw_names = {m.raw_antibody for m in c.entries if m.raw_antibody}
    listed = ", ".join(sorted(where)) or "none"
    missing = False
    for at, role, name in _roles(pair):
        if name in where:
            continue
        missing = True
        if name == "EDIT":  # the placeholder `blotquant init` writes
            c.add(
                ("pairs", k, *at),
                f"still `EDIT`, the placeholder `blotquant init` wrote where it could not "
                f"tell the {role} antibody: write its name. Antibodies measured: {listed}.",
            )
            continue
        guess = closest(name, where)
        hint = f" Did you mean `{guess}`?" if guess else ""
        raw_guess = closest(name, raw_names)
        if raw_guess is not None:
            hint += (
                f" If the batch files' `{raw_guess}` is this antibody, add "
                f"antibody_aliases: {{{raw_guess}: {name}}} to the batch."
            )
        c.add(
            ("pairs", k, *at),
            f"no image or batch measures `{name}`.{hint} "
            f"Antibodies measured: {listed}. Check the spelling here and in the "
            "images' `antibody`.",
        )
    return missing


def _sample_lanes(c: Collector) -> list[Lane]:
    return [
        lane for info in c.membranes.values() for lane in info.lanes or () if lane.role == "sample"
    ]


def _lane_keys(c: Collector) -> list[str]:
    """Every metadata key of a sample lane, sorted."""
    return sorted({key for lane in _sample_lanes(c) for key in lane.metadata})


def check_calibrators(
    c: Collector, pairs: list[Pair] | None = None, at: tuple[str | int, ...] = ("normalize_to",)
) -> None:
    """With ``normalize_to: calibrator``, every membrane of the pairs needs a calibrator lane.

    ``pairs``: the pairs normalised so (None: every membrane counts).
    """
    if not c.lanes_known:
        return
    measured: set[str] | None = None
    if pairs is not None:
        wanted = {a for p in pairs for a in p.antibodies}
        measured = {m.membrane for m in c.entries if m.antibody in wanted}
    without = [
        name
        for name, info in c.membranes.items()
        if info.lanes is not None
        and (measured is None or name in measured)
        and not any(lane.role == "calibrator" for lane in info.lanes)
    ]
    if without:
        c.add(
            at,
            f"is `calibrator`, but membrane(s) {', '.join(without)} have no calibrator lane: "
            "mark the reference lysate's lane on every membrane with {role: calibrator}, "
            "or normalise to the control lanes of each membrane (leave out normalize_to).",
        )


def check_doses(c: Collector, dose_key: str) -> None:
    """Check that every lane's dose is a number: ``10 nM`` would split a group and drop a point."""
    if not c.lanes_known:
        return
    for info in c.membranes.values():
        found = re.fullmatch(r"(\w+)\[(\d+)\]", info.origin)
        for lane in info.lanes or ():
            value = lane.metadata.get(dose_key)
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                continue
            loc = (found[1], int(found[2]), "lanes", lane.number - 1, dose_key) if found else ()
            number = re.match(r"\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)", str(value))
            hint = f" Write {number[1]}" if number else " Write the dose as a number"
            c.add(
                loc,
                f"the dose `{value}` of lane {lane.number} of membrane {info.name} is not a "
                f"number.{hint} (the unit is in the key's name, `{dose_key}`); doses that are "
                "text would split their group and be left out of the dose-response fit.",
            )


def check_control(
    c: Collector, control: dict[str, Any], given: bool, normalize: list[str] | None
) -> None:
    """Check that the control names lane keys, matches lanes, and is in every group."""
    if not c.lanes_known or not c.membranes:
        return
    for name, info in c.membranes.items():
        if info.lanes is not None and not any(lane.role == "sample" for lane in info.lanes):
            c.warnings.append(
                f"Membrane {name} has no sample lanes (only ladder or "
                "empty ones); it gives no ratios."
            )
    keys = _lane_keys(c)
    what = ", ".join(f"{k}: {v}" for k, v in control.items())
    if not _knows_control_keys(c, control, given, keys, what):
        return
    if not _has_control_lane(c, control, given, what):
        return
    if normalize is not None and all(k in keys for k in normalize):
        _check_groups(c, control, normalize, what)


def _knows_control_keys(
    c: Collector, control: dict[str, Any], given: bool, keys: list[str], what: str
) -> bool:
    """Tell whether every key of the control is a lane key; report those that are not."""
    unknown = [k for k in control if k not in keys]
    for key in unknown:
        c.add(
            ("control", key) if given else ("control",),
            f"no sample lane has the key `{key}`.{did_you_mean(key, keys)} Lane keys: "
            f"{', '.join(keys) or 'none'}."
            + (
                ""
                if given
                else f" (`control` is not given, so it is {{{what}}}; add "
                "control: {treatment: <your control treatment>}.)"
            ),
        )
    return not unknown


def _is_control(lane: Lane, control: dict[str, Any]) -> bool:
    return all(same_value(lane.metadata.get(k), v) for k, v in control.items())


def _has_control_lane(c: Collector, control: dict[str, Any], given: bool, what: str) -> bool:
    """Tell whether a sample lane is a control lane; if none is, say what the lanes have."""
    lanes = _sample_lanes(c)
    if any(_is_control(lane, control) for lane in lanes):
        return True
    values = []
    hint = ""
    for key, value in control.items():
        seen = sorted({str(lane.metadata.get(key)) for lane in lanes})
        values.append(f"{key}: {', '.join(seen)}")
        if not hint:
            hint = did_you_mean(str(value), seen)
    c.add(
        ("control",),
        f"no sample lane is a control lane {{{what}}}, so there would be no fold "
        f"changes.{hint} The lanes have {'; '.join(values)}. "
        + (
            "Change `control` to match your control lanes."
            if given
            else "`control` is not given; add it, e.g. "
            "control: {treatment: <your control treatment>}."
        ),
    )
    return False


def _check_groups(c: Collector, control: dict[str, Any], normalize: list[str], what: str) -> None:
    """Warn about each ``normalize_within`` group of a membrane without a control lane."""
    for name, info in c.membranes.items():
        groups: dict[tuple[str, ...], list[Lane]] = {}
        for lane in info.lanes or ():
            if lane.role == "sample":
                group = tuple(str(lane.metadata.get(k)) for k in normalize)
                groups.setdefault(group, []).append(lane)
        for group, members in groups.items():
            if any(_is_control(lane, control) for lane in members):
                continue
            within = "".join(f", {k}={v}" for k, v in zip(normalize, group, strict=True))
            numbers = ", ".join(str(lane.number) for lane in members)
            c.warnings.append(
                f"Membrane {name}{within}: no control lane ({what}) among lanes {numbers}; "
                "their fold changes will be empty. Add a control lane there or change "
                "`control` / `normalize_within`."
            )


def check_lane_keys(
    c: Collector, key: str, names: list[str] | None, extra: tuple[str, ...], *, single: bool = False
) -> None:
    """Check that every name listed under ``key`` is a lane key (or one of ``extra``).

    ``single``: the key holds one name, not a list (its problems are at ``key`` itself).
    """
    if names is None or not c.lanes_known or not c.membranes:
        return
    keys = _lane_keys(c)
    for n, name in enumerate(names):
        if name not in keys and name not in extra:
            c.add(
                (key,) if single else (key, n),
                f"no sample lane has the key `{name}`."
                f"{did_you_mean(name, [*keys, *extra])} Lane keys: "
                f"{', '.join(keys) or 'none'}.",
            )


def check_pair_reference(c: Collector, k: int, pair: Pair) -> None:
    """Check a pair's own ``control``, ``normalize_within`` and ``normalize_to``."""
    if pair.normalize_to == "calibrator":
        check_calibrators(c, [pair], ("pairs", k, "normalize_to"))
    if not c.lanes_known or not c.membranes:
        return
    keys = _lane_keys(c)
    for n, name in enumerate(pair.normalize_within or ()):
        if name not in keys and name != "membrane":
            c.add(
                ("pairs", k, "normalize_within", n),
                f"no sample lane has the key `{name}`.{did_you_mean(name, keys)} Lane keys: "
                f"{', '.join(keys) or 'none'}.",
            )
    if pair.control is None:
        return
    control = dict(pair.control)
    unknown = [key for key in control if key not in keys]
    for key in unknown:
        c.add(
            ("pairs", k, "control", key),
            f"no sample lane has the key `{key}`.{did_you_mean(key, keys)} Lane keys: "
            f"{', '.join(keys) or 'none'}.",
        )
    if unknown:
        return
    if not any(
        all(same_value(lane.metadata.get(key), value) for key, value in control.items())
        for lane in _sample_lanes(c)
    ):
        what = ", ".join(f"{key}: {value}" for key, value in control.items())
        c.add(
            ("pairs", k, "control"),
            f"no sample lane is {{{what}}}, so this pair's fold changes have no reference. "
            "Check the values against the lanes.",
        )
