"""End to end through the command line, on the shipped demo."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from blotquant import __version__
from blotquant.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo.yaml"
CHECKER = ROOT.parent / "shared" / "tools" / "check_outputs.py"


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo, run once through the CLI (as a user would) for all tests here."""
    out = tmp_path_factory.mktemp("demo") / "results"
    inputs_before = _hashes(ROOT / "sample_images")
    result = CliRunner().invoke(main, ["run", str(DEMO), "--out", str(out), "--quiet"])
    return out, result, inputs_before


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_run_help_names_every_option():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--jobs", "--quiet"):
        assert option in result.output


@pytest.mark.slow
def test_demo_runs_cleanly(demo_run):
    out, result, _ = demo_run
    assert result.exit_code == 0, result.output
    for name in ("bands.csv", "ratios.csv", "summary.csv", "summary_wide.csv", "run.json"):
        assert (out / name).is_file()
    assert len(list((out / "qc").glob("*.png"))) >= 4


@pytest.mark.slow
def test_demo_meets_the_output_contract(demo_run):
    out, _, _ = demo_run
    bands = pd.read_csv(out / "bands.csv", keep_default_na=False)
    for column in (
        "membrane",
        "image",
        "antibody",
        "lane",
        "treatment",
        "sample",
        "x_left",
        "x_right",
        "band_top",
        "band_bottom",
        "raw_volume",
        "background_volume",
        "net_volume",
        "saturated_pixels",
        "flags",
    ):
        assert column in bands.columns
    # (the CSVs hold 10 significant digits: the identity holds to that, of raw_volume)
    off = (bands.raw_volume - bands.background_volume - bands.net_volume).abs()
    assert (off <= 1e-9 * bands.raw_volume.abs().clip(lower=1)).all()
    text = pd.read_csv(out / "bands.csv", dtype=str, keep_default_na=False)
    for column in ("raw_volume", "background_volume", "net_volume", "snr", "lane_center"):
        digits = text[column].str.replace(r"e.*|\D", "", regex=True).str.lstrip("0")
        assert (digits.str.len() <= 10).all(), column
    ratios = pd.read_csv(out / "ratios.csv", keep_default_na=False)
    assert ratios["pair"].str.contains("/").all()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n"] >= 1).all()
    run = json.loads((out / "run.json").read_text())
    assert run["blotquant_version"] == __version__
    assert run["complete"] is True
    assert all(len(v["sha256"]) == 64 for v in run["inputs"].values())
    # paths relative to the config where that is short: a moved project still reads
    assert all(k.startswith("../sample_images/") for k in run["inputs"])
    # a CSV that travels alone says which blotquant and which background made it
    for table in (bands, ratios, summary):
        assert (table["blotquant_version"] == __version__).all()
        assert table["background"].astype(str).str.len().gt(0).all()
    assert run["config"]["analysis"]["background"]


