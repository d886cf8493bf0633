"""Statistics with the membrane as the replicate (stats.csv).

Lanes of one membrane share its transfer, its antibody incubation and its
exposure: they are not independent replicates, membranes are. So every test
here first averages a group's lanes on each membrane (the mean of their log
fold changes: a geometric mean), and then compares membranes:

* **against the control**: each group with the control of its
  ``normalize_within`` group (each cell line with its own DMSO), paired by
  membrane where both are on the same membranes (a paired t-test on log fold
  change), else Welch's t-test; Holm's correction over the comparisons of one
  pair and one ``normalize_within`` group;
* **between groups** the config names in ``compare`` (e.g. ``[cell_line]``:
  resistant against parental at each treatment), paired by membrane where
  both groups share membranes, else Welch; Holm's correction over the
  comparisons of one pair and one ``compare`` key.

The effect is the ratio of geometric means (``exp`` of the mean log
difference) with its 95 % confidence interval. With fewer than
:data:`MIN_MEMBRANES` membranes the effect is given and ``note`` says the
test needs more, instead of a p-value.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from blotquant.models import Experiment
from blotquant.ratios import counted_in_summary, sample_rows
from blotquant.tables import STATS_COLUMNS, same_value

#: Membranes (replicates) a test needs: fewer give the effect without a p-value.
MIN_MEMBRANES = 3
PAIRED = "paired t-test on log fold change (membranes as pairs)"
WELCH = "Welch t-test on log fold change (membranes as replicates)"
HOLM = "Holm"


def membrane_means(ratios: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Average each group's lanes on each membrane: one value per pair, membrane and group.

    Parameters
    ----------
    ratios : DataFrame
        ratios.csv; only the lanes counted in summary.csv are used
        (:func:`blotquant.ratios.counted_in_summary`), with a positive fold change.
    keys : sequence of str
        Lane keys that make a group.

    Returns
    -------
    DataFrame
        Columns pair, membrane, the keys, ``log_fc`` (mean log fold change of
        the group's lanes on that membrane) and ``lanes``.
    """
    columns = ["pair", "membrane", *keys, "log_fc", "lanes"]
    ratios = sample_rows(ratios)
    if ratios.empty:
        return pd.DataFrame(columns=columns)
    fc = pd.to_numeric(ratios["fold_change"], errors="coerce")
    use = ratios[counted_in_summary(ratios) & (fc > 0)]
    if use.empty:
        return pd.DataFrame(columns=columns)
    use = use.assign(log_fc=np.log(fc[use.index].astype(float)))
    for key in keys:
        if key not in use.columns:
            use = use.assign(**{key: None})
    # group on text so that missing values and mixed types group predictably
    text = [use[k].map(_text).rename(f"_{k}") for k in keys]
    grouped = use.groupby([use["pair"], use["membrane"], *text], sort=False)
    first = grouped[["pair", "membrane", *keys]].first()
    out = first.assign(log_fc=grouped["log_fc"].mean(), lanes=grouped.size())
    return out.reset_index(drop=True)[columns]


