"""The linear range: a dilution series of one lysate shows where volumes follow protein.

Lanes marked ``{role: standard, amount: ...}`` hold known amounts of one
lysate. Within the linear range a band's volume is proportional to its
protein, so its volume over its amount (the gain) is the same for every
standard; below it the band sinks into the membrane's noise (or a film's toe),
above it the detector or the substrate saturates and the gain falls. A ratio
of two bands is only the ratio of their proteins when both lie in the range.

:func:`fit_standards` finds the range from the series of one image (the
longest run of standards whose gains agree within a tolerance) and fits two
curves for the record: a line through the origin over that run, and a
saturating curve ``vmax * a / (k_half + a)`` over every usable standard.
:func:`standards_table` and :func:`flag_outside_linear_range` apply it to a
whole experiment's bands.csv.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit

from blotquant.models import Experiment
from blotquant.tables import (
    EXCLUDING_FLAGS,
    OUTSIDE_LINEAR_RANGE,
    STANDARDS_COLUMNS,
    has_flag,
    merge_flags,
)

#: Standards are in the linear part when their gains (volume / amount) are
#: within this share of the run's highest gain.
LINEAR_TOLERANCE = 0.1
#: Standards that make a linear part: fewer cannot show a line.
MIN_LINEAR_STANDARDS = 3
#: Flags of a standard that keep it out of the fit: its volume is not its protein's.
UNFIT_FLAGS = (*EXCLUDING_FLAGS, "no-band", "low-snr")


@dataclass(frozen=True)
class StandardsFit:
    """What one image's dilution series shows.

    Attributes
    ----------
    amounts, volumes : ndarray, shape (n_standards,)
        The standards, by increasing amount.
    usable : ndarray of bool, shape (n_standards,)
        Measured well enough to fit (not saturated, no-band or low-snr).
    linear : ndarray of bool, shape (n_standards,)
        In the linear part.
    slope, r2_linear : float
        Volume per amount of a line through the origin over the linear part,
        and its R² (NaN without a linear part).
    vmax, k_half, r2_saturating : float
        ``volume = vmax * amount / (k_half + amount)`` fitted to every usable
        standard, and its R² (NaN when it cannot be fitted).
    volume_low, volume_high : float
        The linear range in volume: sample bands outside it are flagged. Each
        limit lies halfway (geometrically) between the last standard inside
        the linear part and the first usable or saturated one outside it, or
        at the last one inside when the series goes no further (NaN without a
        linear part).
    note : str
        Why there is no linear range, or what limits it, in words.
    """

    amounts: np.ndarray
    volumes: np.ndarray
    usable: np.ndarray
    linear: np.ndarray
    slope: float
    r2_linear: float
    vmax: float
    k_half: float
    r2_saturating: float
    volume_low: float
    volume_high: float
    note: str = ""

    @property
    def has_range(self) -> bool:
        """Whether the series shows a linear part to judge sample bands by."""
        return bool(np.isfinite(self.volume_low) and np.isfinite(self.volume_high))

    def outside(self, volume: float) -> bool:
        """Tell whether a band's net volume lies outside the linear range."""
        return self.has_range and not (self.volume_low <= volume <= self.volume_high)


