"""Calibrator lanes on generated membranes: fold changes across membranes recover the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from blotquant.api import run
from blotquant.synth import BlotSpec, StripSpec, render_blot

#: Each membrane: (lane treatments after the calibrator, phospho and total brightness).
MEMBRANES = {
    "A": (["DMSO"] * 3 + ["drugA"] * 4, (1.0, 1.0)),
    "B": (["drugB"] * 7, (2.5, 1.6)),  # no controls here
    "C": (["drugC"] * 7, (0.6, 0.8)),  # nor here
}
TRUE_RATIO = {"calibrator": 0.6, "DMSO": 0.5, "drugA": 0.25, "drugB": 0.125, "drugC": 0.75}
TOTAL = 4e5


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrator")
    rng = np.random.default_rng(11)
    membranes = []
    for name, (treatments, (p_scale, t_scale)) in MEMBRANES.items():
        lanes = ["calibrator", *treatments]
        ratios = np.array([TRUE_RATIO[t] for t in lanes])
        # the same lysates, imaged brighter or darker on each membrane
        totals = TOTAL * t_scale * rng.uniform(0.8, 1.2, len(lanes))
        for antibody, volumes in (("p-X", ratios * totals * p_scale / t_scale), ("X", totals)):
            strip = StripSpec(antibody, 180, 90.0, list(volumes), sigma=4.0, background=1500)
            spec = BlotSpec(
                width=520, strips=[strip], n_lanes=len(lanes), pitch=60.0, first_lane=50.0,
                roles=["calibrator"] + ["sample"] * len(treatments), read_noise=15.0,
            )  # fmt: skip
            image, _ = render_blot(spec, rng)
            tifffile.imwrite(folder / f"{name}_{antibody}.tif", np.asarray(image, np.uint16))
        membranes.append(
            {
                "name": name,
                "lanes": [{"role": "calibrator"}, *({"treatment": t} for t in treatments)],
                "images": [
                    {"file": f"{name}_p-X.tif", "antibody": "p-X"},
                    {"file": f"{name}_X.tif", "antibody": "X"},
                ],
            }
        )
    config = {
        "experiment": "calibrator across membranes",
        "pairs": [{"phospho": "p-X", "total": "X"}],
        "control": {"treatment": "DMSO"},
        "normalize_to": "calibrator",
        "summary_by": ["treatment"],
        "membranes": membranes,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run(path, out=folder / "out", qc=False)
    return outcome.ratios, outcome.warnings


def test_fold_changes_through_the_calibrator_recover_the_truth(calibrated):
    ratios, warnings = calibrated
    samples = ratios[ratios["role"] == "sample"]
    truth = samples["treatment"].map(lambda t: TRUE_RATIO[t] / TRUE_RATIO["DMSO"])
    error = (pd.to_numeric(samples["fold_change"]) - truth).abs()
    assert error.notna().all()  # every lane, on membranes without controls too
    assert error.median() <= 0.01 and error.quantile(0.95) <= 0.03, error.describe()
    # the membranes' brightness differed: the calibrator says by how much
    assert any("the calibrator's ratio differs between the 3 membranes" in w for w in warnings)
