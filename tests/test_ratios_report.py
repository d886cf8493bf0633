"""Ratios, fold changes, summary statistics and atomic file writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blotquant.models import Experiment, Lane, Membrane, Pair
from blotquant.ratios import (
    calibrator_spread,
    prism_tables,
    ratios_table,
    summary_table,
    summary_wide_table,
)
from blotquant.report import write_atomic


def _experiment(normalize_within=("cell_line",), summary_by=("cell_line", "treatment")):
    lanes = (
        Lane(1, "sample", {"treatment": "DMSO", "cell_line": "P", "sample": "a"}),
        Lane(2, "sample", {"treatment": "DMSO", "cell_line": "P", "sample": "b"}),
        Lane(3, "sample", {"treatment": "lin", "cell_line": "P", "sample": "c"}),
        Lane(4, "empty", {}),
        Lane(5, "sample", {"treatment": "DMSO", "cell_line": "R", "sample": "d"}),
        Lane(6, "sample", {"treatment": "lin", "cell_line": "R", "sample": "e"}),
    )
    return Experiment(
        config_path=Path("x.yaml"),
        experiment="t",
        output=Path("out"),
        analysis=None,  # type: ignore[arg-type]
        pairs=(Pair("p-AKT", "AKT"),),
        control={"treatment": "DMSO"},
        normalize_within=normalize_within,
        summary_by=summary_by,
        membranes=(Membrane("m1", lanes), Membrane("m2", lanes)),
        measurements=(),
    )


def _bands(values: dict[tuple[str, str, int], tuple[float, str]]) -> pd.DataFrame:
    rows = [
        {"membrane": m, "antibody": ab, "lane": lane, "net_volume": v, "flags": f}
        for (m, ab, lane), (v, f) in values.items()
    ]
    return pd.DataFrame(rows)


def _simple_bands(membrane="m1", phospho=(10, 12, 2, 0, 8, 7), flags=None):
    flags = flags or {}
    values = {}
    for lane in (1, 2, 3, 5, 6):
        values[(membrane, "p-AKT", lane)] = (phospho[lane - 1], flags.get(("p-AKT", lane), ""))
        values[(membrane, "AKT", lane)] = (100.0, flags.get(("AKT", lane), ""))
    return values


def test_ratio_and_fold_change_within_cell_line():
    exp = _experiment()
    ratios = ratios_table(exp, _bands(_simple_bands()))
    assert list(ratios["lane"]) == [1, 2, 3, 5, 6]  # the empty lane gets no row
    np.testing.assert_allclose(ratios["ratio"], [0.10, 0.12, 0.02, 0.08, 0.07])
    # parental control mean 0.11, resistant control 0.08
    np.testing.assert_allclose(
        ratios["fold_change"], [0.10 / 0.11, 0.12 / 0.11, 0.02 / 0.11, 1.0, 0.07 / 0.08]
    )
    assert set(ratios["pair"]) == {"p-AKT/AKT"}
    assert ratios.loc[0, "sample"] == "a" and ratios.loc[0, "cell_line"] == "P"


def test_without_normalize_within_the_whole_membrane_shares_one_control():
    exp = _experiment(normalize_within=())
    ratios = ratios_table(exp, _bands(_simple_bands()))
    control = np.mean([0.10, 0.12, 0.08])
    np.testing.assert_allclose(
        ratios["fold_change"], np.array([0.1, 0.12, 0.02, 0.08, 0.07]) / control
    )


def test_flags_travel_into_ratios_and_flagged_controls_are_marked():
    flags = {("p-AKT", 2): "saturated", ("AKT", 3): "low-snr"}
    ratios = ratios_table(_experiment(), _bands(_simple_bands(flags=flags)))
    by_lane = ratios.set_index("lane")
    assert "saturated" in by_lane.loc[2, "flags"]
    assert "low-snr" in by_lane.loc[3, "flags"]
    # the saturated control is left out of the control mean and flags its group
    assert by_lane.loc[1, "fold_change"] == pytest.approx(1.0)
    assert "control-flagged" in by_lane.loc[3, "flags"]
    assert "control-flagged" not in by_lane.loc[5, "flags"]


def test_missing_control_is_flagged_not_invented():
    values = _simple_bands()
    for lane in (5,):
        del values[("m1", "p-AKT", lane)]
    ratios = ratios_table(_experiment(), _bands(values))
    row = ratios.set_index("lane").loc[6]
    assert np.isnan(row["fold_change"]) and "no-control" in row["flags"]


def test_non_positive_total_gives_no_ratio():
    values = _simple_bands()
    values[("m1", "AKT", 3)] = (-5.0, "no-band")
    ratios = ratios_table(_experiment(), _bands(values))
    row = ratios.set_index("lane").loc[3]
    assert np.isnan(row["ratio"]) and "total-not-positive" in row["flags"]


def test_summary_statistics_over_membranes():
    values = _simple_bands("m1")
    values.update(_simple_bands("m2", phospho=(10, 10, 4, 0, 8, 8)))
    exp = _experiment()
    ratios = ratios_table(exp, _bands(values))
    summary = summary_table(exp, ratios)
    row = summary[(summary.cell_line == "P") & (summary.treatment == "lin")].iloc[0]
    fcs = np.array([0.02 / 0.11, 0.04 / 0.10])
    assert row["n"] == 2
    assert row["fold_change_mean"] == pytest.approx(fcs.mean())
    assert row["fold_change_sd"] == pytest.approx(fcs.std(ddof=1))
    assert row["fold_change_sem"] == pytest.approx(fcs.std(ddof=1) / np.sqrt(2))
    assert row["ratio_mean"] == pytest.approx(0.03)
    assert list(summary.columns[:3]) == ["cell_line", "treatment", "pair"]


def test_saturated_lanes_are_left_out_of_the_summary_and_counted():
    values = _simple_bands("m1", flags={("p-AKT", 3): "saturated"})
    values.update(_simple_bands("m2"))
    exp = _experiment()
    summary = summary_table(exp, ratios_table(exp, _bands(values)))
    row = summary[(summary.cell_line == "P") & (summary.treatment == "lin")].iloc[0]
    assert row["n"] == 1 and row["n_excluded"] == 1
    assert "saturated" in row["flags"]


def test_write_atomic_leaves_no_temporary_files(tmp_path):
    write_atomic(tmp_path / "a.csv", b"x,y\n1,2\n")
    write_atomic(tmp_path / "a.csv", b"x,y\n3,4\n")
    assert (tmp_path / "a.csv").read_bytes() == b"x,y\n3,4\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_summary_wide_for_prism_keeps_each_membrane_on_its_row():
    values = _simple_bands("m1", flags={("p-AKT", 3): "saturated"})
    values.update(_simple_bands("m2", phospho=(10, 10, 4, 0, 8, 8)))
    exp = _experiment()
    ratios = ratios_table(exp, _bands(values))
    wide = summary_wide_table(exp, ratios)
    assert list(wide.columns) == ["pair", "replicate", "P | DMSO", "P | lin", "R | DMSO", "R | lin"]
    # two DMSO lanes of P per membrane: a second row per membrane, titled
    assert list(wide["replicate"]) == ["m1 #1", "m1 #2", "m2 #1", "m2 #2"]
    # m1's lin lane is saturated: an empty cell on m1's row, m2's value stays on m2's row
    assert np.isnan(wide["P | lin"].iloc[0]) and wide["P | lin"].iloc[2] == pytest.approx(0.4)
    # one DMSO lane of R per membrane: on each membrane's first row, the second row empty
    assert wide["R | DMSO"].iloc[[0, 2]].tolist() == [1.0, 1.0]
    assert wide["R | DMSO"].iloc[[1, 3]].isna().all()
    tables = prism_tables(exp, wide)
    assert list(tables) == ["p-AKT_over_AKT.csv"]
    assert list(tables["p-AKT_over_AKT.csv"].columns)[0] == "replicate"


def test_one_rule_decides_which_lanes_count_in_every_table_and_figure():
    from blotquant.ratios import counted_in_summary

    values = _simple_bands("m1", flags={("p-AKT", 3): "saturated", ("p-AKT", 2): "dust"})
    values.update(_simple_bands("m2", phospho=(10, 10, 4, 0, 8, 8)))
    exp = _experiment()
    ratios = ratios_table(exp, _bands(values))
    counted = counted_in_summary(ratios)
    # a caution (dust) counts; saturation does not
    assert counted[(ratios["membrane"] == "m1") & (ratios["lane"] == 2)].all()
    assert not counted[(ratios["membrane"] == "m1") & (ratios["lane"] == 3)].any()
    summary = summary_table(exp, ratios)
    for _, row in summary.iterrows():
        lanes = ratios[
            counted
            & (ratios["cell_line"] == row["cell_line"])
            & (ratios["treatment"] == row["treatment"])
        ]
        assert row["n"] == len(lanes)
        assert row["fold_change_mean"] == pytest.approx(lanes["fold_change"].mean())


def test_a_group_that_loses_every_lane_keeps_its_row_and_says_why():
    from dataclasses import replace

    from blotquant.models import Measurement

    measured = tuple(
        Measurement(membrane=m, image=f"{m}_{ab}.tif", path=Path(f"{m}_{ab}.tif"), antibody=ab)
        for m in ("m1", "m2")
        for ab in ("p-AKT", "AKT")
    )
    exp = replace(_experiment(), measurements=measured)
    # m1: the R lin lane saturated; m2's images were rejected (no bands at all)
    values = _simple_bands("m1", flags={("p-AKT", 6): "saturated"})
    summary = summary_table(exp, ratios_table(exp, _bands(values)))
    row = summary[(summary.cell_line == "R") & (summary.treatment == "lin")].iloc[0]
    assert row["n"] == 0 and row["n_excluded"] == 1 and row["n_missing"] == 1
    assert row["note"].startswith("no lane counts: 1 lane(s) left out (saturated)")
    assert "1 lane(s) not measured" in row["note"]
    assert np.isnan(row["fold_change_mean"])
    row = summary[(summary.cell_line == "P") & (summary.treatment == "DMSO")].iloc[0]
    assert row["n"] == 2 and row["n_missing"] == 2 and row["note"].startswith("2 lane(s) not")


def test_a_target_over_two_loading_controls_divides_by_their_geometric_mean():
    from dataclasses import replace

    exp = replace(
        _experiment(), pairs=(Pair("AXL", "GAPDH+actin", "target/loading", ("GAPDH", "actin")),)
    )
    values = {}
    for lane in (1, 2, 3, 5, 6):
        values[("m1", "AXL", lane)] = (10.0 * lane, "")
        values[("m1", "GAPDH", lane)] = (100.0, "dust" if lane == 3 else "")
        values[("m1", "actin", lane)] = (400.0, "")
    ratios = ratios_table(exp, _bands(values))
    assert ratios["total_net"].tolist() == pytest.approx([200.0] * 5)  # sqrt(100 * 400)
    assert ratios["ratio"].tolist() == pytest.approx([0.05, 0.1, 0.15, 0.25, 0.3])
    assert set(ratios["kind"]) == {"target/loading"} and set(ratios["pair"]) == {"AXL/GAPDH+actin"}
    assert ratios.loc[ratios["lane"] == 3, "flags"].item() == "dust"  # every band's flags
    summary = summary_table(exp, ratios)
    assert set(summary["kind"]) == {"target/loading"}


def test_calibrator_lanes_carry_fold_changes_across_membranes():
    from dataclasses import replace

    # three membranes imaged at different brightness (x1, x3, x0.5): controls only on
    # the first, the treatment only on the others; a calibrator lysate on every one
    lanes = {
        "m1": (Lane(1, "calibrator", {}), Lane(2, "sample", {"treatment": "DMSO"}),
               Lane(3, "sample", {"treatment": "DMSO"})),
        "m2": (Lane(1, "calibrator", {}), Lane(2, "sample", {"treatment": "lin"}),
               Lane(3, "sample", {"treatment": "lin"})),
        "m3": (Lane(1, "calibrator", {}), Lane(2, "sample", {"treatment": "lin"}),
               Lane(3, "sample", {"treatment": "lin"})),
    }  # fmt: skip
    true_ratio = {"calibrator": 0.8, "DMSO": 0.5, "lin": 0.2}  # true fold change of lin: 0.4
    brightness = {"m1": (1.0, 1.0), "m2": (3.0, 2.0), "m3": (0.5, 1.5)}  # phospho, total
    values = {}
    for name, membrane_lanes in lanes.items():
        p_scale, t_scale = brightness[name]
        for lane in membrane_lanes:
            what = lane.metadata.get("treatment", "calibrator")
            values[(name, "p-AKT", lane.number)] = (1000 * true_ratio[what] * p_scale, "")
            values[(name, "AKT", lane.number)] = (1000 * t_scale, "")
    exp = replace(
        _experiment(normalize_within=(), summary_by=("treatment",)),
        membranes=tuple(Membrane(n, ls) for n, ls in lanes.items()),
        normalize_to="calibrator",
    )
    ratios = ratios_table(exp, _bands(values))
    samples = ratios[ratios["role"] == "sample"]
    assert samples.loc[samples.treatment == "lin", "fold_change"].tolist() == pytest.approx(
        [0.4] * 4
    )
    assert samples.loc[samples.treatment == "DMSO", "fold_change"].tolist() == pytest.approx(
        [1.0, 1.0]
    )
    summary = summary_table(exp, ratios)
    assert list(summary["treatment"]) == ["DMSO", "lin"]  # the calibrator is no group
    assert summary.loc[summary.treatment == "lin", "fold_change_mean"].item() == pytest.approx(0.4)
    (note,) = calibrator_spread(ratios)
    assert note.startswith("p-AKT/AKT: the calibrator's ratio differs between the 3 membranes")
    # each membrane's own controls alone could not do it: m2 and m3 have none
    plain = ratios_table(replace(exp, normalize_to="control"), _bands(values))
    assert plain.loc[plain.membrane == "m2", "fold_change"].isna().all()


def test_a_membrane_without_a_usable_calibrator_is_flagged():
    from dataclasses import replace

    lanes = (Lane(1, "calibrator", {}), Lane(2, "sample", {"treatment": "DMSO"}))
    values = {
        ("m1", "p-AKT", 1): (10.0, "saturated"),
        ("m1", "AKT", 1): (100.0, ""),
        ("m1", "p-AKT", 2): (5.0, ""),
        ("m1", "AKT", 2): (100.0, ""),
    }
    exp = replace(
        _experiment(normalize_within=(), summary_by=("treatment",)),
        membranes=(Membrane("m1", lanes),),
        normalize_to="calibrator",
    )
    ratios = ratios_table(exp, _bands(values))
    assert ratios["flags"].str.contains("no-calibrator").all()
    assert ratios["fold_change"].isna().all()
