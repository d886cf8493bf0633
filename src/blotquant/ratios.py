"""Phospho/total ratios per lane, fold changes against control, and the summary."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from blotquant.models import Experiment
from blotquant.tables import (
    EXCLUDING_FLAGS,
    EXCLUDING_TOTAL_FLAGS,
    RATIOS_LEADING,
    RATIOS_MEASURED,
    SUMMARY_MEASURED,
    has_flag,
    merge_flags,
    same_value,
)


def ratios_table(experiment: Experiment, bands: pd.DataFrame) -> pd.DataFrame:
    """One row per membrane, sample lane and pair with both bands measured."""
    meta_keys = experiment.lane_keys()
    index = {}
    for row in bands.to_dict("records"):
        index.setdefault((row["membrane"], row["antibody"], int(row["lane"])), row)
    rows: list[dict[str, Any]] = []
    for membrane in experiment.membranes:
        for pair in experiment.pairs:
            for lane in membrane.lanes:
                if not lane.in_ratios:
                    continue
                p = index.get((membrane.name, pair.phospho, lane.number))
                ts = [index.get((membrane.name, d, lane.number)) for d in pair.denominators]
                lp = [index.get((membrane.name, d, lane.number)) for d in pair.phospho_loading]
                lt = [index.get((membrane.name, d, lane.number)) for d in pair.total_loading]
                if p is None or any(x is None for x in (*ts, *lp, *lt)):
                    continue
                t = ts[0]
                total = _denominator([float(x["net_volume"]) for x in ts])
                phospho = float(p["net_volume"])
                flags = merge_flags(p["flags"], *(x["flags"] for x in (*ts, *lp, *lt)))
                loading = (np.nan, np.nan)
                if lp:
                    # each band over its own lane's loading (its own gel's stain)
                    loading = (
                        _denominator([float(x["net_volume"]) for x in lp]),
                        _denominator([float(x["net_volume"]) for x in lt]),
                    )
                    if min(loading) <= 0:
                        flags = merge_flags(flags, "loading-not-positive")
                        phospho, total = np.nan, np.nan
                    else:
                        phospho, total = phospho / loading[0], total / loading[1]
                ratio = phospho / total if total > 0 else np.nan
                if total <= 0:
                    flags = merge_flags(flags, "total-not-positive")
                row = {"membrane": membrane.name, "lane": lane.number}
                for key in meta_keys:
                    row[key] = lane.metadata.get(key)
                row.update(
                    pair=pair.name,
                    phospho_net=phospho,
                    total_net=total,
                    ratio=ratio,
                    fold_change=np.nan,
                    flags=flags,
                    # the background method of both bands (phospho/total when they differ)
                    background=_methods(p.get("background"), t.get("background")),
                    kind=pair.kind,
                    role=lane.role,
                    calibrator_ratio=np.nan,
                    phospho_loading=loading[0],
                    total_loading=loading[1],
                )
                rows.append(row)
    columns = [*RATIOS_LEADING, *meta_keys, *RATIOS_MEASURED]
    table = pd.DataFrame(rows, columns=columns)
    return _fold_changes(experiment, table)


def _denominator(volumes: list[float]) -> float:
    """Give a ratio's denominator: one band's volume, or the geometric mean of several.

    Several loading controls are combined by their geometric mean, so each
    weighs the same whatever its brightness; a non-positive one leaves no ratio.
    """
    if len(volumes) == 1:
        return volumes[0]
    if min(volumes) <= 0:
        return min(volumes)
    return float(np.exp(np.mean(np.log(volumes))))


def _methods(phospho: object, total: object) -> str:
    if phospho is None or total is None:
        return str(phospho or total or "")
    return str(phospho) if phospho == total else f"{phospho}/{total}"


def _usable(flags: pd.Series) -> pd.Series:
    return ~flags.map(lambda f: has_flag(f, EXCLUDING_FLAGS + EXCLUDING_TOTAL_FLAGS))


def counted_in_summary(ratios: pd.DataFrame) -> pd.Series:
    """Say which rows of ratios.csv count in summary.csv: the one rule every table and figure uses.

    A lane counts when it has a fold change and neither band carries a flag
    that makes the value untrustworthy (``saturated``, a ``no-band`` total).
    Other flags (``dust``, ``low-snr``, ...) are cautions: the lane counts.
    """
    if ratios.empty:
        return pd.Series(dtype=bool)
    # (calibrator lanes are a reference, not a treatment: never in a group's mean)
    sample = ratios["role"] != "calibrator" if "role" in ratios else True
    return _usable(ratios["flags"]) & ratios["fold_change"].notna() & sample


def _fold_changes(experiment: Experiment, table: pd.DataFrame) -> pd.DataFrame:
    """Divide each ratio by the mean control ratio of its membrane and group.

    Each pair uses its own ``control``, ``normalize_within`` and
    ``normalize_to`` where it gives them, else the experiment's. With
    ``normalize_to: calibrator``, each ratio is first divided by its
    membrane's calibrator ratio (``calibrator_ratio``, the mean of that
    membrane's calibrator lanes), which takes away what differs between
    membranes (exposure, transfer); the controls' mean is then taken over
    every membrane of the group, so lanes on a membrane without controls get
    fold changes too.
    """
    if table.empty:
        return table
    table = table.copy()
    for pair in experiment.pairs:
        rows = table["pair"] == pair.name
        if rows.any():
            control, within, normalize_to = experiment.reference(pair)
            table.loc[rows] = _pair_fold_changes(
                table.loc[rows],
                control=control,
                within=within,
                through_calibrator=normalize_to == "calibrator",
            )
    return table


def _pair_fold_changes(
    table: pd.DataFrame,
    *,
    control: dict[str, Any],
    within: tuple[str, ...],
    through_calibrator: bool,
) -> pd.DataFrame:
    """Fold changes of one pair's rows (see :func:`_fold_changes`)."""
    table = table.copy()
    usable = _usable(table["flags"]) & table["ratio"].notna()
    values = table["ratio"].astype(float)
    if through_calibrator:
        calibrators = table["role"] == "calibrator"
        for _, idx in table.groupby("membrane", sort=False).groups.items():
            cal = table.loc[idx][calibrators.loc[idx] & usable.loc[idx]]
            mean = float(cal["ratio"].mean()) if len(cal) else np.nan
            if not (mean > 0 and np.isfinite(mean)):
                table.loc[idx, "flags"] = table.loc[idx, "flags"].map(
                    lambda f: merge_flags(f, "no-calibrator")
                )
                continue
            table.loc[idx, "calibrator_ratio"] = mean
        values = table["ratio"].astype(float) / table["calibrator_ratio"].astype(float)
    group_keys = [*([] if through_calibrator else ["membrane"]), "pair", *within]
    is_control = table["role"] != "calibrator"
    for key, value in control.items():
        if key not in table.columns:
            is_control &= False
            continue
        is_control &= table[key].map(lambda v, value=value: same_value(v, value))
    keys = [table[k].astype(str) for k in group_keys]
    by = keys if len(keys) > 1 else keys[0]  # (pandas: one key is not a list)
    for _, idx in table.groupby(by, sort=False).groups.items():
        group = table.loc[idx]
        controls = group[is_control.loc[idx]]
        if controls.empty:
            table.loc[idx, "flags"] = group["flags"].map(lambda f: merge_flags(f, "no-control"))
            continue
        clean = controls[usable.loc[controls.index] & values.loc[controls.index].notna()]
        reference = clean if not clean.empty else controls
        mean_ratio = float(values.loc[reference.index].mean())
        if len(clean) < len(controls):
            # a flagged control makes every fold change of this group suspect
            table.loc[idx, "flags"] = group["flags"].map(
                lambda f: merge_flags(f, "control-flagged")
            )
        if mean_ratio > 0 and np.isfinite(mean_ratio):
            table.loc[idx, "fold_change"] = values.loc[idx] / mean_ratio
    return table


