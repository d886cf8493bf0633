"""Images of one membrane registered to each other, and held to one set of lanes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from blotquant import batch
from blotquant.api import run
from blotquant.register import Registration, fingerprint, register
from tests.conftest import make_blot

PITCH = 40.0
N_LANES = 8


def _membrane_on_tray(
    amplitudes, *, band_row: float, top: int, left: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A membrane laid on the imager's tray at (top, left); gives the image and lane centres."""
    blot = make_blot(n_lanes=N_LANES, pitch=PITCH, first=1.5 * PITCH, height=160,
                     band_row=band_row, amplitudes=amplitudes, noise=2.0, seed=seed)  # fmt: skip
    tray = np.random.default_rng(seed + 1).normal(20.0, 2.0, (240, 460))
    rows, cols = blot.image.shape
    tray[top : top + rows, left : left + cols] = blot.image
    return np.clip(tray * 20, 0, 60000).astype(np.uint16), blot.centers + left


TOTAL = [900, 1200, 700, 1000, 800, 1100, 950, 600]


def test_a_moved_membrane_is_registered_to_the_pixel():
    first, _ = _membrane_on_tray(TOTAL, band_row=80, top=20, left=30, seed=1)
    second, _ = _membrane_on_tray(TOTAL[::-1], band_row=110, top=43, left=47, seed=5)
    found = register(fingerprint(first), fingerprint(second), pitch=PITCH)
    assert found is not None
    assert found.rows == pytest.approx(23, abs=1)
    assert found.columns == pytest.approx(17, abs=1)
    back = register(fingerprint(second), fingerprint(first), pitch=PITCH)
    assert back is not None and back.columns == pytest.approx(-17, abs=1)


def test_lanes_that_repeat_with_nothing_else_to_go_by_are_not_registered():
    # identical bands, no membrane edge: one lane over fits as well as the truth
    blot = make_blot(n_lanes=12, pitch=PITCH, height=100, amplitudes=[1000.0] * 12)
    image = blot.image[:, 60:-60]
    moved = np.roll(image, 9, axis=1)
    assert register(fingerprint(image), fingerprint(moved), pitch=PITCH) is None


def _project(tmp_path, images: dict[str, np.ndarray]):
    for name, pixels in images.items():
        tifffile.imwrite(tmp_path / name, pixels)
    lanes = [{"treatment": "DMSO" if k < 2 else "drug"} for k in range(N_LANES)]
    config = {
        "pairs": [{"phospho": "pX", "total": "X"}],
        "control": {"treatment": "DMSO"},
        "membranes": [
            {
                "name": "m1",
                "lanes": lanes,
                "images": [
                    {"file": "x.tif", "antibody": "X"},
                    {"file": "px.tif", "antibody": "pX"},
                ],
            }
        ],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "c.yaml"


def test_a_reprobe_whose_bands_cannot_place_its_lanes_takes_them_from_the_other_image(tmp_path):
    # the phospho image shows bands in lanes 2 and 6 only, on a membrane moved on the
    # tray: alone, its comb stretched over them (lanes 35 px to -75 px off, unflagged)
    total, _ = _membrane_on_tray(TOTAL, band_row=80, top=20, left=30, seed=1)
    phospho, truth = _membrane_on_tray([0, 900, 0, 0, 0, 1000, 0, 0],
                                       band_row=110, top=43, left=47, seed=5)  # fmt: skip
    outcome = run(_project(tmp_path, {"x.tif": total, "px.tif": phospho}), out=tmp_path / "out")
    bands = pd.read_csv(tmp_path / "out" / "bands.csv", keep_default_na=False)
    px = bands[bands["antibody"] == "pX"].sort_values("lane")
    centres = (px["x_left"] + px["x_right"]) / 2
    assert np.abs(centres.to_numpy() - truth).max() < 0.25 * PITCH
    assert not px["flags"].str.contains("lanes-uncertain").any()
    assert any("so they were carried over from that image" in w for w in outcome.result.warnings)
    (taker,) = [a for a in outcome.result.analyses if a.measurement.antibody == "pX"]
    assert taker.lanes_from.startswith("x.tif [X], registered (moved 23 rows, 17 columns")


def test_images_of_one_membrane_that_place_its_lanes_apart_are_flagged(tmp_path, monkeypatch):
    # the membrane moved 23 columns left, registered as 17 right: one lane off
    total, _ = _membrane_on_tray(TOTAL, band_row=80, top=20, left=30, seed=1)
    phospho, _ = _membrane_on_tray(TOTAL[::-1], band_row=110, top=43, left=7, seed=5)
    monkeypatch.setattr(batch, "register", lambda *a, **k: Registration(23, 17, 0.9, 0.1))
    outcome = run(_project(tmp_path, {"x.tif": total, "px.tif": phospho}), out=tmp_path / "out")
    bands = pd.read_csv(tmp_path / "out" / "bands.csv", keep_default_na=False)
    assert bands["flags"].str.contains("lanes-uncertain").all()
    assert any("an image of the same membrane (moved 23 rows, 17 columns)" in w
               for w in outcome.result.warnings)  # fmt: skip


def test_images_of_one_membrane_that_agree_are_left_alone(tmp_path):
    total, truth = _membrane_on_tray(TOTAL, band_row=80, top=20, left=30, seed=1)
    phospho, _ = _membrane_on_tray(TOTAL[::-1], band_row=110, top=43, left=47, seed=5)
    outcome = run(_project(tmp_path, {"x.tif": total, "px.tif": phospho}), out=tmp_path / "out")
    bands = pd.read_csv(tmp_path / "out" / "bands.csv", keep_default_na=False)
    assert not bands["flags"].str.contains("lanes-uncertain").any()
    assert not any("carried over" in w for w in outcome.result.warnings)
    assert len(outcome.result.fingerprints) == 2


def test_lanes_given_by_hand_on_one_image_are_lent_to_the_others(tmp_path):
    total, truth_total = _membrane_on_tray(TOTAL, band_row=80, top=20, left=30, seed=1)
    phospho, truth = _membrane_on_tray([0, 900, 0, 0, 0, 1000, 0, 0],
                                       band_row=110, top=43, left=47, seed=5)  # fmt: skip
    config = _project(tmp_path, {"x.tif": total, "px.tif": phospho})
    written = yaml.safe_load(config.read_text())
    written["membranes"][0]["images"][0]["lane_centers"] = [float(x) for x in truth_total]
    config.write_text(yaml.safe_dump(written))
    outcome = run(config, out=tmp_path / "out")
    (taker,) = [a for a in outcome.result.analyses if a.measurement.antibody == "pX"]
    assert taker.lanes_from.startswith("x.tif [X], registered")
    assert np.abs(taker.lanes.centers + taker.col_offset - truth).max() < 0.25 * PITCH
