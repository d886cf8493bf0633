"""`blotquant inspect` and `blotquant init`, through the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from blotquant.cli import main
from blotquant.errors import BlotquantError
from blotquant.inspection import (
    antibody_name,
    config_snippet,
    describe,
    estimate_lane_count,
    guess_naming,
    inspect_image,
    pairs_from,
    starting_config,
)
from blotquant.io import read_image

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-blots" / "krause_westernBlot"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-blots not present")


def test_naming_guesses():
    guess = guess_naming(["rep1_pAKT.tif", "rep1_AKT.tif", "rep2_pAKT.tif", "rep2_AKT.tif"])
    assert guess.pattern == "{membrane}_{antibody}.tif"
    assert guess.membranes == ["rep1", "rep2"] and guess.antibodies == ["AKT", "pAKT"]
    guess = guess_naming(["pAKT-blot 7.png", "AKT-blot 7.png", "pAKT-blot 8.png", "AKT-blot 8.png"])
    assert guess.pattern == "{antibody}-blot {membrane}.png"
    assert guess_naming(["a.tif", "b_c.tif"]) is None
    assert antibody_name("pAKT") == "p-AKT" and antibody_name("pIGF1R") == "p-IGF-1R"
    assert pairs_from(["p-AKT", "AKT", "GAPDH"]) == [{"phospho": "p-AKT", "total": "AKT"}]


def test_inspect_on_the_demo(tmp_path):
    out = tmp_path / "qc.png"
    result = CliRunner().invoke(
        main,
        [
            "inspect",
            str(ROOT / "sample_images" / "rep3_AKT.png"),
            "--lanes",
            "14",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "dark-bands" in result.output and "lanes: 14" in result.output
    assert "config snippet" in result.output and "band_rows" in result.output
    assert out.stat().st_size > 1000


def test_inspect_missing_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "none.tif")])
    assert result.exit_code == 2 and "not found" in result.output


@needs_real
def test_inspect_on_a_real_chemidoc_export(tmp_path):
    image = REAL / "2019-03-01-WB0-pAKT4060.decoded16.tif"
    result = CliRunner().invoke(
        main, ["inspect", str(image), "--lanes", "10", "--out", str(tmp_path / "q.png")]
    )
    assert result.exit_code == 0, result.output
    rows = [
        float(line.split()[2]) for line in result.output.splitlines() if line[:4].strip().isdigit()
    ]
    assert len(rows) == 10 and all(190 < r < 215 for r in rows)  # the pAKT band row


def _run_init_then_run(folder: Path) -> str:
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    config = folder / "blotquant.yaml"
    run = CliRunner().invoke(main, ["run", str(config), "--out", str(folder / "out"), "--quiet"])
    assert run.exit_code == 0, run.output
    return config.read_text()


def test_init_on_another_imagers_naming_scheme(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    # an imager that writes "<date>_<blot>_<antibody>.tif"
    for rep in (1, 2, 3):
        for antibody in ("pAKT", "AKT"):
            shutil.copy(
                ROOT / "sample_images" / f"rep3_{antibody}.png",
                folder / f"2024-05-0{rep}_WB{rep}_{antibody}.png",
            )
    text = _run_init_then_run(folder)
    config = yaml.safe_load(text)
    batch = config["batches"][0]
    assert batch["pattern"] == "2024-05-{part1}_{membrane}_{antibody}.png"
    assert batch["antibody_aliases"] == {"pAKT": "p-AKT"}
    assert config["pairs"] == [{"phospho": "p-AKT", "total": "AKT"}]
    assert 12 <= len(batch["lanes"]) <= 16  # 14 lanes on these membranes


@needs_real
def test_init_on_real_exports(tmp_path):
    folder = tmp_path / "chemidoc"
    folder.mkdir()
    shutil.copy(REAL / "2019-03-01-WB0-pAKT4060.decoded16.tif", folder / "WB0_pAKT.tif")
    shutil.copy(REAL / "05-03-2019-WB0-AKTAK9272_2.decoded16.tif", folder / "WB0_AKT.tif")
    text = _run_init_then_run(folder)
    assert "pattern" in text or "membranes" in text


def test_init_refuses_to_overwrite(tmp_path):
    (tmp_path / "blotquant.yaml").write_text("keep")
    shutil.copy(ROOT / "sample_images" / "rep3_AKT.png", tmp_path / "a.png")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2 and "exists already" in result.output
    assert (tmp_path / "blotquant.yaml").read_text() == "keep"


def test_inspect_image_as_a_library_call():
    inspection = inspect_image(ROOT / "sample_images" / "rep3_AKT.png", n_lanes=14)
    assert inspection.n_lanes == 14 and not inspection.lanes_guessed
    assert inspection.picture.startswith(b"\x89PNG")
    assert len(inspection.analysis.bands) == 14
    text = describe(inspection)
    assert text.startswith(f"{ROOT / 'sample_images' / 'rep3_AKT.png'}: 978 x 340 px")
    snippet = config_snippet(inspection).splitlines()
    assert snippet[:3] == ["  lanes:", "    - {treatment: DMSO}", "    - {treatment: treatment-2}"]
    assert len(snippet) == 1 + 14 + 2
    assert snippet[-1].startswith("    - {file: rep3_AKT.png, antibody: ANTIBODY, band_rows: [")


def test_starting_config_for_files_named_alike(tmp_path):
    for membrane in ("WB1", "WB2"):
        for antibody in ("pAKT", "AKT"):
            shutil.copy(
                ROOT / "sample_images" / f"rep3_{antibody}.png",
                tmp_path / f"{membrane}_{antibody}.png",
            )
    start = starting_config(tmp_path)
    assert start.images_counted == 3 and 12 <= start.n_lanes <= 16
    assert start.config["batches"][0]["pattern"] == "{membrane}_{antibody}.png"
    assert start.description.startswith("4 files as pattern '{membrane}_{antibody}.png'")
    assert start.description.endswith(f"; {start.n_lanes} lanes.")
    text = start.text()
    assert text.startswith("# Starting config written by `blotquant init`.")
    assert yaml.safe_load(text) == start.config


def test_starting_config_refuses_what_is_not_a_folder_of_images(tmp_path):
    with pytest.raises(BlotquantError, match="is not a folder"):
        starting_config(tmp_path / "none")
    with pytest.raises(BlotquantError, match=r"holds no images \(TIFF, PNG, JPEG"):
        starting_config(tmp_path)


@pytest.mark.parametrize(
    ("name", "truth"), [("rep1_phospho.tif", 15), ("rep1_total.tif", 15), ("rep3_AKT.png", 14)]
)
def test_lane_count_guess_reads_every_strip(name: str, truth: int):
    # rep1_phospho holds two strips; its p-AKT strip alone spans every lane
    image = read_image(ROOT / "sample_images" / name)
    assert truth - 1 <= estimate_lane_count(image.pixels, image.ceiling) <= truth


def test_init_and_inspect_count_the_same_lanes_on_one_file(tmp_path: Path):
    shutil.copy(ROOT / "sample_images" / "rep1_phospho.tif", tmp_path / "blot.tif")
    start = starting_config(tmp_path)
    assert start.n_lanes == inspect_image(tmp_path / "blot.tif").n_lanes


def test_inspect_says_when_the_lanes_are_in_doubt():
    # (rep3_AKT.png would not do: there a fifteenth lane lands on bare membrane at the
    # image's left edge, and one image cannot tell that from an unloaded end lane)
    image = ROOT / "sample_images" / "rep3_pAKT.png"
    assert "lanes in doubt" not in describe(inspect_image(image, n_lanes=14))
    text = describe(inspect_image(image, n_lanes=15))
    assert "lanes in doubt: " in text and "--lanes" in text


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["WB0-AKT.png", "WB0-pAKT.png"], ["AKT", "p-AKT"]),
        (["blot_phospho-AKT.png", "blot_AKT.png"], ["p-AKT", "AKT"]),
    ],
)
def test_init_on_one_membrane_names_the_antibodies_and_keeps_the_pair_the_right_way(
    tmp_path, names, expected
):
    # one membrane, two files: there is no membrane field to find, only antibodies
    folder = tmp_path / "one"
    folder.mkdir()
    for name, source in zip(names, ("rep3_AKT.png", "rep3_pAKT.png"), strict=True):
        shutil.copy(ROOT / "sample_images" / source, folder / name)
    config = yaml.safe_load(_run_init_then_run(folder))
    images = config["membranes"][0]["images"]
    assert sorted(i["antibody"] for i in images) == sorted(expected)
    assert config["pairs"] == [{"phospho": "p-AKT", "total": "AKT"}]


def test_a_name_without_the_phospho_mark_never_goes_into_phospho():
    assert pairs_from(["AKT", "GAPDH"]) == []
    assert pairs_from(["p-ERK", "GAPDH"]) == [{"phospho": "p-ERK", "total": "EDIT"}]
    assert antibody_name("phosphoAKT") == antibody_name("pAKT") == "p-AKT"


@needs_real
def test_init_on_the_real_one_membrane_pngs(tmp_path):
    folder = tmp_path / "krause"
    folder.mkdir()
    for name in ("WB0-AKT.png", "WB0-pAKT.png"):
        shutil.copy(REAL / name, folder / name)
    config = yaml.safe_load(_run_init_then_run(folder))
    assert config["pairs"] == [{"phospho": "p-AKT", "total": "AKT"}]


def test_init_does_not_take_an_inspect_picture_for_an_antibody(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    for name, source in (("WB0-AKT.png", "rep3_AKT.png"), ("WB0-pAKT.png", "rep3_pAKT.png")):
        shutil.copy(ROOT / "sample_images" / source, folder / name)
    shutil.copy(ROOT / "sample_images" / "rep3_AKT.png", folder / "WB0-AKT_inspect.png")
    config = yaml.safe_load(_run_init_then_run(folder))
    assert len(config["membranes"][0]["images"]) == 2


def test_init_names_a_single_membrane_by_what_its_files_share(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    for name, source in (("WB1_pAKT.png", "rep3_pAKT.png"), ("WB1_AKT.png", "rep3_AKT.png")):
        shutil.copy(ROOT / "sample_images" / source, folder / name)
    config = yaml.safe_load(_run_init_then_run(folder))
    assert config["membranes"][0]["name"] == "WB1"


def test_a_lone_phospho_gets_edit_and_run_says_what_to_write(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    for name, source in (("WB1_pAKT.png", "rep3_pAKT.png"), ("WB1_GAPDH.png", "rep3_AKT.png")):
        shutil.copy(ROOT / "sample_images" / source, folder / name)
    assert CliRunner().invoke(main, ["init", str(folder)]).exit_code == 0
    result = CliRunner().invoke(main, ["run", str(folder / "blotquant.yaml")])
    assert result.exit_code == 2
    assert "still `EDIT`" in result.output and "GAPDH" in result.output
