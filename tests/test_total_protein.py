"""Total-protein stains on generated membranes: a target over the stain recovers its expression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from blotquant.api import run
from blotquant.synth import BlotSpec, StripSpec, render_blot

#: True expression of the target per treatment, relative to DMSO.
EXPRESSION = {"DMSO": 1.0, "drugA": 2.0, "drugB": 0.5, "drugC": 3.0, "drugD": 0.7}
TREATMENTS = ["DMSO", "DMSO", "drugA", "drugA", "drugB", "drugB", "drugC", "drugD", "drugD"]
#: Rows (inside the stain image) and shares of the stain's bands: every protein of the lane.
STAIN_BANDS = [(40, 0.08), (62, 0.15), (90, 0.1), (121, 0.2), (150, 0.12), (185, 0.2), (230, 0.15)]


def _spec(strip: StripSpec, n_lanes: int) -> BlotSpec:
    return BlotSpec(
        width=600, strips=[strip], n_lanes=n_lanes, pitch=60.0, first_lane=60.0, read_noise=15.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def stained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("total_protein")
    rng = np.random.default_rng(5)
    membranes = []
    for name in ("rep1", "rep2", "rep3"):
        # lanes loaded unevenly (0.5x to 1.5x): what the stain is there to take away
        loading = rng.uniform(0.5, 1.5, len(TREATMENTS))
        expression = np.array([EXPRESSION[t] for t in TREATMENTS])
        target = StripSpec("AXL", 160, 80.0, list(2e5 * expression * loading), sigma=4.0)
        target.background, target.gradient = 1500.0, (0.5, 0.0)
        stain = StripSpec("total protein", 270, 135.0, list(1.5e6 * loading), sigma=3.0)
        stain.background, stain.stain_bands = 1200.0, STAIN_BANDS
        for strip in (target, stain):
            image, _ = render_blot(_spec(strip, len(TREATMENTS)), rng)
            tifffile.imwrite(folder / f"{name}_{strip.antibody}.tif", np.asarray(image, np.uint16))
        membranes.append(
            {
                "name": name,
                "lanes": [{"treatment": t} for t in TREATMENTS],
                "images": [
                    {"file": f"{name}_AXL.tif", "antibody": "AXL"},
                    {
                        "file": f"{name}_total protein.tif",
                        "antibody": "total protein",
                        "stain": "total-protein",
                        "band_rows": [20, 250],
                    },
                ],
            }
        )
    config = {
        "experiment": "expression over a total-protein stain",
        "pairs": [{"target": "AXL", "loading": "total protein"}],
        "control": {"treatment": "DMSO"},
        "summary_by": ["treatment"],
        "membranes": membranes,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return run(path, out=folder / "out")


def test_target_over_stain_recovers_the_expression_fold_change(stained):
    ratios = stained.ratios
    assert len(ratios) == 3 * len(TREATMENTS)
    truth = ratios["treatment"].map(EXPRESSION)
    error = (pd.to_numeric(ratios["fold_change"]) - truth).abs()
    assert error.notna().all()
    assert error.median() <= 0.01 and error.quantile(0.95) <= 0.03, error.describe()
    assert (ratios["kind"] == "target/loading").all()
    # a stain is the lane's whole protein: no "one housekeeping band" note
    assert not any("housekeeping" in w for w in stained.warnings)


def test_the_stain_is_boxed_over_the_whole_lane(stained):
    bands = stained.bands
    stain = bands[bands["antibody"] == "total protein"]
    assert len(stain) == 3 * len(TREATMENTS)
    assert (stain["band_top"] == 20).all() and (stain["band_bottom"] == 249).all()
    assert stain["flags"].fillna("").eq("").all(), stain["flags"].tolist()
    assert (stained.output / "qc").is_dir()


#: True phosphorylation (p-X/X) per treatment, relative to DMSO.
PHOSPHO = {"DMSO": 1.0, "drugA": 0.3, "drugB": 0.6, "drugC": 1.5, "drugD": 0.1}


@pytest.fixture(scope="module")
def two_gels(tmp_path_factory):
    """p-X and X blotted on two gels of the same lysates, each gel with its own stain."""
    folder = tmp_path_factory.mktemp("two_gels")
    rng = np.random.default_rng(8)
    phospho = np.array([PHOSPHO[t] for t in TREATMENTS])
    images = []
    # each gel loaded unevenly in its own way: what the two stains are there to take away
    for gel, antibody, volumes in (("A", "p-X", 1e5 * phospho), ("B", "X", np.full(9, 3e5))):
        loading = rng.uniform(0.5, 1.5, len(TREATMENTS))
        band = StripSpec(antibody, 160, 80.0, list(volumes * loading), sigma=4.0)
        band.background = 1500.0
        stain = StripSpec(f"stain {gel}", 270, 135.0, list(1.5e6 * loading), sigma=3.0)
        stain.background, stain.stain_bands = 1200.0, STAIN_BANDS
        for strip in (band, stain):
            image, _ = render_blot(_spec(strip, len(TREATMENTS)), rng)
            tifffile.imwrite(folder / f"{strip.antibody}.tif", np.asarray(image, np.uint16))
        images += [
            {"file": f"{antibody}.tif", "antibody": antibody},
            {
                "file": f"stain {gel}.tif",
                "antibody": f"stain {gel}",
                "stain": "total-protein",
                "band_rows": [20, 250],
            },
        ]
    config = {
        "experiment": "phospho and total on two gels",
        "pairs": [
            {
                "phospho": "p-X",
                "total": "X",
                "phospho_loading": "stain A",
                "total_loading": "stain B",
            }
        ],
        "control": {"treatment": "DMSO"},
        "summary_by": ["treatment"],
        "membranes": [
            {"name": "gels", "lanes": [{"treatment": t} for t in TREATMENTS], "images": images}
        ],
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return run(path, out=folder / "out", qc=False)


def test_phospho_and_total_each_over_their_own_gels_stain(two_gels):
    ratios = two_gels.ratios
    truth = ratios["treatment"].map(PHOSPHO)
    corrected = pd.to_numeric(ratios["fold_change"])
    error = (corrected - truth).abs()
    assert error.notna().all() and len(error) == len(TREATMENTS)
    assert error.median() <= 0.01 and error.quantile(0.95) <= 0.03, error.describe()
    # the contract holds: the ratio is phospho_net / total_net, each band over its loading
    assert np.allclose(ratios["phospho_net"] / ratios["total_net"], ratios["ratio"])
    bands = two_gels.bands.set_index(["antibody", "lane"])["net_volume"]
    first = ratios.iloc[0]
    assert first["phospho_loading"] == pytest.approx(bands["stain A", 1])
    assert first["phospho_net"] == pytest.approx(bands["p-X", 1] / bands["stain A", 1])
    # without the stains the two gels' loading would not cancel: far off
    raw = ratios["lane"].map(lambda n: bands["p-X", n] / bands["X", n])
    uncorrected = raw / raw[ratios["treatment"] == "DMSO"].mean()
    assert (uncorrected - truth).abs().median() > 5 * error.median()
