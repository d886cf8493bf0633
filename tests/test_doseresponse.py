"""Four-parameter logistic fits of fold change against dose."""

from __future__ import annotations

import numpy as np
import pandas as pd

from blotquant.doseresponse import fit_dose_response


def _ratios(
    ic50=100.0,
    hill=1.0,
    top=1.0,
    bottom=0.1,
    noise=0.03,
    seed=0,
    doses=None,
    treatment="drug",
    flags=None,
):
    rng = np.random.default_rng(seed)
    doses = doses if doses is not None else [1, 10, 30, 100, 300, 1000, 10000]
    rows = [
        {
            "pair": "p-X/X",
            "treatment": "DMSO",
            "dose_nM": 0,
            "cell_line": "P",
            "fold_change": 1 + rng.normal(0, noise),
            "flags": "",
        }
        for _ in range(3)
    ]
    for d in doses:
        for _ in range(3):
            y = bottom + (top - bottom) / (1 + (d / ic50) ** hill)
            rows.append(
                {
                    "pair": "p-X/X",
                    "treatment": treatment,
                    "dose_nM": d,
                    "cell_line": "P",
                    "fold_change": y + rng.normal(0, noise),
                    "flags": "",
                }
            )
    return pd.DataFrame(rows)


def _fit(ratios):
    return fit_dose_response(ratios, group_keys=["cell_line"], control={"treatment": "DMSO"})


def test_known_curve_is_recovered_with_a_confidence_interval():
    rows = [_fit(_ratios(seed=seed)).iloc[0] for seed in range(20)]
    assert all(abs(r.ic50 / 100 - 1) < 0.3 for r in rows)
    # a 95 % interval: covers the truth in most draws (18 of 20 or more)
    assert sum(r.ic50_ci_low < 100 < r.ic50_ci_high for r in rows) >= 17
    row = rows[0]
    assert abs(row.hill - 1) < 0.3 and row.r2 > 0.95 and row.note == ""
    assert row.n_doses == 7 and row.n_points == 24


def test_too_few_doses_and_flat_responses_give_no_number_but_a_reason():
    row = _fit(_ratios(doses=[10, 100])).iloc[0]
    assert np.isnan(row.ic50) and "at least 3" in row.note
    row = _fit(_ratios(bottom=0.95)).iloc[0]
    assert np.isnan(row.ic50) and "no inhibition" in row.note


def test_ic50_beyond_the_doses_is_not_reported():
    row = _fit(_ratios(ic50=1e6, doses=[1, 10, 100, 1000], bottom=0.0)).iloc[0]
    assert np.isnan(row.ic50)


def test_saturated_lanes_are_left_out():
    ratios = _ratios()
    ratios.loc[5, "flags"] = "saturated"
    assert _fit(ratios).iloc[0].n_points == 23


def test_dose_key_names_the_dose_column(tmp_path):
    from pathlib import Path

    import pytest
    import yaml

    from blotquant.api import run
    from blotquant.errors import BlotquantError

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "configs" / "demo.yaml").read_text())
    for membrane in config["membranes"]:
        for lane in membrane["lanes"]:
            if "dose_nM" in lane:
                lane["conc"] = lane.pop("dose_nM")
        for image in membrane["images"]:
            image["file"] = str((root / "configs" / image["file"]).resolve())
    config["summary_by"] = ["cell_line", "treatment", "conc"]
    config["dose_key"] = "conc"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    outcome = run(tmp_path / "c.yaml", out=tmp_path / "out", qc=False)
    fits = pd.read_csv(tmp_path / "out" / "dose_response.csv")
    lin = fits[(fits.treatment == "linsitinib") & (fits.pair == "p-AKT/AKT")]
    assert lin.set_index("cell_line").loc["parental", "ic50"] > 0
    assert outcome.experiment.resolved["dose_key"] == "conc"
    config["dose_key"] = "dose"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(BlotquantError, match="dose_key"):
        run(tmp_path / "c.yaml", out=tmp_path / "out2")


def test_each_pair_is_fitted_per_its_own_conditions_from_its_own_vehicle(tmp_path):
    """A pair normalised within cell lines gets a curve per cell line, though the
    experiment pools them; a pair normalised to the parental DMSO still gets a
    curve per cell line, each starting at its own DMSO."""
    from pathlib import Path

    import yaml

    from blotquant.api import run

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "configs" / "demo.yaml").read_text())
    for membrane in config["membranes"]:
        for image in membrane["images"]:
            image["file"] = str((root / "configs" / image["file"]).resolve())
    config["normalize_within"] = []
    config["pairs"][1]["normalize_within"] = ["cell_line"]
    config.pop("compare", None)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run(tmp_path / "c.yaml", out=tmp_path / "out", qc=False)
    fits = pd.read_csv(tmp_path / "out" / "dose_response.csv")
    ratios = pd.read_csv(tmp_path / "out" / "ratios.csv")

    akt = fits[(fits.pair == "p-AKT/AKT") & (fits.treatment == "linsitinib")]
    assert sorted(akt.cell_line) == ["parental", "resistant"]
    # the experiment's own pairs pool the cell lines, as configured
    igf = fits[fits.pair == "p-IGF-1R/IGF-1R"]
    assert len(igf[igf.treatment == "linsitinib"]) == 1 and igf.cell_line.isna().all()
    # AXL's resistant curve starts at the resistant DMSO (about 3x the parental),
    # not at 1: its vehicle lanes are its own cell line's
    axl = fits[(fits.pair == "AXL/total protein") & (fits.treatment == "linsitinib")]
    assert sorted(axl.cell_line) == ["parental", "resistant"]
    n_vehicle = len(
        ratios[
            (ratios.pair == "AXL/total protein")
            & (ratios.cell_line == "resistant")
            & (ratios.treatment == "DMSO")
            & ratios.fold_change.notna()
        ]
    )
    resistant = axl.set_index("cell_line").loc["resistant"]
    assert n_vehicle > 0 and resistant.n_points > resistant.n_doses
