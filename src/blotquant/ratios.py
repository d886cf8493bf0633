"""Phospho/total ratios per lane, fold changes against control, and the summary."""

from __future__ import annotations

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
                if lane.role != "sample":
                    continue
                p = index.get((membrane.name, pair.phospho, lane.number))
                t = index.get((membrane.name, pair.total, lane.number))
                if p is None or t is None:
                    continue
                total = float(t["net_volume"])
                phospho = float(p["net_volume"])
                flags = merge_flags(p["flags"], t["flags"])
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
                )
                rows.append(row)
    columns = [*RATIOS_LEADING, *meta_keys, *RATIOS_MEASURED]
    table = pd.DataFrame(rows, columns=columns)
    return _fold_changes(experiment, table)


def _usable(flags: pd.Series) -> pd.Series:
    return ~flags.map(lambda f: has_flag(f, EXCLUDING_FLAGS + EXCLUDING_TOTAL_FLAGS))


def _fold_changes(experiment: Experiment, table: pd.DataFrame) -> pd.DataFrame:
    """Divide each ratio by the mean control ratio of its membrane and group."""
    if table.empty:
        return table
    table = table.copy()
    group_keys = ["membrane", "pair", *experiment.normalize_within]
    is_control = pd.Series(True, index=table.index)
    for key, value in experiment.control.items():
        if key not in table.columns:
            is_control &= False
            continue
        is_control &= table[key].map(lambda v, value=value: same_value(v, value))
    usable = _usable(table["flags"]) & table["ratio"].notna()
    keys = [table[k].astype(str) for k in group_keys]
    for _, idx in table.groupby(keys, sort=False).groups.items():
        group = table.loc[idx]
        controls = group[is_control.loc[idx]]
        if controls.empty:
            table.loc[idx, "flags"] = group["flags"].map(lambda f: merge_flags(f, "no-control"))
            continue
        clean = controls[usable.loc[controls.index]]
        reference = clean if not clean.empty else controls
        mean_ratio = float(reference["ratio"].mean())
        if len(clean) < len(controls):
            # a flagged control makes every fold change of this group suspect
            table.loc[idx, "flags"] = group["flags"].map(
                lambda f: merge_flags(f, "control-flagged")
            )
        if mean_ratio > 0 and np.isfinite(mean_ratio):
            table.loc[idx, "fold_change"] = group["ratio"] / mean_ratio
    return table


def summary_table(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD and SEM of ratio and fold change per ``summary_by`` group and pair.

    Lanes whose bands are saturated, or whose total band is missing, are
    left out of the statistics (counted in ``n_excluded``), never averaged in.
    """
    keys = list(experiment.summary_by)
    columns = [*keys, *SUMMARY_MEASURED]
    if ratios.empty:
        return pd.DataFrame(columns=columns)
    usable = _usable(ratios["flags"]) & ratios["ratio"].notna()
    rows = []
    group_cols = [k for k in keys if k in ratios.columns]
    grouping = [*group_cols, "pair"]
    pair_order = {p.name: i for i, p in enumerate(experiment.pairs)}
    frame = ratios.assign(_usable=usable, _pair_order=ratios["pair"].map(pair_order))
    # group on text so that missing values and mixed types group predictably
    text_keys = [frame[k].map(lambda v: "" if v is None else str(v)) for k in grouping]
    for _, group in frame.groupby(text_keys, sort=False):
        first = group.iloc[0]
        used = group[group["_usable"]]
        n = len(used)
        fc = used["fold_change"].dropna()
        row = {k: first[k] for k in group_cols}
        for k in keys:
            row.setdefault(k, None)
        row.update(
            pair=first["pair"],
            n=n,
            ratio_mean=used["ratio"].mean() if n else np.nan,
            ratio_sd=used["ratio"].std(ddof=1) if n > 1 else np.nan,
            fold_change_mean=fc.mean() if len(fc) else np.nan,
            fold_change_sd=fc.std(ddof=1) if len(fc) > 1 else np.nan,
            fold_change_sem=fc.std(ddof=1) / np.sqrt(len(fc)) if len(fc) > 1 else np.nan,
            n_excluded=len(group) - n,
            flags=merge_flags(*group["flags"]),
            _order=(first["_pair_order"], group.index.min()),
        )
        rows.append(row)
    rows = [r for r in rows if r["n"] > 0 or r["n_excluded"] > 0]
    rows.sort(key=lambda r: r.pop("_order"))
    table = pd.DataFrame(rows, columns=columns)
    return table[table["n"] >= 1].reset_index(drop=True) if len(table) else table


def summary_wide_table(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """Fold changes laid out for a Prism grouped table (``summary_wide.csv``).

    One column per ``summary_by`` group (its values joined by `` | ``, e.g.
    ``parental | linsitinib | 100``), one block of rows per pair, and in each
    block one row per replicate lane (row 1 = the first lane of that group in
    the config, ...). Columns ``pair`` and ``replicate`` come first. Lanes left
    out of summary.csv (saturated, no total band) are left out here too, so
    the means Prism computes match summary.csv. Copy the group columns of one
    pair's rows into a Prism "Grouped" or "Column" table.
    """
    keys = [k for k in experiment.summary_by if k in ratios.columns]
    if ratios.empty:
        return pd.DataFrame(columns=["pair", "replicate"])
    usable = ratios[_usable(ratios["flags"]) & ratios["fold_change"].notna()]

    def label(row: pd.Series) -> str:
        return " | ".join("" if row[k] is None else str(row[k]) for k in keys) or "all"

    groups = list(dict.fromkeys(label(r) for _, r in ratios.iterrows()))
    blocks = []
    for pair in [p.name for p in experiment.pairs]:
        part = usable[usable["pair"] == pair]
        columns = {g: [] for g in groups}
        for _, row in part.iterrows():
            columns[label(row)].append(float(row["fold_change"]))
        depth = max((len(v) for v in columns.values()), default=0)
        for i in range(depth):
            entry: dict[str, object] = {"pair": pair, "replicate": i + 1}
            for g, values in columns.items():
                entry[g] = values[i] if i < len(values) else np.nan
            blocks.append(entry)
    return pd.DataFrame(blocks, columns=["pair", "replicate", *groups])