def compare_membranes(a: pd.Series, b: pd.Series) -> dict[str, Any]:
    """Compare two groups' membrane values (log fold changes, indexed by membrane).

    Paired by membrane when at least :data:`MIN_MEMBRANES` membranes hold
    both, or every membrane of the smaller group holds the other too;
    otherwise Welch's t-test when each group has that many membranes;
    otherwise the effect alone.

    Returns
    -------
    dict
        n, n_a, n_b, effect (ratio of geometric means, a over b), ci_low,
        ci_high, test, p and note.
    """
    # (plain dicts: this runs for every comparison of every pair)
    va = {m: float(v) for m, v in a.items() if v == v}
    vb = {m: float(v) for m, v in b.items() if v == v}
    shared = [m for m in va if m in vb]
    out: dict[str, Any] = {
        "n_a": len(va),
        "n_b": len(vb),
        "ci_low": np.nan,
        "ci_high": np.nan,
        "test": "",
        "p": np.nan,
        "note": "",
    }
    if shared and (len(shared) >= MIN_MEMBRANES or len(shared) == min(len(va), len(vb))):
        # paired: the membrane's own level cancels
        xa = np.array([va[m] for m in shared])
        xb = np.array([vb[m] for m in shared])
        diff = xa - xb
        out.update(n=len(shared), effect=float(np.exp(diff.mean())))
        dropped = len(va) + len(vb) - 2 * len(shared)
        if len(shared) < MIN_MEMBRANES:
            out["note"] = _too_few(len(shared))
            return out
        if float(diff.std(ddof=1)) <= 1e-9 * max(1.0, float(np.abs(diff).max())):
            out["note"] = "every membrane gives the same value: no spread to test against"
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result, test = scipy_stats.ttest_rel(xa, xb), PAIRED
        if dropped:
            out["note"] = f"{dropped} membrane value(s) without the other group left out"
    else:
        xa, xb = np.array(list(va.values())), np.array(list(vb.values()))
        out.update(
            n=len(set(va) | set(vb)),
            effect=float(np.exp(xa.mean() - xb.mean())) if len(xa) and len(xb) else np.nan,
        )
        if min(len(xa), len(xb)) < MIN_MEMBRANES:
            out["note"] = _too_few(min(len(xa), len(xb)), unpaired=True)
            return out
        if max(float(xa.std(ddof=1)), float(xb.std(ddof=1))) <= 1e-9:
            out["note"] = "every membrane gives the same value: no spread to test against"
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result, test = scipy_stats.ttest_ind(xa, xb, equal_var=False), WELCH
    with warnings.catch_warnings():
        # (nearly equal values: scipy warns of lost precision; the interval says it)
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = result.confidence_interval(0.95)
    out.update(
        test=test,
        p=float(result.pvalue),
        ci_low=float(np.exp(interval.low)),
        ci_high=float(np.exp(interval.high)),
    )
    return out


def _too_few(n: int, *, unpaired: bool = False) -> str:
    where = "in a group" if unpaired else "with both groups"
    return (
        f"n = {n} membrane(s) {where}: too few for a test (needs {MIN_MEMBRANES}); the effect "
        "is the ratio of geometric means, without a p-value"
    )


def stats_table(experiment: Experiment, ratios: pd.DataFrame) -> pd.DataFrame:
    """Test each group against its control, and the groups ``compare`` names (stats.csv).

    Parameters
    ----------
    experiment : Experiment
        Pairs (with their control and grouping), ``summary_by`` and ``compare``.
    ratios : DataFrame
        ratios.csv.

    Returns
    -------
    DataFrame
        Columns :data:`blotquant.tables.STATS_COLUMNS`, one row per comparison.
    """
    rows: list[dict[str, Any]] = []
    for pair in experiment.pairs:
        control, within, _ = experiment.reference(pair)
        keys = list(dict.fromkeys([*within, *experiment.summary_by, *control]))
        values = membrane_means(ratios[ratios["pair"] == pair.name], keys)
        if values.empty:
            continue
        groups = _groups(values, keys, control)
        labels = _Labels(keys, within, experiment.summary_by)
        rows += _against_control(pair.name, groups, labels)
        for key in experiment.compare:
            if key in keys:
                rows += _between_groups(pair.name, groups, labels, key)
    return pd.DataFrame(rows, columns=list(STATS_COLUMNS))


class _Group(NamedTuple):
    """One group of lanes: its keys' values, whether it is the control, its membrane values."""

    values: dict[str, Any]
    control: bool
    by_membrane: pd.Series


class _Labels(NamedTuple):
    keys: list[str]
    within: Sequence[str]
    summary_by: Sequence[str]

    def of(self, group: _Group, keys: Sequence[str]) -> str:
        return " | ".join(_text(group.values[k]) for k in keys) or "all lanes"