def sample_rows(ratios: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of sample lanes (calibrator lanes are a reference, not a group)."""
    if "role" not in ratios or ratios.empty:
        return ratios
    return ratios[ratios["role"] != "calibrator"]


def calibrator_spread(ratios: pd.DataFrame) -> list[str]:
    """Say how much each pair's calibrator ratio differs between membranes (a warning each)."""
    if ratios.empty or "calibrator_ratio" not in ratios:
        return []
    notes = []
    per_membrane = ratios.dropna(subset=["calibrator_ratio"]).drop_duplicates(["pair", "membrane"])
    for pair, rows in per_membrane.groupby("pair", sort=False):
        values = rows["calibrator_ratio"].astype(float)
        if len(values) < 2:
            continue
        cv = float(values.std(ddof=1) / values.mean())
        notes.append(
            f"{pair}: the calibrator's ratio differs between the {len(values)} membranes by "
            f"{100 * cv:.0f} % (CV; {values.min():.3g} to {values.max():.3g}), which the "
            "calibrator takes away from the fold changes."
        )
    return notes


def summary_table(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD and SEM of ratio and fold change per ``summary_by`` group and pair.

    Lanes whose bands are saturated, or whose total band is missing, are
    left out of the statistics (counted in ``n_excluded``), never averaged in.
    Lanes the config puts in a group that gave no ratio at all (their image
    was rejected, a band was not measured) are counted in ``n_missing``. A
    group whose every lane was left out or is missing keeps its row, with
    ``n`` 0, and ``note`` says why in words.
    """
    keys = list(experiment.summary_by)
    columns = [*keys, *SUMMARY_MEASURED]
    ratios = sample_rows(ratios)
    expected = _expected_lanes(experiment)
    if ratios.empty and expected.empty:
        return pd.DataFrame(columns=columns)
    usable = counted_in_summary(ratios) if len(ratios) else pd.Series(dtype=bool)
    group_cols = [k for k in keys if k in expected.columns or k in ratios.columns]
    grouping = [*group_cols, "pair"]
    pair_order = {p.name: i for i, p in enumerate(experiment.pairs)}
    kinds = {p.name: p.kind for p in experiment.pairs}
    measured = ratios.assign(_usable=usable, _measured=True)
    frame = pd.concat(
        [measured, expected.assign(_usable=False, _measured=False)], ignore_index=True
    )
    for k in grouping:
        if k not in frame.columns:
            frame[k] = None
    frame["_pair_order"] = frame["pair"].map(pair_order)
    # group on text so that missing values and mixed types group predictably
    text_keys = [frame[k].map(lambda v: "" if v is None or v != v else str(v)) for k in grouping]
    rows = []
    for _, group in frame.groupby(text_keys, sort=False):
        first = group.iloc[0]
        lanes = group[group["_measured"]]
        used = lanes[lanes["_usable"].astype(bool)]
        n = len(used)
        fc = pd.to_numeric(used["fold_change"]).dropna()
        ratio = pd.to_numeric(used["ratio"])
        n_missing = max(0, int((~group["_measured"]).sum()) - len(lanes))
        row = {k: first[k] for k in group_cols}
        for k in keys:
            row.setdefault(k, None)
        row.update(
            pair=first["pair"],
            n=n,
            ratio_mean=ratio.mean() if n else np.nan,
            ratio_sd=ratio.std(ddof=1) if n > 1 else np.nan,
            fold_change_mean=fc.mean() if len(fc) else np.nan,
            fold_change_sd=fc.std(ddof=1) if len(fc) > 1 else np.nan,
            fold_change_sem=fc.std(ddof=1) / np.sqrt(len(fc)) if len(fc) > 1 else np.nan,
            n_excluded=len(lanes) - n,
            flags=merge_flags(*lanes["flags"]) if len(lanes) else "",
            n_missing=n_missing,
            note=_summary_note(lanes, n, n_missing),
            background=";".join(
                dict.fromkeys(str(m) for m in lanes.get("background", []) if m == m)
            ),
            kind=kinds.get(first["pair"], ""),
            _order=(first["_pair_order"], group.index.min()),
        )
        rows.append(row)
    rows.sort(key=lambda r: r.pop("_order"))
    return pd.DataFrame(rows, columns=columns)


def _expected_lanes(experiment: Experiment) -> pd.DataFrame:
    """Every (membrane, sample lane, pair) the config asks a ratio for, with its lane keys.

    A pair is asked of a membrane when the config measures both its antibodies there.
    """
    measured: dict[str, set[str]] = {}
    for m in experiment.measurements:
        measured.setdefault(m.membrane, set()).add(m.antibody)
    rows = []
    for membrane in experiment.membranes:
        antibodies = measured.get(membrane.name, set())
        for pair in experiment.pairs:
            if not set(pair.antibodies) <= antibodies:
                continue
            for lane in membrane.lanes:
                if lane.role == "sample":
                    rows.append(
                        {
                            "membrane": membrane.name,
                            "lane": lane.number,
                            **lane.metadata,
                            "pair": pair.name,
                        }  # fmt: skip
                    )
    return pd.DataFrame(rows)


def _summary_note(lanes: pd.DataFrame, n: int, n_missing: int) -> str:
    """Say in words why a group has fewer lanes than the config gives it."""
    parts = []
    left_out = lanes[~lanes["_usable"].astype(bool)]
    if len(left_out):
        reasons = merge_flags(*left_out["flags"]) or "no ratio"
        parts.append(f"{len(left_out)} lane(s) left out ({reasons.replace(';', ', ')})")
    if n_missing:
        parts.append(f"{n_missing} lane(s) not measured (image rejected or band not found)")
    if not parts:
        return ""
    return ("no lane counts: " if n == 0 else "") + "; ".join(parts)


def summary_wide_table(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """Fold changes laid out for GraphPad Prism (``summary_wide.csv``).

    One column per ``summary_by`` group (its values joined by `` | ``, e.g.
    ``parental | linsitinib | 100``) and one row per pair and replicate: each
    membrane is a row, titled with its name in ``replicate``, so a row holds
    one membrane's values in every group and Prism's paired and
    repeated-measures analyses pair the right values. A membrane with two
    lanes of a group gets a second row (``rep1 #2``); a value that is missing
    (the group is not on that membrane, or its lane was left out of
    summary.csv: saturated, no total band) is an empty cell, never closed up.
    ``prism/<pair>.csv`` holds each pair's rows alone, ready to import.
    """
    keys = [k for k in experiment.summary_by if k in ratios.columns]
    ratios = sample_rows(ratios)
    if ratios.empty:
        return pd.DataFrame(columns=["pair", "replicate"])

    def label(row: pd.Series) -> str:
        return " | ".join("" if row[k] is None else str(row[k]) for k in keys) or "all"

    groups = list(dict.fromkeys(label(r) for _, r in ratios.iterrows()))
    usable = counted_in_summary(ratios)
    rows = []
    for pair in [p.name for p in experiment.pairs]:
        part = ratios[ratios["pair"] == pair]
        for membrane in dict.fromkeys(part["membrane"]):
            lanes = part[part["membrane"] == membrane]
            columns: dict[str, list[float]] = {g: [] for g in groups}
            for index, row in lanes.iterrows():
                value = float(row["fold_change"]) if usable[index] else np.nan
                columns[label(row)].append(value)
            depth = max(len(v) for v in columns.values())
            for k in range(depth):
                title = str(membrane) if depth == 1 else f"{membrane} #{k + 1}"
                entry: dict[str, object] = {"pair": pair, "replicate": title}
                for g, values in columns.items():
                    entry[g] = values[k] if k < len(values) else np.nan
                rows.append(entry)
    return pd.DataFrame(rows, columns=["pair", "replicate", *groups])


def prism_tables(experiment: Experiment, wide: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each pair's rows of :func:`summary_wide_table`, for one Prism table each.

    Parameters
    ----------
    experiment : Experiment
        Gives the pairs, in order.
    wide : DataFrame
        :func:`summary_wide_table`'s result.

    Returns
    -------
    dict
        File name (the pair, e.g. ``p-AKT_over_AKT.csv``) -> table whose first
        column, ``replicate``, is Prism's row titles.
    """
    tables = {}
    for pair in [p.name for p in experiment.pairs]:
        part = wide[wide["pair"] == pair].drop(columns="pair")
        if len(part):
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", pair.replace("/", "_over_")).strip("._")
            tables[f"{name or 'pair'}.csv"] = part.reset_index(drop=True)
    return tables