@pytest.mark.slow
@pytest.mark.skipif(not CHECKER.is_file(), reason="../shared/tools/check_outputs.py not present")
def test_demo_passes_the_shared_contract_checker(demo_run):
    out, _, _ = demo_run
    spec = importlib.util.spec_from_file_location("check_outputs", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check(out) == []


@pytest.mark.slow
def test_demo_shows_the_biology(demo_run):
    """Resistant cells keep AKT phosphorylated under IGF-1R inhibitors; parental do not."""
    out, _, _ = demo_run
    summary = pd.read_csv(out / "summary.csv")
    treated = summary[summary.treatment != "DMSO"]
    akt = treated[treated.pair == "p-AKT/AKT"]
    igf = treated[treated.pair == "p-IGF-1R/IGF-1R"]
    assert (igf.fold_change_mean < 0.8).all()
    resistant_akt = akt[akt.cell_line == "resistant"].fold_change_mean
    parental_akt = akt[akt.cell_line == "parental"].fold_change_mean
    assert resistant_akt.between(0.75, 1.25).all()
    assert parental_akt.median() < 0.6


@pytest.mark.slow
def test_demo_stats_show_the_resistance(demo_run):
    """Resistant over parental, membranes as replicates: p-AKT/AKT stays up, p-IGF-1R not."""
    out, _, _ = demo_run
    stats = pd.read_csv(out / "stats.csv")
    between = stats[(stats.comparison == "between cell_line") & stats.a.str.contains("linsitinib")]
    akt = between[between.pair == "p-AKT/AKT"]
    igf = between[between.pair == "p-IGF-1R/IGF-1R"]
    assert len(akt) == len(igf) == 3 and (akt.n == 3).all()
    assert (akt.p_adjusted < 0.05).all() and (akt.ci_low > 1).all()
    assert (igf.p_adjusted > 0.05).all() and ((igf.ci_low < 1) & (igf.ci_high > 1)).all()
    # two AXL membranes: the effect, and no p-value
    axl = stats[stats.pair == "AXL/total protein"]
    assert axl.p.isna().all() and axl.note.str.contains("too few").all()
    assert (stats.blotquant_version == __version__).all()


@pytest.mark.slow
def test_demo_dose_response(demo_run):
    """Linsitinib blocks AKT phosphorylation in parental cells, not in resistant ones."""
    out, _, _ = demo_run
    dr = pd.read_csv(out / "dose_response.csv")
    lin = dr[(dr.treatment == "linsitinib") & (dr.pair == "p-AKT/AKT")].set_index("cell_line")
    assert 5 < lin.loc["parental", "ic50"] < 200
    assert lin.loc["parental", "ic50_ci_low"] < lin.loc["parental", "ic50"]
    assert np.isnan(lin.loc["resistant", "ic50"])
    assert "no inhibition" in lin.loc["resistant", "note"]
    single = dr[dr.treatment == "BMS-754807"]
    assert single["ic50"].isna().all() and single["note"].str.contains("at least 3").all()


@pytest.mark.slow
def test_demo_fold_changes_match_ground_truth(demo_run):
    out, _, _ = demo_run
    truth_file = ROOT / "sample_images" / "ground_truth.csv"
    truth = pd.read_csv(truth_file)
    ratios = pd.read_csv(out / "ratios.csv", keep_default_na=False)
    clean = ratios[~ratios["flags"].str.contains("saturated")]
    true_fc = _true_fold_changes(truth, clean)
    err = np.abs(clean["fold_change"].to_numpy() - true_fc)
    phospho = (clean["kind"] == "phospho/total").to_numpy()
    assert np.nanmedian(err[phospho]) < 0.02
    assert np.nanmax(err[phospho]) < 0.1
    # expression (AXL over the stain, through the calibrator): fold changes up to 3.3,
    # so relative; the detector's slight curve inside the linear range costs about 1 %
    relative = err[~phospho] / true_fc[~phospho]
    relative = relative[np.isfinite(relative)]  # (calibrator lanes have no truth of their own)
    assert len(relative) == 16 and np.nanmedian(relative) < 0.02 and np.nanmax(relative) < 0.05


@pytest.mark.slow
def test_demo_shows_the_bypass_receptor_up_in_resistant_cells(demo_run):
    """AXL over total protein: three times higher in resistant cells, across two membranes."""
    out, _, _ = demo_run
    summary = pd.read_csv(out / "summary.csv")
    axl = summary[summary.pair == "AXL/total protein"].set_index(["cell_line", "treatment"])
    assert axl.loc[("parental", "DMSO"), "fold_change_mean"] == pytest.approx(1.0)
    assert axl.loc[("resistant", "DMSO"), "fold_change_mean"] > 2.5
    assert (axl["n"] == 4).all()  # two lanes on each of the two membranes
    standards = pd.read_csv(out / "standards.csv").set_index("antibody")
    # the top standard lies above AXL's linear range; every sample inside it
    assert standards.loc["AXL", "n_linear"] == 5 and standards.loc["AXL", "n_outside"] == 0
    assert standards.loc["AXL", "r2_linear"] > 0.99


def _true_fold_changes(truth: pd.DataFrame, ratios: pd.DataFrame) -> np.ndarray:
    """The ground-truth fold change for every row of ratios.csv."""
    column = next(c for c in ("true_fold_change", "fold_change_true") if c in truth.columns)
    pairs = truth.dropna(subset=[column])
    key = ["membrane", "lane", "pair"]
    merged = ratios[key].merge(pairs[[*key, column]], on=key, how="left")
    return merged[column].to_numpy()


@pytest.mark.slow
def test_inputs_are_never_modified(demo_run):
    _, _, before = demo_run
    assert _hashes(ROOT / "sample_images") == before


@pytest.mark.slow
def test_jobs_two_gives_identical_numbers(demo_run, tmp_path):
    out, _, _ = demo_run
    result = CliRunner().invoke(
        main, ["run", str(DEMO), "--out", str(tmp_path / "par"), "--jobs", "2", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    for name in ("bands.csv", "ratios.csv", "summary.csv"):
        assert (tmp_path / "par" / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.slow
def test_missing_image_rejects_only_that_image(tmp_path):
    work = tmp_path / "w"
    shutil.copytree(ROOT / "sample_images", work / "sample_images")
    shutil.copytree(ROOT / "configs", work / "configs")
    victim = sorted((work / "sample_images").glob("*.tif"))[0]
    victim.unlink()
    result = CliRunner().invoke(
        main, ["run", str(work / "configs" / "demo.yaml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert victim.name in result.output and "not found" in result.output
    assert "Traceback" not in result.output
    bands = pd.read_csv(tmp_path / "o" / "bands.csv")
    assert len(bands) > 0 and victim.name not in set(bands["image"].map(lambda s: Path(s).name))
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["complete"] is False and run["failures"]


def test_bad_config_is_reported_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pairs: [\n  - {phospho: p-AKT\n")
    result = CliRunner().invoke(main, ["run", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "Traceback" not in result.output


def test_out_pointing_at_a_file_is_refused(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("keep me")
    result = CliRunner().invoke(main, ["run", str(DEMO), "--out", str(target)])
    assert result.exit_code == 2 and "existing file" in result.output
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help(name):
    command = main.commands[name]
    assert command.help
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {name} ")
    assert command.help.split()[0] in result.output


def _error_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """One bad call per command, and the exact line it must print."""
    (tmp / "results.csv").write_text("keep me")
    (tmp / "empty").mkdir()
    return {
        "run": (
            ["run", str(DEMO), "--out", str(tmp / "results.csv")],
            f"The output path {tmp / 'results.csv'} is an existing file, not a folder. Nothing "
            "was written. Choose a folder with --out (or `output:` in the config).",
        ),
        "inspect": (
            ["inspect", str(tmp / "none.tif")],
            f"Image file not found: {(tmp / 'none.tif').resolve()}. Check the `file` entry in "
            "the config (paths are relative to the config file's folder).",
        ),
        "init": (
            ["init", str(tmp / "empty")],
            f"{tmp / 'empty'} holds no images (TIFF, PNG, JPEG, Image Lab .scn, GEL).",
        ),
    }


@pytest.mark.parametrize("name", ["run", "inspect", "init"])
def test_each_command_prints_one_exact_error_line(name, tmp_path):
    args, message = _error_cases(tmp_path)[name]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output == f"error: {message}\n"
    assert result.stdout == ""


def test_every_command_has_an_error_case(tmp_path):
    assert set(_error_cases(tmp_path)) == set(main.commands)


def test_a_run_says_what_it_is_doing_when_not_on_a_terminal(tmp_path):
    # a pipe, a log file or a notebook: one line per stage and per tenth of the images
    data = yaml.safe_load(DEMO.read_text())
    data["membranes"] = data["membranes"][:1]
    data["pairs"] = data["pairs"][:2]  # (the AXL pair's membranes come last)
    for image in data["membranes"][0]["images"]:
        image["file"] = str((DEMO.parent / image["file"]).resolve())
    config = tmp_path / "one.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for line in (
        "Measuring 2 image file(s)",
        "1 of 2 image file(s) measured",
        "2 of 2 image file(s) measured",
        "Drawing report.html",
        "Putting the results in place",
    ):
        assert line in result.output
    run_info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run_info["seconds"] > 0  # the whole run, report included


def test_help_has_examples_and_names_every_output():
    from blotquant.report import RESULT_DIRS, RESULT_FILES

    text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "Examples:" in text and "blotquant run config.yaml" in text
    for name in (*RESULT_FILES, *RESULT_DIRS):
        assert f"{name}" in text, name
    top = CliRunner().invoke(main, ["--help"]).output
    assert "_BLOTQUANT_COMPLETE=bash_source blotquant" in top


def test_an_interrupt_lost_in_a_clean_up_callback_stops_the_run_at_its_next_step(capsys):
    # Ctrl-C landing inside a weak reference's callback cannot stop anything there:
    # Python would print "Exception ignored ... Traceback" and go on
    import types

    from blotquant.cli import _stop_if_pending, _terminate_as_interrupt

    stopped_by: list[str] = []
    pending: list[bool] = []
    steps: list[int] = []
    with _terminate_as_interrupt(stopped_by, pending):
        sys.unraisablehook(types.SimpleNamespace(exc_value=KeyboardInterrupt(), object=None))
        assert pending == [True]
        with pytest.raises(KeyboardInterrupt):
            _stop_if_pending(pending, steps.append)(1)
    assert steps == [] and pending == [] and "Traceback" not in capsys.readouterr().err
