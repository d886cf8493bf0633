"""stats.csv: membranes as replicates, on simulated experiments with a known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blotquant.models import AnalysisSettings, Experiment, Pair
from blotquant.stats import PAIRED, WELCH, compare_membranes, stats_table

EXPERIMENTS = 1000


def _experiment(compare: tuple[str, ...] = ()) -> Experiment:
    return Experiment(
        config_path=Path("sim.yaml"),
        experiment="simulated",
        output=Path("out"),
        analysis=AnalysisSettings(),
        pairs=(Pair("p-AKT", "AKT"),),
        control={"treatment": "DMSO"},
        normalize_within=("cell_line",),
        summary_by=("cell_line", "treatment"),
        membranes=(),
        measurements=(),
        compare=compare,
    )


def simulate(
    rng: np.random.Generator,
    *,
    membranes: int,
    effect: dict[str, float],
    membrane_sd: float = 0.25,
    lane_sd: float = 0.1,
    lanes: int = 2,
) -> pd.DataFrame:
    """ratios.csv of one experiment: each membrane holds every (cell line, treatment) group.

    ``effect``: the true fold change of drug against DMSO per cell line. Each
    membrane is an experiment of its own: its drug response differs from the
    truth by a log-normal factor (``membrane_sd``), each lane by ``lane_sd``;
    fold changes are made as blotquant makes them (over the mean ratio of the
    membrane's own DMSO lanes of that cell line).
    """
    rows = []
    for m in range(membranes):
        level = rng.normal(0, 1.0)  # the membrane's exposure: cancels in fold changes
        for line, true in effect.items():
            shift = rng.normal(0, membrane_sd)
            ratios = {
                "DMSO": np.exp(level + rng.normal(0, lane_sd, lanes)),
                "drug": np.exp(level + np.log(true) + shift + rng.normal(0, lane_sd, lanes)),
            }
            control = ratios["DMSO"].mean()
            for treatment, values in ratios.items():
                for value in values:
                    rows.append(
                        {
                            "membrane": f"m{m}",
                            "cell_line": line,
                            "treatment": treatment,
                            "pair": "p-AKT/AKT",
                            "ratio": value,
                            "fold_change": value / control,
                            "flags": "",
                            "role": "sample",
                        }
                    )
    return pd.DataFrame(rows)


def _row(table: pd.DataFrame, comparison: str, a: str) -> pd.Series:
    return table[(table["comparison"] == comparison) & (table["a"] == a)].iloc[0]


@pytest.fixture(scope="module")
def null_and_effect():
    """1000 experiments, each analysed like a run's: three cell lines on every membrane.

    Parental and resistant cells respond alike (fold change 0.4: no difference
    between them), "other" cells not at all (fold change 1: no effect).
    """
    rng = np.random.default_rng(2026)
    truth = {"parental": 0.4, "resistant": 0.4, "other": 1.0}
    null, effect = [], []
    for k in range(EXPERIMENTS):
        ratios = simulate(rng, membranes=3 + k % 4, effect=truth)  # 3 to 6 membranes
        table = stats_table(_experiment(("cell_line",)), ratios)
        null.append(_row(table, "vs control", "other | drug"))
        null.append(_row(table, "between cell_line", "resistant | drug"))
        effect.append(_row(table, "vs control", "parental | drug"))
    return pd.DataFrame(null), pd.DataFrame(effect), truth


def test_false_positives_at_alpha_five_percent(null_and_effect):
    null, _, _ = null_and_effect
    assert len(null) == 2 * EXPERIMENTS and (null["test"] == PAIRED).all()
    rate = float((null["p"] < 0.05).mean())
    assert 0.03 <= rate <= 0.07, rate


def test_confidence_intervals_cover_the_true_effect(null_and_effect):
    null, effect, truth = null_and_effect
    covered = (effect["ci_low"] <= truth["parental"]) & (truth["parental"] <= effect["ci_high"])
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
    # between cell lines the truth is 1
    between = null[null["comparison"] == "between cell_line"]
    covered = (between["ci_low"] <= 1.0) & (1.0 <= between["ci_high"])
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
    # a real effect is found (3 to 6 membranes, 25 % membrane-to-membrane spread)
    assert (effect["p"] < 0.05).mean() > 0.8


def test_a_comparison_names_its_test_correction_and_groups():
    rng = np.random.default_rng(1)
    ratios = simulate(rng, membranes=4, effect={"parental": 0.3, "resistant": 1.0})
    table = stats_table(_experiment(("cell_line",)), ratios)
    row = _row(table, "vs control", "parental | drug")
    assert row["b"] == "parental | DMSO" and row["within"] == "parental" and row["n"] == 4
    assert row["correction"].startswith("Holm") and row["p_adjusted"] >= row["p"]
    between = _row(table, "between cell_line", "resistant | drug")
    assert between["b"] == "parental | drug" and between["effect"] > 2
    # DMSO against DMSO: both are fold change 1 by definition, never a test
    dmso = _row(table, "between cell_line", "resistant | DMSO")
    assert np.isnan(dmso["p"]) and "by definition" in dmso["note"]


def test_two_membranes_give_the_effect_and_no_p_value():
    rng = np.random.default_rng(2)
    table = stats_table(_experiment(), simulate(rng, membranes=2, effect={"parental": 0.5}))
    row = _row(table, "vs control", "parental | drug")
    assert row["n"] == 2 and 0.2 < row["effect"] < 1.0
    assert np.isnan(row["p"]) and np.isnan(row["ci_low"]) and "too few for a test" in row["note"]


def test_groups_on_different_membranes_are_compared_unpaired():
    a = pd.Series([0.1, 0.2, 0.15], index=["m1", "m2", "m3"])
    b = pd.Series([-0.5, -0.4, -0.6], index=["m4", "m5", "m6"])
    result = compare_membranes(a, b)
    assert result["test"] == WELCH and result["n"] == 6 and result["p"] < 0.01
    assert result["effect"] == pytest.approx(np.exp(0.15 + 0.5))
    paired = compare_membranes(a, a - 0.3 + np.array([0.01, -0.02, 0.0]))
    assert paired["test"] == PAIRED and paired["n"] == 3


def test_flagged_and_calibrator_lanes_do_not_count():
    rng = np.random.default_rng(3)
    ratios = simulate(rng, membranes=3, effect={"parental": 0.5}, lanes=1)
    ratios.loc[(ratios["membrane"] == "m0") & (ratios["treatment"] == "drug"), "flags"] = (
        "saturated"
    )
    extra = ratios.iloc[[0]].assign(role="calibrator", fold_change=50.0)
    table = stats_table(_experiment(), pd.concat([ratios, extra], ignore_index=True))
    row = _row(table, "vs control", "parental | drug")
    assert row["n"] == 2 and row["n_a"] == 2 and "too few" in row["note"]


def test_holm_matches_a_worked_example():
    # Holm (1979) by hand: sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 -> 0.04, 0.06, 0.06, 0.06
    from blotquant.stats import holm

    adjusted = holm([0.03, 0.01, 0.04, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0] and holm([]).size == 0


def test_membranes_that_agree_exactly_give_no_test_and_no_warning():
    a = pd.Series([0.2, 0.4, 0.3], index=["m1", "m2", "m3"])
    result = compare_membranes(a, a - 0.1)  # the same difference on every membrane
    assert np.isnan(result["p"]) and "no spread" in result["note"]
    assert result["effect"] == pytest.approx(np.exp(0.1))