def fit_standards(
    amounts: np.ndarray,
    volumes: np.ndarray,
    *,
    usable: np.ndarray | None = None,
    saturated: np.ndarray | None = None,
    tolerance: float = LINEAR_TOLERANCE,
) -> StandardsFit:
    """Find the linear range of one dilution series.

    Parameters
    ----------
    amounts : ndarray, shape (n_standards,)
        Amount loaded in each standard lane (any unit, above 0).
    volumes : ndarray, shape (n_standards,)
        Their bands' net volumes.
    usable : ndarray of bool, shape (n_standards,), optional
        Standards measured well enough to fit; by default every one with a
        positive volume.
    saturated : ndarray of bool, shape (n_standards,), optional
        Standards whose bands are saturated (beyond the range, never in it).
    tolerance : float
        Largest shortfall of a standard's gain from the run's highest gain.

    Returns
    -------
    StandardsFit
    """
    order = np.argsort(np.asarray(amounts, dtype=float), kind="stable")
    a = np.asarray(amounts, dtype=float)[order]
    v = np.asarray(volumes, dtype=float)[order]
    ok = np.isfinite(v) & (v > 0) & (a > 0)
    if usable is not None:
        ok &= np.asarray(usable, dtype=bool)[order]
    sat = np.zeros(len(a), bool) if saturated is None else np.asarray(saturated, bool)[order]
    ok &= ~sat
    run = _longest_linear_run(a, v, ok, tolerance)
    linear = np.zeros(len(a), bool)
    nan = float("nan")
    slope = r2_linear = volume_low = volume_high = nan
    note = ""
    if run is None:
        note = (
            f"no {MIN_LINEAR_STANDARDS} usable standards whose volumes follow their amounts "
            f"within {100 * tolerance:.0f} %: no linear range, no band is judged by it"
        )
    else:
        first, last = run
        linear[first : last + 1] = True
        x, y = a[linear], v[linear]
        slope = float(np.sum(x * y) / np.sum(x * x))
        r2_linear = _r2(y, slope * x)
        below = [i for i in range(first) if ok[i]]
        above = [i for i in range(last + 1, len(a)) if ok[i] or sat[i]]
        # the true limit lies between the last standard in the run and the next one out
        volume_low = float(np.sqrt(v[first] * v[below[-1]])) if below else float(v[first])
        if above and not sat[above[0]]:
            volume_high = float(np.sqrt(v[last] * v[above[0]]))
        elif above:
            # a saturated standard's volume is no measure: halfway in amount on the line
            volume_high = float(slope * np.sqrt(a[last] * a[above[0]]))
        else:
            volume_high = float(v[last])
        limits = []
        if not below:
            limits.append("the lowest usable standard is the range's low end")
        if not above:
            limits.append("the series never leaves the range at the top: its top is untested")
        note = "; ".join(limits)
    vmax, k_half, r2_saturating = _saturating_fit(a[ok], v[ok])
    return StandardsFit(
        amounts=a,
        volumes=v,
        usable=ok,
        linear=linear,
        slope=slope,
        r2_linear=r2_linear,
        vmax=vmax,
        k_half=k_half,
        r2_saturating=r2_saturating,
        volume_low=volume_low,
        volume_high=volume_high,
        note=note,
    )


def _longest_linear_run(
    amounts: np.ndarray, volumes: np.ndarray, usable: np.ndarray, tolerance: float
) -> tuple[int, int] | None:
    """Return (first, last) index of the longest run of usable standards with agreeing gains.

    Ties go to the run spanning more amount, then to the one whose gains agree best.
    """
    best: tuple[int, float, float] | None = None
    found: tuple[int, int] | None = None
    n = len(amounts)
    for first in range(n):
        if not usable[first]:
            continue
        for last in range(first + MIN_LINEAR_STANDARDS - 1, n):
            if not usable[first : last + 1].all():
                break
            gains = volumes[first : last + 1] / amounts[first : last + 1]
            spread = 1.0 - gains.min() / gains.max()
            if spread > tolerance:
                continue
            score = (last - first + 1, float(amounts[last] / amounts[first]), -spread)
            if best is None or score > best:
                best, found = score, (first, last)
    return found


def _r2(observed: np.ndarray, fitted: np.ndarray) -> float:
    total = float(np.sum((observed - observed.mean()) ** 2))
    if total <= 0:
        return float("nan")
    return 1.0 - float(np.sum((observed - fitted) ** 2)) / total