def _groups(values: pd.DataFrame, keys: list[str], control: dict[str, Any]) -> dict[tuple, _Group]:
    """Each group (by the text of its keys) with its log fold change per membrane."""
    text = [values[k].map(_text) for k in keys]
    groups = {}
    for name, part in values.groupby(text, sort=False) if keys else [((), values)]:
        first = part.iloc[0]
        found = {k: first[k] for k in keys}
        is_control = all(same_value(found.get(k), v) for k, v in control.items())
        name = name if isinstance(name, tuple) else (name,)
        by_membrane = pd.Series(part["log_fc"].to_numpy(float), index=part["membrane"].to_numpy())
        groups[name] = _Group(found, is_control, by_membrane)
    return groups


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)


def _against_control(
    pair: str, groups: dict[tuple, _Group], labels: _Labels
) -> list[dict[str, Any]]:
    """Each group against the control of its ``normalize_within`` group (Holm per family)."""
    where = [labels.keys.index(k) for k in labels.within]
    families: dict[tuple, list[tuple]] = {}
    for name in groups:
        families.setdefault(tuple(name[i] for i in where), []).append(name)
    rows = []
    for members in families.values():
        controls = [groups[n] for n in members if groups[n].control]
        if not controls:
            continue
        # (several control groups in one family: their mean per membrane)
        reference = pd.concat([c.by_membrane for c in controls]).groupby(level=0, sort=False).mean()
        found = []
        for name in members:
            group = groups[name]
            if group.control:
                continue
            found.append(
                {
                    "pair": pair,
                    "comparison": "vs control",
                    "within": labels.of(group, labels.within) if labels.within else "",
                    "a": labels.of(group, labels.summary_by),
                    "b": labels.of(controls[0], labels.summary_by),
                    **compare_membranes(group.by_membrane, reference),
                }
            )
        rows += _adjust(found)
    return rows


def _between_groups(
    pair: str, groups: dict[tuple, _Group], labels: _Labels, key: str
) -> list[dict[str, Any]]:
    """Each level of ``key`` against its first level, at every value of the other keys."""
    at = labels.keys.index(key)
    levels = list(dict.fromkeys(name[at] for name in groups))
    found = []
    for name, group in groups.items():
        if name[at] == levels[0]:
            continue
        base = groups.get((*name[:at], levels[0], *name[at + 1 :]))
        if base is None:
            continue
        entry: dict[str, Any] = {
            "pair": pair,
            "comparison": f"between {key}",
            "within": labels.of(group, [k for k in labels.summary_by if k != key]),
            "a": labels.of(group, labels.summary_by),
            "b": labels.of(base, labels.summary_by),
        }
        if group.control and base.control:
            entry.update(
                n=len(group.by_membrane.index.union(base.by_membrane.index)),
                n_a=len(group.by_membrane),
                n_b=len(base.by_membrane),
                effect=np.nan,
                note="both are their group's control: fold change 1 by definition",
            )
        else:
            entry.update(compare_membranes(group.by_membrane, base.by_membrane))
        found.append(entry)
    return _adjust(found)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Adjust p-values for several comparisons by Holm's step-down method.

    The smallest of ``m`` p-values is multiplied by ``m``, the next by
    ``m - 1``, and so on, each at least the one before it and at most 1
    (Holm 1979). It controls the chance of any false positive in the family,
    like Bonferroni's, and rejects at least as much. (statsmodels'
    ``multipletests`` gives the same numbers, but collects garbage on every
    call: 65 ms, which a run over many groups cannot afford.)

    Parameters
    ----------
    p_values : sequence of float, length m

    Returns
    -------
    ndarray, shape (m,)
        Adjusted p-values, in the order given.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def _adjust(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm's correction over one family of comparisons (rows without a p-value stay out)."""
    tested = [r for r in rows if r.get("p") == r.get("p") and r.get("p") is not None]
    if tested:
        adjusted = holm([r["p"] for r in tested])
        for row, value in zip(tested, adjusted, strict=True):
            row["p_adjusted"] = float(value)
            row["correction"] = f"{HOLM} over {len(tested)} comparison(s)"
    for row in rows:
        row.setdefault("p_adjusted", np.nan)
        row.setdefault("correction", "")
    return rows
