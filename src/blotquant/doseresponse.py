"""Dose-response: a four-parameter logistic per treatment, pair and group.

For every treatment given at several doses, fold change against dose is fit
with ``y = bottom + (top - bottom) / (1 + (dose / ic50) ** hill)`` (in log
dose), using every lane as a point (replicates are not averaged first). The
control lanes of the same group (dose 0) anchor the top of the curve: they
are placed three decades below the lowest dose, where the curve is flat.

No wild numbers: with fewer than three doses, no inhibition (the response
stays within 20 % of control), an IC50 outside the tested doses, or a fit
that fails, the row has no IC50 and says why in ``note``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import stdtrit

from blotquant.tables import (
    DOSE_RESPONSE_MEASURED,
    EXCLUDING_FLAGS,
    EXCLUDING_TOTAL_FLAGS,
    has_flag,
    same_value,
)

COLUMNS = list(DOSE_RESPONSE_MEASURED)


def _logistic(
    log_dose: np.ndarray, bottom: float, top: float, log_ic50: float, hill: float
) -> np.ndarray:
    return bottom + (top - bottom) / (1.0 + 10.0 ** ((log_dose - log_ic50) * hill))


def fit_dose_response(
    ratios: pd.DataFrame,
    *,
    dose_key: str = "dose_nM",
    group_keys: Sequence[str] = (),
    control: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """IC50 and curve per (pair, treatment, groups) from ratios.csv's rows.

    Parameters
    ----------
    ratios : DataFrame
        ratios.csv (pair, treatment, fold_change, flags, the dose and group keys).
    dose_key : str
        Lane key holding the dose.
    group_keys : sequence of str
        Lane keys fitted separately (e.g. cell_line).
    control : mapping, optional
        Which lanes are the control (e.g. {treatment: DMSO}).
    """
    group_keys = [k for k in group_keys if k in ratios.columns]
    out_columns = ["pair", "treatment", *group_keys, *COLUMNS]
    if ratios.empty or dose_key not in ratios.columns or "treatment" not in ratios.columns:
        return pd.DataFrame(columns=out_columns)
    usable = ratios[
        ~ratios["flags"].map(lambda f: has_flag(f, EXCLUDING_FLAGS + EXCLUDING_TOTAL_FLAGS))
        & pd.to_numeric(ratios["fold_change"], errors="coerce").notna()
    ].copy()
    usable["_dose"] = pd.to_numeric(usable[dose_key], errors="coerce")
    control = dict(control or {})
    is_control = pd.Series(True, index=usable.index)
    for key, value in control.items():
        is_control &= (
            usable[key].map(lambda v, value=value: same_value(v, value)) if key in usable else False
        )
    rows = []
    keys = ["pair", *group_keys]
    for group_values, group in usable.groupby(keys, sort=False, dropna=False):
        group_values = group_values if isinstance(group_values, tuple) else (group_values,)
        controls = group[is_control.loc[group.index]]
        for treatment, lanes in group[~is_control.loc[group.index]].groupby(
            "treatment", sort=False
        ):
            entry = dict(zip(keys, group_values, strict=True))
            entry["treatment"] = treatment
            entry.update(_fit(lanes, controls))
            rows.append(entry)
    return pd.DataFrame(rows, columns=out_columns)


def _fit(lanes: pd.DataFrame, controls: pd.DataFrame) -> dict[str, Any]:
    doses = lanes["_dose"].to_numpy(float)
    y = pd.to_numeric(lanes["fold_change"]).to_numpy(float)
    ok = np.isfinite(doses) & (doses > 0)
    doses, y = doses[ok], y[ok]
    distinct = np.unique(doses)
    result: dict[str, Any] = {c: np.nan for c in COLUMNS}
    result.update(n_points=int(len(y) + len(controls)), n_doses=int(len(distinct)), note="")
    name = str(lanes["treatment"].iloc[0])
    if len(distinct) < 3:
        result["note"] = (
            f"only {len(distinct)} dose(s) of {name}; an IC50 needs at least 3 different doses"
        )
        return result
    means = [y[doses == d].mean() for d in distinct]
    top_guess = float(pd.to_numeric(controls["fold_change"]).mean()) if len(controls) else 1.0
    if min(means) > 0.8 * top_guess:
        result["note"] = (
            f"no inhibition: {name} keeps the response within 20 % of control at "
            f"every dose (lowest mean {min(means):.2f})"
        )
        return result
    log_dose = np.log10(doses)
    lo, hi = log_dose.min(), log_dose.max()
    if len(controls):
        log_dose = np.concatenate([log_dose, np.full(len(controls), lo - 3.0)])
        y = np.concatenate([y, pd.to_numeric(controls["fold_change"]).to_numpy(float)])
    start = [max(min(means), 0.0), top_guess, (lo + hi) / 2, 1.0]
    bounds = ([-0.1, 0.5, lo - 1, 0.2], [1.5, 2.0, hi + 1, 5.0])
    try:
        with warnings.catch_warnings():
            # too few points for a covariance: the IC50 stands, its interval is
            # left empty (below), and the user is not shown SciPy's warning
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, cov = optimize.curve_fit(
                _logistic, log_dose, y, p0=start, bounds=bounds, maxfev=10000
            )
    except (RuntimeError, ValueError) as exc:
        result["note"] = f"the fit did not converge ({exc})"
        return result
    bottom, top, log_ic50, hill = params
    fitted = _logistic(log_dose, *params)
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    result.update(
        hill=float(hill),
        top=float(top),
        bottom=float(bottom),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else np.nan,
    )
    if not lo <= log_ic50 <= hi:
        result["note"] = (
            f"the IC50 of {name} lies outside the tested doses "
            f"({10**lo:g}-{10**hi:g}); test a wider range"
        )
        return result
    dof = max(len(y) - 4, 1)
    se = float(np.sqrt(cov[2, 2])) if np.all(np.isfinite(cov)) else np.nan
    half = stdtrit(dof, 0.975) * se
    result.update(
        ic50=float(10**log_ic50),
        ic50_ci_low=float(10 ** (log_ic50 - half)),
        ic50_ci_high=float(10 ** (log_ic50 + half)),
    )
    return result