def _saturating_fit(amounts: np.ndarray, volumes: np.ndarray) -> tuple[float, float, float]:
    """Fit ``vmax * a / (k_half + a)``; (vmax, k_half, R²), NaN when it cannot be fitted."""
    nan = float("nan")
    if len(amounts) < 3:
        return nan, nan, nan

    def curve(a: np.ndarray, vmax: float, k_half: float) -> np.ndarray:
        return vmax * a / (k_half + a)

    guess = (2.0 * float(volumes.max()), float(amounts.max()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (vmax, k_half), _ = curve_fit(
                curve, amounts, volumes, p0=guess, bounds=(0, np.inf), maxfev=5000
            )
    except (RuntimeError, ValueError):
        return nan, nan, nan
    return float(vmax), float(k_half), _r2(volumes, curve(amounts, vmax, k_half))


def standards_fits(
    experiment: Experiment, bands: pd.DataFrame
) -> dict[tuple[str, str, str], StandardsFit]:
    """Fit the dilution series of every image (and region) that has standard lanes.

    Parameters
    ----------
    experiment : Experiment
        Says which lanes are standards, and their amounts.
    bands : DataFrame
        bands.csv.

    Returns
    -------
    dict
        (membrane, antibody, image) -> its fit.
    """
    fits: dict[tuple[str, str, str], StandardsFit] = {}
    if bands.empty:
        return fits
    for membrane in experiment.membranes:
        amount = {
            lane.number: float(lane.metadata["amount"])
            for lane in membrane.lanes
            if lane.role == "standard"
        }
        if not amount:
            continue
        on = bands[(bands["membrane"] == membrane.name) & bands["lane"].isin(list(amount))]
        for (antibody, image), group in on.groupby(["antibody", "image"], sort=False):
            flags = group["flags"].fillna("")
            fits[str(membrane.name), str(antibody), str(image)] = fit_standards(
                group["lane"].map(amount).to_numpy(),
                pd.to_numeric(group["net_volume"]).to_numpy(),
                usable=~flags.map(lambda f: has_flag(f, UNFIT_FLAGS)).to_numpy(),
                saturated=flags.map(lambda f: has_flag(f, EXCLUDING_FLAGS)).to_numpy(),
            )
    return fits


def flag_outside_linear_range(
    experiment: Experiment, bands: pd.DataFrame, fits: dict[tuple[str, str, str], StandardsFit]
) -> pd.DataFrame:
    """Flag the sample (and calibrator) bands whose volume lies outside their image's range."""
    if not fits or bands.empty:
        return bands
    roles = {(m.name, lane.number): lane.role for m in experiment.membranes for lane in m.lanes}
    bands = bands.copy()
    for index, row in bands.iterrows():
        fit = fits.get((str(row["membrane"]), str(row["antibody"]), str(row["image"])))
        if fit is None or roles.get((row["membrane"], int(row["lane"]))) == "standard":
            continue
        if fit.outside(float(row["net_volume"])):
            bands.at[index, "flags"] = merge_flags(row["flags"], OUTSIDE_LINEAR_RANGE)
    return bands


def standards_table(
    fits: dict[tuple[str, str, str], StandardsFit], bands: pd.DataFrame
) -> pd.DataFrame:
    """Tabulate each image's series: the fits, the range, the bands outside it (standards.csv)."""
    rows = []
    for (membrane, antibody, image), fit in fits.items():
        mine = bands[
            (bands["membrane"] == membrane)
            & (bands["antibody"] == antibody)
            & (bands["image"] == image)
        ]
        outside = mine["flags"].map(lambda f: has_flag(f, (OUTSIDE_LINEAR_RANGE,)))
        in_run = fit.amounts[fit.linear]
        rows.append(
            {
                "membrane": membrane,
                "image": image,
                "antibody": antibody,
                "n_standards": len(fit.amounts),
                "n_linear": int(fit.linear.sum()),
                "amount_low": float(in_run.min()) if len(in_run) else np.nan,
                "amount_high": float(in_run.max()) if len(in_run) else np.nan,
                "volume_low": fit.volume_low,
                "volume_high": fit.volume_high,
                "slope": fit.slope,
                "r2_linear": fit.r2_linear,
                "vmax": fit.vmax,
                "k_half": fit.k_half,
                "r2_saturating": fit.r2_saturating,
                "n_outside": int(outside.sum()),
                "note": fit.note,
            }
        )
    return pd.DataFrame(rows, columns=list(STANDARDS_COLUMNS))


def linear_range_warnings(standards: pd.DataFrame | None) -> list[str]:
    """Say which images' series show no linear range, and which have bands outside it."""
    if standards is None:
        return []
    out = []
    for row in standards.itertuples():
        where = f"{row.antibody} on {row.membrane} ({row.image})"
        if not row.n_linear:
            out.append(
                f"{where}: the dilution series shows no linear range ({row.note}); no band of "
                "this image is judged by it. Check the standards' amounts and their bands in "
                "the QC picture."
            )
        elif row.n_outside:
            out.append(
                f"{where}: {row.n_outside} sample band(s) lie outside the linear range the "
                f"dilution series shows (net volume {row.volume_low:.4g} to "
                f"{row.volume_high:.4g}), flagged {OUTSIDE_LINEAR_RANGE}: their ratios are not "
                "proportional to protein. Load less (above it) or more (below it), or image "
                "with a different exposure."
            )
    return out
