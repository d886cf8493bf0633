"""Ground truth: generated blots whose band volumes are known exactly, run end to end.

Stated tolerances (default settings, realistic flaws and noise):

* fold change: median absolute error <= 0.01, worst <= 0.04;
* band volume after one scale per image: median relative error <= 0.5 %;
* dilution series: net volume against load R^2 >= 0.999 below saturation,
  saturated lanes (and only they) flagged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from blotquant.api import run
from blotquant.config import parse_config
from blotquant.synth import BlotSpec, StripSpec, render_blot

pytestmark = pytest.mark.slow

N_LANES = 10
TREATMENTS = [
    "DMSO",
    "DMSO",
    "drugA",
    "drugA",
    "drugA",
    "drugB",
    "drugB",
    "drugB",
    "drugC",
    "drugC",
]


def _membrane(folder: Path, name: str, seed: int, flaws: dict) -> tuple[dict, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    total = rng.uniform(0.8, 1.2, N_LANES) * 2e6
    effect = {"DMSO": 1.0, "drugA": 0.5, "drugB": 0.15, "drugC": 0.9}
    fold = np.array([effect[t] for t in TREATMENTS]) * rng.lognormal(0, 0.05, N_LANES)
    phospho = total * 0.5 * fold
    jitter = list(rng.uniform(-2, 2, N_LANES))
    truth = {}
    images = []
    for antibody, volumes in (("p-X", phospho), ("X", total)):
        strip = StripSpec(
            antibody,
            280,
            140,
            list(volumes),
            sigma=5.0,
            background=1500,
            gradient=flaws.get("gradient", (0.0, 0.0)),
            blotches=flaws.get("blotches", 0),
            smear=flaws.get("smear", 0.0),
        )
        spec = BlotSpec(
            width=720,
            strips=[strip],
            n_lanes=N_LANES,
            pitch=66,
            first_lane=63,
            lane_jitter=jitter,
            rotation_deg=flaws.get("rotation", 0.0),
            smile=flaws.get("smile", 0.0),
            read_noise=20,
            shot_noise=1.0,
            dust=flaws.get("dust", 0),
            polarity=flaws.get("polarity", "light-bands"),
        )
        image, bands = render_blot(spec, rng)
        file = f"{name}_{antibody}.tif"
        tifffile.imwrite(folder / file, image)
        images.append({"file": file, "antibody": antibody})
        truth[antibody] = np.array([b.true_volume for b in bands])
    ratio = truth["p-X"] / truth["X"]
    control = ratio[:2].mean()
    table = pd.DataFrame(
        {
            "membrane": name,
            "lane": np.arange(1, N_LANES + 1),
            "true_fold_change": ratio / control,
            "true_p": truth["p-X"],
            "true_t": truth["X"],
        }
    )
    lanes = [{"treatment": t} for t in TREATMENTS]
    return {"name": name, "lanes": lanes, "images": images}, table


FLAWS = {
    "clean": {},
    "gradient": {"gradient": (1.0, -1.5)},
    "blotches": {"blotches": 4},
    "tilt-smile": {"rotation": 1.5, "smile": 8.0},
    "dark-bands": {"polarity": "dark-bands", "gradient": (0.5, 0.5)},
    "dust-smear": {"dust": 6, "smear": 0.03},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truth")
    membranes, truths = [], []
    for k, (name, flaws) in enumerate(FLAWS.items()):
        membrane, truth = _membrane(folder, name, 100 + k, flaws)
        membranes.append(membrane)
        truths.append(truth)
    config = {
        "pairs": [{"phospho": "p-X", "total": "X"}],
        "control": {"treatment": "DMSO"},
        "membranes": membranes,
    }
    experiment = parse_config(config, config_path=folder / "config.yaml")
    outcome = run(experiment, out=folder / "results")
    truth = pd.concat(truths, ignore_index=True)
    merged = outcome.ratios.merge(truth, on=["membrane", "lane"])
    return outcome, merged


def test_every_band_is_measured_and_none_flagged(generated):
    outcome, merged = generated
    assert outcome.complete
    assert len(outcome.bands) == 2 * N_LANES * len(FLAWS)
    flags = outcome.bands["flags"]
    # dust is flagged where a speck fell on a band, and nowhere else
    dust_ok = (flags == "dust") & (outcome.bands["membrane"] == "dust-smear")
    assert ((flags == "") | dust_ok).all(), outcome.bands.loc[
        flags != "", ["membrane", "antibody", "lane", "flags"]
    ]


def test_fold_changes_match_ground_truth(generated):
    _, merged = generated
    error = (merged["fold_change"] - merged["true_fold_change"]).abs()
    per_flaw = error.groupby(merged["membrane"]).max()
    assert error.median() <= 0.01, per_flaw
    assert error.max() <= 0.04, per_flaw


def test_volumes_match_ground_truth_up_to_one_scale_per_image(generated):
    _, merged = generated
    errors = []
    for _, group in merged.groupby("membrane"):
        for measured, true in (("phospho_net", "true_p"), ("total_net", "true_t")):
            ratio = group[measured] / group[true]
            # bands of at least a quarter of the image's strongest
            strong = group[true] >= 0.25 * group[true].max()
            errors.extend((ratio[strong] / ratio[strong].median() - 1).abs())
    assert np.median(errors) <= 0.005
    assert np.percentile(errors, 95) <= 0.02


def test_dilution_series_is_linear_and_saturation_is_flagged(tmp_path):
    rng = np.random.default_rng(7)
    loads = 2.0 ** np.arange(8)
    strip = StripSpec("X", 260, 130, list(loads * 2e5), sigma=5.0, background=1000)
    # a camera that clips at 40 000 counts: the top lane saturates
    spec = BlotSpec(
        width=600,
        strips=[strip],
        n_lanes=8,
        pitch=66,
        first_lane=69,
        read_noise=15,
        shot_noise=0.5,
        ceiling=40000,
    )
    image, bands = render_blot(spec, rng)
    tifffile.imwrite(tmp_path / "dilution.tif", image)
    config = {
        # the same image measured as two antibodies, so that a ratio can be formed
        "pairs": [{"phospho": "X", "total": "Y"}],
        "control": {"treatment": "load1"},
        "membranes": [
            {
                "name": "d",
                "lanes": [{"treatment": f"load{int(v)}"} for v in loads],
                "images": [
                    {"file": "dilution.tif", "antibody": "X"},
                    {"file": "dilution.tif", "antibody": "Y"},
                ],
            }
        ],
    }
    outcome = run(parse_config(config, config_path=tmp_path / "c.yaml"), out=tmp_path / "out")
    measured = outcome.bands[outcome.bands["antibody"] == "X"].set_index("lane")
    truly_saturated = np.array([b.saturated for b in bands])
    assert truly_saturated.any() and not truly_saturated.all()
    flagged = measured["flags"].str.contains("saturated").to_numpy()
    np.testing.assert_array_equal(flagged, truly_saturated)
    ok = ~truly_saturated
    net = measured["net_volume"].to_numpy()[ok]
    r2 = np.corrcoef(loads[ok], net)[0, 1] ** 2
    assert r2 >= 0.999
