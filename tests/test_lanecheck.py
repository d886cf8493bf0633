"""Lanes checked against the membrane: a lane count that does not fit is caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tifffile
import yaml
from click.testing import CliRunner
from PIL import Image

from blotquant.api import run
from blotquant.cli import main
from blotquant.lanecheck import bare_lanes, lane_evidence
from blotquant.lanes import LaneGeometry, find_lanes, fixed_lanes
from tests.conftest import make_blot


def _geometry(centers, width: float = 28.0) -> LaneGeometry:
    return fixed_lanes(np.asarray(centers, float), width, ref_row=60.0)


def _two_strips(n_lanes: int = 8, pitch: float = 40.0):
    """Bands in two rows, as on a membrane cut in strips (each lane has both)."""
    top = make_blot(n_lanes=n_lanes, pitch=pitch, band_row=40.0, height=160, noise=2.0)
    low = make_blot(n_lanes=n_lanes, pitch=pitch, band_row=110.0, height=160, noise=2.0, seed=1)
    return top.image + low.image - 100.0, top.centers


def test_right_lanes_raise_no_doubt():
    image, centers = _two_strips()
    evidence = lane_evidence(image, _geometry(centers))
    assert evidence.doubts() == []
    assert len(evidence.columns) == 8 and len(evidence.stray) == 0
    assert np.all(evidence.presence > 0.5)


def test_lanes_found_automatically_raise_no_doubt():
    image, centers = _two_strips()
    assert lane_evidence(image, find_lanes(image, 8)).doubts() == []


def test_lanes_shifted_by_one_leave_a_band_column_outside():
    image, centers = _two_strips()
    shifted = centers[1:] + 40.0  # lane 1 on the second band, the last on bare membrane
    evidence = lane_evidence(image, _geometry(shifted))
    assert len(evidence.stray) >= 1 and abs(evidence.stray[0] - centers[0]) < 6
    assert "outside every lane" in evidence.doubts()[0]
    assert evidence.presence[-1] < 0.1


def test_one_lane_too_few_is_caught():
    image, _ = _two_strips()
    assert lane_evidence(image, find_lanes(image, 7)).doubts()


def test_one_lane_too_many_is_caught():
    image, _ = _two_strips()
    doubts = lane_evidence(image, find_lanes(image, 9)).doubts()
    assert doubts, "nine lanes on an eight-lane membrane must be doubted"


def test_lanes_squeezed_onto_half_the_bands_leave_signal_outside():
    image, centers = _two_strips()
    squeezed = centers[0] + 0.5 * (centers - centers[0])
    evidence = lane_evidence(image, _geometry(squeezed, width=14.0))
    assert evidence.outside_share > 0.25
    assert any("outside the boxes" in d for d in evidence.doubts())


def test_bare_lanes_are_sample_lanes_empty_in_every_image():
    presences = [np.array([1.0, 0.9, 0.02, 0.0]), np.array([0.8, 1.1, 0.5, 0.01])]
    sample = np.array([True, True, True, True])
    assert bare_lanes(presences, sample).tolist() == [4]
    assert bare_lanes(presences, np.array([True, True, True, False])).tolist() == []


# --- through the whole run: flag, warning, verdict -------------------------------------


def _project(tmp_path, n_listed: int):
    """A membrane of 8 lanes imaged for p-X and X, with ``n_listed`` lanes in the config."""
    for name, seed in (("px.tif", 3), ("x.tif", 4)):
        blot = make_blot(n_lanes=8, pitch=40.0, height=120, noise=3.0, seed=seed)
        tifffile.imwrite(tmp_path / name, np.clip(blot.image * 20, 0, 60000).astype(np.uint16))
    lanes = [{"treatment": "DMSO" if k < 2 else "drug"} for k in range(n_listed)]
    config = {
        "pairs": [{"phospho": "p-X", "total": "X"}],
        "membranes": [
            {
                "name": "m1",
                "lanes": lanes,
                "images": [
                    {"file": "px.tif", "antibody": "p-X"},
                    {"file": "x.tif", "antibody": "X"},
                ],
            }
        ],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "c.yaml"


def test_a_wrong_lane_count_is_flagged_warned_and_shown_in_the_report(tmp_path):
    for n_listed in (7, 9):
        folder = tmp_path / str(n_listed)
        folder.mkdir()
        result = CliRunner().invoke(main, ["run", str(_project(folder, n_listed))])
        assert result.exit_code == 0, result.output
        assert "lanes in doubt on 2 image(s)" in result.stderr
        assert "Check the `lanes` list of membrane m1" in result.stderr
        bands = pd.read_csv(folder / "blotquant-results" / "bands.csv", keep_default_na=False)
        assert bands["flags"].str.contains("lanes-uncertain").all()
        ratios = pd.read_csv(folder / "blotquant-results" / "ratios.csv", keep_default_na=False)
        assert ratios["flags"].str.contains("lanes-uncertain").all()
        page = (folder / "blotquant-results" / "report.html").read_text()
        assert "Lanes are in doubt on 2 image(s)" in page
        assert "Every image file was quantified" not in page


def test_the_right_lane_count_is_not_flagged(tmp_path):
    result = CliRunner().invoke(main, ["run", str(_project(tmp_path, 8))])
    assert result.exit_code == 0, result.output
    assert "lanes in doubt" not in result.stderr
    page = (tmp_path / "blotquant-results" / "report.html").read_text()
    assert "Every image file was quantified" in page


def test_every_image_of_a_doubted_membrane_says_so_in_its_qc_picture(tmp_path):
    # the phospho image has no band in lane 8, so seven lanes fit it; the total
    # image shows all eight: only it is in doubt, and its doubt is the membrane's
    config = _project(tmp_path, 7)
    faint = make_blot(n_lanes=8, pitch=40.0, height=120, noise=3.0, seed=3,
                      amplitudes=[1000.0] * 7 + [0.0])  # fmt: skip
    tifffile.imwrite(tmp_path / "px.tif", np.clip(faint.image * 20, 0, 60000).astype(np.uint16))
    outcome = run(config, out=tmp_path / "out")
    assert all(a.lane_doubts for a in outcome.result.analyses)
    for picture in (tmp_path / "out" / "qc").glob("*.png"):
        rgb = np.asarray(Image.open(picture).convert("RGB"))
        red = (rgb[..., 0] > 200) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)
        assert red.sum() > 200, f"{picture.name} draws no lane in red"


def test_strict_run_exits_3_when_lanes_are_in_doubt_and_0_when_they_fit(tmp_path):
    wrong, right = tmp_path / "wrong", tmp_path / "right"
    wrong.mkdir()
    right.mkdir()
    result = CliRunner().invoke(main, ["run", str(_project(wrong, 9)), "--strict"])
    assert result.exit_code == 3, result.output
    assert (wrong / "blotquant-results" / "run.json").exists()
    assert CliRunner().invoke(main, ["run", str(_project(right, 8)), "--strict"]).exit_code == 0
