"""Molecular weight from a ladder lane, and band_kda instead of band_rows."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from blotquant.api import run
from blotquant.config import parse_config
from blotquant.errors import BlotquantError
from blotquant.ladder import LadderFit, band_window, fit_ladder_lane
from blotquant.lanes import fixed_lanes
from blotquant.synth import BlotSpec, StripSpec, render_blot

MARKS = [150.0, 100.0, 50.0, 25.0]


def _row(kda: float) -> float:
    # migration linear in log size: 150 kDa at row 52, 25 kDa at row 130
    return 250.0 - 100.0 * np.log10(kda) + 20.0


def _project(tmp_path, **image_keys):
    volumes = [0.0] + [1e6] * 6
    strip = StripSpec(
        "X",
        220,
        _row(60),
        volumes,
        sigma=3.5,
        background=800,
        nonspecific=(_row(40) - _row(60), 1.6),  # a stronger band at 40 kDa
        ladder_rows=[_row(k) for k in MARKS],
        ladder_volume=1.5e6,
    )
    spec = BlotSpec(
        width=420,
        strips=[strip],
        n_lanes=7,
        pitch=55,
        first_lane=45,
        roles=["ladder"] + ["sample"] * 6,
        read_noise=10,
    )
    image, _ = render_blot(spec, np.random.default_rng(4))
    tifffile.imwrite(tmp_path / "blot.tif", image)
    lanes = [{"role": "ladder"}] + [{"treatment": "DMSO" if i < 2 else "x"} for i in range(6)]
    config = {
        "pairs": [{"phospho": "X", "total": "Y"}],
        "control": {"treatment": "DMSO"},
        "membranes": [
            {
                "name": "m",
                "lanes": lanes,
                "images": [
                    {"file": "blot.tif", "antibody": "X", **image_keys},
                    {"file": "blot.tif", "antibody": "Y", **image_keys},
                ],
            }
        ],
    }
    return parse_config(config, config_path=tmp_path / "c.yaml")


def test_band_kda_finds_the_band_of_that_size_and_reports_kda(tmp_path):
    experiment = _project(tmp_path, ladder={"lane": 1, "kda": MARKS}, band_kda=60)
    bands = run(experiment, out=tmp_path / "out", qc=False).bands
    assert len(bands) == 12
    assert np.all(np.abs(bands["band_row"] - _row(60)) < 1.5)
    assert np.all(np.abs(bands["kda"] / 60 - 1) < 0.06)


def test_without_band_kda_two_close_bands_are_a_doublet_and_sizes_are_reported(tmp_path):
    # 60 and 40 kDa, 1.5 band widths apart, both in every lane: boxed whole by default
    experiment = _project(tmp_path, ladder={"lane": 1, "kda": MARKS})
    bands = run(experiment, out=tmp_path / "out", qc=False).bands
    assert bands["flags"].str.contains("doublet").all()
    assert np.all((bands["kda"] > 40) & (bands["kda"] < 60))


def test_band_lower_takes_the_lower_band_of_a_doublet_and_reports_its_size(tmp_path):
    experiment = _project(tmp_path, ladder={"lane": 1, "kda": MARKS}, band="lower")
    bands = run(experiment, out=tmp_path / "out", qc=False).bands
    assert np.all(np.abs(bands["kda"] / 40 - 1) < 0.06)


def test_band_kda_without_a_ladder_is_refused(tmp_path):
    experiment = _project(tmp_path, band_kda=60)
    outcome = run(experiment, out=tmp_path / "out", qc=False)
    assert outcome.failures and "needs a ladder" in outcome.failures[0][1]


def test_ladder_sizes_must_fall(tmp_path):
    with pytest.raises(BlotquantError, match="largest mark"):
        _project(tmp_path, ladder={"lane": 1, "kda": [25, 50, 100]})


def test_band_window_spans_the_tolerance_and_stays_inside_the_image():
    # log10(kDa) = -0.01 * row + 3: 100 kDa at row 100, 10 kDa at row 200
    ladder = LadderFit((50.0, 150.0), (316.2, 31.62), -0.01, 3.0)
    top, bottom = band_window(ladder, 100.0, 0.15, 400)
    assert top == int(np.floor(ladder.row_at(115.0)))
    assert bottom == int(np.ceil(ladder.row_at(85.0))) + 1
    assert top < 100 < bottom
    assert band_window(ladder, 10.0, 0.5, 210) == (int(np.floor(ladder.row_at(15.0))), 210)
    assert band_window(ladder, 2000.0, 0.5, 400)[0] == 0


def test_fit_ladder_lane_fits_the_named_lane():
    rows = np.arange(200)
    profile = sum(np.exp(-0.5 * ((rows - r) / 2.0) ** 2) for r in (40, 80, 120, 160))
    signal = np.zeros((200, 100))
    signal[:, 10:30] = profile[:, None]  # lane 1 holds the ladder
    lanes = fixed_lanes([20.0, 60.0], 20.0, 99.5)
    fit = fit_ladder_lane(signal, lanes, 1, [200.0, 100.0, 50.0, 25.0])
    assert fit is not None and fit.rows == (40.0, 80.0, 120.0, 160.0)
    assert fit_ladder_lane(signal, lanes, 2, [200.0, 100.0, 50.0, 25.0]) is None
