"""Real exports from public repositories (``../shared/real-blots``), checked by eye.

These images have no ground truth. What is tested is what a person sees in
their QC pictures and checked once by eye: where the lanes and bands are.
The folder is not part of the project (the images are not ours to ship), so
the tests skip when it is absent.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.real_blots import ANNOTATIONS, evaluate, strip_cases
from blotquant.api import run
from blotquant.io import read_image
from blotquant.register import fingerprint, register

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-blots"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is not there")


def _run(tmp_path: Path, lanes: int, images: list[dict]) -> pd.DataFrame:
    config = {
        "pairs": [{"phospho": images[0]["antibody"], "total": images[-1]["antibody"]}],
        "control": {"treatment": "t1"},
        "membranes": [
            {
                "name": "m",
                "lanes": [{"treatment": f"t{1 + k // 2}"} for k in range(lanes)],
                "images": images,
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return run(path, out=tmp_path / "results", qc=False).bands


def test_chemidoc_pakt_and_akt(tmp_path):
    folder = REAL / "krause_westernBlot"
    bands = _run(
        tmp_path,
        10,
        [
            {"file": str(folder / "2019-03-01-WB0-pAKT4060.decoded16.tif"), "antibody": "pAKT"},
            {"file": str(folder / "05-03-2019-WB0-AKTAK9272_2.decoded16.tif"), "antibody": "AKT"},
        ],
    )
    for antibody, row in (("pAKT", 200), ("AKT", 250)):
        b = bands[bands["antibody"] == antibody].sort_values("lane")
        assert len(b) == 10
        # ten evenly loaded lanes, 44 to 45 px apart; one band row, slightly tilted
        assert np.all(np.abs(np.diff(b["lane_center"]) - 44.5) <= 2.0)
        assert np.all(np.abs(b["band_row"] - row) <= 6)
        assert (b["net_volume"] > 0).all()
        assert not b["flags"].str.contains("no-band|saturated|edge|lanes-uncertain").any()


def test_a_reprobe_imaged_days_later_is_registered_to_where_a_person_puts_its_lanes():
    # pAKT (1 March) and AKT (5 March) of one membrane, moved on the imager's tray
    annotated = {e["file"]: e["strips"][0] for e in yaml.safe_load(ANNOTATIONS.read_text())}
    names = ("2019-03-01-WB0-pAKT4060.decoded16.tif", "05-03-2019-WB0-AKTAK9272_2.decoded16.tif")
    first, second = (annotated[f"krause_westernBlot/{name}"] for name in names)
    pixels = [read_image(REAL / "krause_westernBlot" / name).pixels for name in names]
    found = register(*(fingerprint(p) for p in pixels), pitch=first["pitch"])
    assert found is not None
    columns = np.mean(np.subtract(second["lanes"], first["lanes"]))  # 8.2
    rows = np.mean(np.subtract(second["band_rows"], first["band_rows"]))  # 49.0
    assert found.columns == pytest.approx(columns, abs=1.5)
    assert found.rows == pytest.approx(rows, abs=1.5)


def test_strip_whose_band_drifts_down_across_the_lanes(tmp_path):
    # chibidragon's second strip: 12 lanes, dark bands on light, the band
    # sinks about 80 rows from lane 1 to lane 12 (checked in the QC picture)
    bands = _run(
        tmp_path,
        12,
        [
            # (the strip twice, as both halves of a pair: it is a membrane of its own)
            {"file": str(REAL / "chibidragon_wbq" / "test_image2.png"), "antibody": "A"},
            {"file": str(REAL / "chibidragon_wbq" / "test_image2.png"), "antibody": "B"},
        ],
    )
    b = bands[bands["antibody"] == "B"].sort_values("lane")
    rows = b["band_row"].to_numpy()
    assert np.all(np.diff(rows) >= -2.0)
    assert rows[-1] - rows[0] >= 60
    assert (b["net_volume"] > 0).all()
    assert np.all(np.abs(np.diff(b["lane_center"]) - 90.0) <= 8.0)


def test_bands_that_slope_away_from_the_band_rows_are_not_taken_for_bare_lanes(tmp_path):
    # the same strip with its 13 lanes: the bands of lanes 10-12 sit 40-60 rows
    # below those of lanes 1-6, outside the rows that hold most band signal;
    # their boxes follow them, and so does the test for a lane never loaded
    bands = _run(
        tmp_path,
        13,
        [
            {"file": str(REAL / "chibidragon_wbq" / "test_image2.png"), "antibody": "A"},
            {"file": str(REAL / "chibidragon_wbq" / "test_image2.png"), "antibody": "B"},
        ],
    )
    assert not bands["flags"].str.contains("lanes-uncertain").any()


# --- every annotated strip: lanes where a person puts them, or flagged ----------------

CASES = strip_cases()
#: Strips whose lanes blotquant finds right today (within a quarter pitch of the
#: person's): they must stay right, not merely flagged.
MUST_BE_RIGHT = {
    "krause_westernBlot/2019-03-01-WB0-pAKT4060.decoded16.tif:pAKT",
    "krause_westernBlot/WB0-pAKT.png:pAKT",
    "krause_westernBlot/05-03-2019-WB0-AKTAK9272_2.decoded16.tif:AKT",
    "krause_westernBlot/WB0-AKT.png:AKT",
    *(f"blotter_avg/signal.tiff:{s}" for s in ("strip1", "strip2", "strip3", "strip4")),
    *(f"blotter_avg/signal.tiff:{s}" for s in ("strip5_doublet", "strip6")),
    "chibidragon_wbq/test_image.png:strip1",
    "chibidragon_wbq/test_image2.png:strip1",
    "facuperezt_wba/img_2band.jpeg:upper_band",
    "facuperezt_wba/img_2band.jpeg:lower_band",
    "GelBox/test_gel_image.tif:upper_band",
    "GelBox/test_gel_image.tif:lower_band",
    *(f"aidanzhou1_film/05152020_3_827_YY.jpeg:{s}" for s in ("pAKT_S473", "pERK_doublet")),
    "aidanzhou1_film/05152020_3_827_YY.jpeg:pH2AX_upper",
    *(f"aidanzhou1_film/11052019.jpeg:{f}_{s}" for f in "ABC" for s in ("upper", "mid", "actin")),
    "athenaz2_misc/aTub_chemiluminescence.tif:alpha_tubulin",
    "athenaz2_misc/Orb2_aTub_chemiluminescence.tif:Orb2",
    "athenaz2_misc/Orb2_aTub_chemiluminescence.tif:alpha_tubulin_merged",
    # dark bands on paper white: the white is not saturation (clipped-export)
    "athenaz2_misc/SCC25DDP_BMI1.jpg:BMI1",
    "athenaz2_misc/SCC25DDP_GAPDH.jpg:GAPDH",
}
_PARAMS = [pytest.param(case, id=case.name) for case in CASES]


@functools.cache
def _evaluated(name: str) -> dict:
    """Run one annotated strip once for every test that looks at it."""
    return evaluate(next(case for case in CASES if case.name == name))


@pytest.mark.parametrize("case", _PARAMS)
def test_lanes_are_where_a_person_puts_them_or_flagged(case):
    result = _evaluated(case.name)
    assert result["verdict"] in ("right", "flagged"), result
    if case.name in MUST_BE_RIGHT:
        assert result["verdict"] == "right", result


#: Saturation checked by eye in the QC pictures: lanes whose band has a plateau
#: at the limit (black cores of dark bands, pixel counts piled up at 0), and
#: exports with pixels at a limit that are not saturation.
SATURATED_LANES = {
    # contrast-stretched 8-bit exports: one lone pixel at 255 each, the 16-bit
    # raw files of the same blots have no saturation
    "krause_westernBlot/WB0-pAKT.png:pAKT": "",
    "krause_westernBlot/WB0-AKT.png:AKT": "",
    "krause_westernBlot/2019-03-01-WB0-pAKT4060.decoded16.tif:pAKT": "",
    # paper white around dark bands with black cores (115 and 200 pixels at 0
    # against 28 and 29 at 1); the white is the membrane's limit, not saturation
    "athenaz2_misc/SCC25DDP_BMI1.jpg:BMI1": "1,2,3,4",
    "athenaz2_misc/SCC25DDP_GAPDH.jpg:GAPDH": "1,2,3,4",
    # a white line down the image's edge (897 pixels at 255) is not a band; the
    # tubulin bands of lanes 1, 3 and 4 have black cores, lane 2 has none
    "athenaz2_misc/aTub_chemiluminescence.tif:alpha_tubulin": "1,3,4",
    "athenaz2_misc/Orb2_aTub_chemiluminescence.tif:alpha_tubulin_merged": "1,2,3,4,5",
    "facuperezt_wba/img_2band.jpeg:upper_band": "",
    "GelBox/test_gel_image.tif:upper_band": "",
}


@pytest.mark.parametrize("name", sorted(SATURATED_LANES))
def test_saturation_is_a_plateau_at_the_detectors_limit(name):
    flags = dict(word.split(":") for word in _evaluated(name)["band_flags"].split() if ":" in word)
    assert flags.get("saturated", "") == SATURATED_LANES[name], flags


def test_dark_bands_on_paper_white_are_measured_and_the_clipped_export_said():
    flags = _evaluated("athenaz2_misc/SCC25DDP_BMI1.jpg:BMI1")["band_flags"]
    assert "clipped-export:1,2,3,4" in flags


def test_gelbox_doublets_are_boxed_whole_or_split_at_the_dip(tmp_path):
    # six lanes, each a doublet about 32 rows apart (annotated upper ~85, lower ~117)
    annotated = {e["file"]: e["strips"] for e in yaml.safe_load(ANNOTATIONS.read_text())}
    upper, lower = annotated["GelBox/test_gel_image.tif"][:2]
    image = str(REAL / "GelBox" / "test_gel_image.tif")
    bands = _run(
        tmp_path,
        6,
        [
            {"file": image, "antibody": "both", "band_rows": [50, 150]},
            {"file": image, "antibody": "upper", "band_rows": [50, 150], "band": "upper"},
        ],
    )
    both = bands[bands["antibody"] == "both"].sort_values("lane")
    assert both["flags"].str.contains("doublet").sum() >= 4
    # every box holds both bands of its lane, with membrane above and below
    assert (both["band_top"].to_numpy() < np.array(upper["band_rows"]) - 5).all()
    assert (both["band_bottom"].to_numpy() > np.array(lower["band_rows"]) + 5).all()
    one = bands[bands["antibody"] == "upper"].sort_values("lane")
    share = one["net_volume"].to_numpy() / both["net_volume"].to_numpy()
    assert ((share > 0.3) & (share < 0.85)).all(), share
    assert np.abs(one["band_row"].to_numpy() - upper["band_rows"]).max() <= 4


def test_a_tight_crop_of_doublets_takes_the_same_band_in_every_lane(tmp_path):
    # facuperezt img_2band: three lanes of doublets; lane 1's upper band is faint.
    # Once, the box took the lower band in lane 1 and the upper one in lanes 2-3
    image = str(REAL / "facuperezt_wba" / "img_2band.jpeg")
    bands = _run(
        tmp_path,
        3,
        [{"file": image, "antibody": "both"}, {"file": image, "antibody": "up", "band": "upper"}],
    )
    both = bands[bands["antibody"] == "both"].sort_values("lane")
    up = bands[bands["antibody"] == "up"].sort_values("lane")
    assert np.ptp(both["band_top"]) <= 2 and np.ptp(both["band_bottom"]) <= 2
    share = up["net_volume"].to_numpy() / both["net_volume"].to_numpy()
    assert np.ptp(share) <= 0.1 and (share > 0.4).all() and (share < 0.8).all(), share
