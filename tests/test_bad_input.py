"""Bad input, case by case, through the command line.

Every case asserts the exit status, the words of the message, that nothing
else broke (the other images are still quantified and written) and that
no traceback reaches the user.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from click.testing import CliRunner
from PIL import Image

from blotquant.cli import main
from blotquant.errors import BlotquantError
from blotquant.synth import BlotSpec, StripSpec, render_blot

LANES = [{"treatment": "DMSO"}, {"treatment": "drug"}, {"treatment": "DMSO"}, {"treatment": "drug"}]


def _blot(
    seed: int,
    *,
    bits: int = 16,
    polarity: str = "light-bands",
    volume: float = 4e5,
    height: int = 140,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = 1.0 if bits == 16 else 1 / 150
    strip = StripSpec(
        "x",
        height,
        height // 2,
        [volume * scale * v for v in (1, 0.5, 1, 0.4)],
        sigma=4.0,
        background=1200 * scale,
    )
    spec = BlotSpec(
        width=220,
        strips=[strip],
        n_lanes=4,
        pitch=50,
        first_lane=35,
        read_noise=10 * scale,
        bit_depth=bits,
        polarity=polarity,
        white=(50000 if bits == 16 else 230),
    )
    return render_blot(spec, rng)[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two membranes, each with a phospho and a total image, and a valid config."""
    for k, membrane in enumerate(("m1", "m2")):
        for j, antibody in enumerate(("pX", "X")):
            tifffile.imwrite(tmp_path / f"{membrane}_{antibody}.tif", _blot(10 * k + j))
    config = {
        "pairs": [{"phospho": "p-X", "total": "X"}],
        "control": {"treatment": "DMSO"},
        "membranes": [
            {
                "name": m,
                "lanes": LANES,
                "images": [
                    {"file": f"{m}_pX.tif", "antibody": "p-X"},
                    {"file": f"{m}_X.tif", "antibody": "X"},
                ],
            }
            for m in ("m1", "m2")
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return tmp_path


def _config(project: Path) -> dict:
    return yaml.safe_load((project / "config.yaml").read_text())


def _write(project: Path, config: dict) -> None:
    (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _run(project: Path, *extra: str):
    result = CliRunner().invoke(
        main, ["run", str(project / "config.yaml"), "--out", str(project / "out"), *extra]
    )
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result


def _bands(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "out" / "bands.csv", keep_default_na=False)


def _assert_others_ran(project: Path, bad_image: str) -> None:
    bands = _bands(project)
    assert bad_image not in set(bands["image"])
    assert len(bands) >= 4 * 3  # the three good images of the four
    run = json.loads((project / "out" / "run.json").read_text())
    assert run["complete"] is False
    assert any(bad_image in f["input"] for f in run["failures"])


# --- config problems: exit 2, nothing analysed, every problem listed ------------------------


def test_config_that_is_not_yaml(project):
    (project / "config.yaml").write_text("pairs: [\n  - {phospho: p-X\n")
    result = _run(project)
    assert result.exit_code == 2
    assert "config.yaml" in result.output and "line" in result.output
    assert not (project / "out").exists()


def test_empty_config(project):
    (project / "config.yaml").write_text("")
    result = _run(project)
    assert result.exit_code == 2 and "empty" in result.output


def test_wrong_type_and_unknown_key_are_reported_together(project):
    config = _config(project)
    config["membranes"][0]["images"][0]["channel"] = "abc"
    config["membranes"][1]["images"][1]["band_row"] = [10, 50]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2
    assert "2 problems" in result.output
    assert "membranes[0].images[0].channel" in result.output and "'abc'" in result.output
    assert "band_row" in result.output and "band_rows" in result.output


def test_sample_lane_without_treatment(project):
    config = _config(project)
    config["membranes"][0]["lanes"][1] = {"dose_nM": 10}
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "treatment" in result.output and "lanes[1]" in result.output


def test_duplicate_membrane_names(project):
    config = _config(project)
    config["membranes"][1]["name"] = "m1"
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "m1" in result.output and "already used" in result.output


def test_pair_naming_an_antibody_no_image_has(project):
    config = _config(project)
    config["pairs"][0]["total"] = "XX"
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "XX" in result.output and "Did you mean" in result.output


def test_band_rows_upside_down(project):
    config = _config(project)
    config["membranes"][0]["images"][1]["band_rows"] = [90, 40]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "upside down" in result.output


def test_lane_centers_count_does_not_match_lanes(project):
    config = _config(project)
    config["membranes"][0]["images"][1]["lane_centers"] = [30, 80, 130]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "lane_centers" in result.output and "4 lanes" in result.output


def test_batch_glob_that_matches_nothing(project):
    config = _config(project)
    config["batches"] = [
        {"files": "exports/*.tif", "pattern": "{membrane}_{antibody}.tif", "lanes": LANES}
    ]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "exports/*.tif" in result.output
    assert "matches no file" in result.output


def test_batch_file_the_pattern_does_not_fit(project):
    (project / "exports").mkdir()
    for name in ("m3_pX.tif", "m3_X.tif", "m3-X-old.tif"):
        tifffile.imwrite(project / "exports" / name, _blot(5))
    config = _config(project)
    config["batches"] = [
        {
            "files": "exports/*.tif",
            "pattern": "{membrane}_{antibody}.tif",
            "antibody_aliases": {"pX": "p-X"},
            "lanes": LANES,
        }
    ]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 2 and "m3-X-old.tif" in result.output
    assert "pattern" in result.output


# --- problems found in the images: exit 1, the other images still run -----------------------


def test_band_rows_outside_the_image(project):
    config = _config(project)
    config["membranes"][1]["images"][0]["band_rows"] = [100, 900]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 1
    assert "m2_pX.tif" in result.output and "band_rows" in result.output
    assert "outside the image" in result.output
    _assert_others_ran(project, "m2_pX.tif")


def test_region_rows_outside_the_image(project):
    config = _config(project)
    image = config["membranes"][1]["images"][1]
    del image["antibody"]
    image["regions"] = [{"antibody": "X", "rows": [0, 500]}]
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 1 and "rows" in result.output and "m2_X.tif" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_channel_beyond_the_image(project):
    config = _config(project)
    config["membranes"][1]["images"][0]["channel"] = 3
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 1 and "channel: 3" in result.output
    assert "0 to 0" in result.output
    _assert_others_ran(project, "m2_pX.tif")


def test_missing_image(project):
    (project / "m2_X.tif").unlink()
    result = _run(project)
    assert result.exit_code == 1
    assert "not found" in result.output and str((project / "m2_X.tif").resolve()) in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_truncated_tiff(project):
    data = (project / "m2_X.tif").read_bytes()
    (project / "m2_X.tif").write_bytes(data[: len(data) // 2])
    result = _run(project)
    assert result.exit_code == 1 and "m2_X.tif" in result.output
    assert "truncated or damaged" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_file_that_is_not_an_image(project):
    (project / "m2_X.tif").write_text("lane\ttreatment\n1\tDMSO\n")
    result = _run(project)
    assert result.exit_code == 1 and "not a TIFF, PNG, JPEG or Image Lab" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_float_image_with_nan(project):
    data = _blot(11).astype(np.float32)
    data[5, 5] = np.nan
    tifffile.imwrite(project / "m2_X.tif", data)
    result = _run(project)
    assert result.exit_code == 1 and "NaN or infinite" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_32bit_integer_image_out_of_range(project):
    tifffile.imwrite(project / "m2_X.tif", _blot(11).astype(np.uint32) * 100)
    result = _run(project)
    assert result.exit_code == 1 and "32-bit integers" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_image_too_small_for_its_lanes(project):
    tifffile.imwrite(project / "m2_X.tif", _blot(11)[:, :20])
    result = _run(project)
    assert result.exit_code == 1 and "too narrow for the 4 lanes" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_all_constant_image(project):
    tifffile.imwrite(project / "m2_X.tif", np.full((140, 220), 1000, np.uint16))
    result = _run(project)
    assert result.exit_code == 1 and "blank" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_all_saturated_image(project):
    data = np.full((140, 220), 65535, np.uint16)
    data[::9, ::7] = 2000
    tifffile.imwrite(project / "m2_X.tif", data)
    result = _run(project)
    assert result.exit_code == 1 and "shorter exposure" in result.output
    _assert_others_ran(project, "m2_X.tif")


def test_header_claiming_more_pixels_than_memory_allows(project, monkeypatch):
    import blotquant.io

    monkeypatch.setattr(blotquant.io, "MAX_IMAGE_BYTES", 10_000)
    result = _run(project)
    assert result.exit_code == 1 and "more than blotquant will load" in result.output


# --- conversions and warnings that matter to the science: exit 0 -----------------------------


def test_rgb_and_rgba_are_converted_with_a_warning(project):
    gray = (_blot(11) // 256).astype(np.uint8)
    Image.fromarray(np.dstack([gray] * 3)).save(project / "m2_X.png")
    Image.fromarray(np.dstack([gray] * 3 + [np.full_like(gray, 255)]), "RGBA").save(
        project / "m2_pX.png"
    )
    config = _config(project)
    config["membranes"][1]["images"][0]["file"] = "m2_pX.png"
    config["membranes"][1]["images"][1]["file"] = "m2_X.png"
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 0, result.output
    assert "RGB colour image" in result.output and "RGBA colour image" in result.output
    assert len(_bands(project)) == 16


def test_jpeg_and_8bit_warnings(project):
    Image.fromarray(_blot(11, bits=8)).save(project / "m2_X.jpg", quality=95)
    config = _config(project)
    config["membranes"][1]["images"][1]["file"] = "m2_X.jpg"
    _write(project, config)
    result = _run(project)
    assert result.exit_code == 0
    assert "lossy" in result.output and "8-bit" in result.output


def test_saturated_band_and_flagged_control_warnings(project):
    data = _blot(11, volume=3e7)  # peaks far above 65535: clipped
    tifffile.imwrite(project / "m2_X.tif", data)
    result = _run(project)
    assert result.exit_code == 0
    assert "Saturated X band(s) on m2" in result.output
    assert "Control lanes of m2" in result.output
    ratios = pd.read_csv(project / "out" / "ratios.csv", keep_default_na=False)
    assert ratios[ratios.membrane == "m2"]["flags"].str.contains("control-flagged").all()


def test_band_touching_the_image_edge_is_flagged(project):
    tifffile.imwrite(project / "m2_X.tif", _blot(11)[52:, :])  # band now near the top
    result = _run(project)
    assert result.exit_code == 0
    assert "touch the edge" in result.output
    assert _bands(project).query("image == 'm2_X.tif'")["flags"].str.contains("edge").any()


# --- behaviour: outputs, reruns, interruptions, inputs ----------------------------------------


def test_out_that_is_an_existing_file_is_refused_untouched(project):
    (project / "out").write_text("keep")
    result = _run(project)
    assert result.exit_code == 2 and "existing file" in result.output
    assert (project / "out").read_text() == "keep"


def test_rerun_into_the_same_folder_replaces_the_results(project):
    assert _run(project).exit_code == 0
    first_qc = sorted(p.name for p in (project / "out" / "qc").iterdir())
    config = _config(project)
    config["membranes"] = config["membranes"][:1]
    _write(project, config)
    assert _run(project).exit_code == 0
    assert set(_bands(project)["membrane"]) == {"m1"}
    second_qc = sorted(p.name for p in (project / "out" / "qc").iterdir())
    assert len(second_qc) == 2 and len(first_qc) == 4
    assert [p.name for p in (project / "out").iterdir() if p.name.startswith(".")] == [".blotquant"]


def test_interrupted_run_leaves_the_previous_results_whole(project, monkeypatch):
    assert _run(project).exit_code == 0
    before = {p.name: p.read_bytes() for p in (project / "out").iterdir() if p.is_file()}
    import blotquant.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(blotquant.api, "run_experiment", interrupted)
    result = _run(project)
    assert result.exit_code == 130 and "interrupted" in result.output
    after = {p.name: p.read_bytes() for p in (project / "out").iterdir() if p.is_file()}
    assert after == before


def test_inputs_are_never_modified(project):
    def digest() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in project.glob("*.tif")}

    before = digest()
    assert _run(project, "--jobs", "2").exit_code == 0
    assert digest() == before
    run = json.loads((project / "out" / "run.json").read_text())
    assert {Path(k).name: v["sha256"] for k, v in run["inputs"].items()} == before


def test_a_file_counts_as_quantified_only_when_all_its_antibodies_are(project):
    from blotquant.api import run

    config = _config(project)
    image = config["membranes"][1]["images"][1]
    del image["antibody"]
    image["regions"] = [{"antibody": "X", "rows": [0, 140]}, {"antibody": "Y", "rows": [0, 500]}]
    _write(project, config)
    (project / "m1_X.tif").unlink()
    outcome = run(project / "config.yaml", out=project / "out")
    assert (outcome.files_total, outcome.files_quantified) == (4, 2)
    assert len(outcome.failures) == 2
    assert "2 of 4 image file(s) quantified" in _run(project).output


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_or_an_endless_file_is_refused_at_once(tmp_path):
    from blotquant.io import read_image

    result = CliRunner().invoke(main, ["run", "/dev/zero"])
    assert result.exit_code == 2 and "not a regular file" in result.output
    big = tmp_path / "huge.yaml"
    big.write_bytes(b"#" * 6_000_000)
    result = CliRunner().invoke(main, ["run", str(big)])
    assert result.exit_code == 2 and "over 5 MB" in result.output
    with pytest.raises(BlotquantError, match="not a regular file"):
        read_image("/dev/zero")


@pytest.mark.parametrize(
    ("shape", "words"),
    [((1, 1), "cannot hold a blot"), ((100_000, 10), "cannot hold"), ((40_000, 40), "longer")],
)
def test_images_too_small_or_too_long_are_refused_in_seconds(tmp_path, shape, words):
    from blotquant.io import read_image

    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, np.full(shape, 7, np.uint16))
    with pytest.raises(BlotquantError, match=words):
        read_image(path)
