"""report.html: self-contained, escaped, and rendered by a real browser."""

from __future__ import annotations

import base64
import io
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blotquant.api import run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "results"
    run(ROOT / "configs" / "demo.yaml", out=out)
    return out / "report.html"


def test_report_is_self_contained(demo_report):
    text = demo_report.read_text(encoding="utf-8")
    # nothing is loaded from the network: every picture is embedded
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    images = re.findall(r"<img[^>]*src=\"([^\"]+)\"", text)
    # 2 pair plots, 2 dose-response plots, 10 QC thumbnails
    assert len(images) >= 14
    assert all(
        src.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for src in images
    )
    # each thumbnail links to its full-size QC picture beside the page
    links = re.findall(r"<a href=\"([^\"]+)\"", text)
    assert len(links) == len(list((demo_report.parent / "qc").glob("*.png"))) > 0
    assert all((demo_report.parent / link).is_file() for link in links)
    assert text.count("fitted curves over every lane") == 2  # both pairs have a linsitinib fit
    for pair in ("p-IGF-1R/IGF-1R", "p-AKT/AKT"):
        assert pair in text
    assert "Dose-response" in text and "Saturated AKT band" in text and "sha256" in text


def test_results_are_readable_by_colleagues(demo_report):
    mode = demo_report.stat().st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH
    assert (demo_report.parent / "qc").stat().st_mode & stat.S_IXOTH


def test_text_is_escaped(tmp_path):
    import pandas as pd

    from blotquant.models import AnalysisSettings, Experiment, Pair
    from blotquant.report_html import render_report

    ratios = pd.DataFrame(
        {"pair": ["<b>x</b>/y"], "treatment": ["<script>"], "fold_change": [1.0], "flags": [""]}
    )
    experiment = Experiment(
        config_path=tmp_path / "config.yaml",
        experiment="<i>exp</i>",
        output=tmp_path,
        analysis=AnalysisSettings(),
        pairs=(Pair("<b>x</b>", "y"),),
        control={},
        normalize_within=(),
        summary_by=(),
        membranes=(),
        measurements=(),
    )
    tables = {
        "ratios.csv": ratios,
        "summary.csv": pd.DataFrame(),
        "bands.csv": pd.DataFrame(columns=["membrane", "image"]),
    }
    run_info = {"warnings": ["<img src=x>"], "failures": []}
    page = render_report(experiment, tables, run_info, qc_dir=tmp_path)
    text = page.decode()
    assert "<script>" not in text and "<i>exp</i>" not in text and "<img src=x>" not in text
    assert "&lt;i&gt;exp&lt;/i&gt;" in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: apt-get install -y chromium")
def test_chromium_renders_the_report(demo_report, tmp_path):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", demo_report.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-500:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # text, plots and pictures, not a blank page
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", demo_report.as_uri()],
        capture_output=True,
        timeout=120,
        text=True,
    )
    assert "p-AKT/AKT" in dom.stdout and "Fold change per treatment" in dom.stdout
    # the verdict is about numbers: which lanes count, which are left out and why
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    assert re.search(r"\d+ of \d+ lane ratios count in summary.csv", text)
    assert re.search(r"rep1 lane 6 \(BMS-754807 100 parental\), p-AKT/AKT:\s+saturated", text)
    assert "Groups with fewer lanes than the config gives them" in text
    # the legend of lanes that count and lanes left out; the resistant cells' dose panel
    assert "hollow red: left out" in text
    assert text.count("fitted curves over every lane") == 2
    # (linsitinib blocks IGF-1R in both cell lines; AKT only in parental ones)
    assert text.count("panels: parental: IC50 of linsitinib; resistant: no IC50") == 1
    assert text.count("parental: IC50 of linsitinib; resistant: IC50 of linsitinib") == 1
    assert "Statistics (membranes as replicates)" in text
    # treatments are named on the QC pictures' lanes, in the page too
    assert "lane 2: DMSO 0 parental" in text


def test_a_plain_dose_series_draws_every_group(tmp_path):
    # normalize_within left at its default: the dose figure used to crash the report
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    config.pop("normalize_within")
    for membrane in config["membranes"]:
        for image in membrane["images"]:
            image["file"] = str((ROOT / "configs" / image["file"]).resolve())
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run(path, out=tmp_path / "out")
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "could not be drawn" not in text
    assert text.count("fitted curves over every lane") == 2
    # and with cell lines as groups, the resistant cells (no IC50) get their panel
    import pandas as pd

    from blotquant.report_html import _dose_plot

    ratios = pd.DataFrame(
        {
            "pair": "p/t",
            "treatment": "lin",
            "cell_line": ["P"] * 3 + ["R"] * 3,
            "dose_uM": [0.1, 1, 10] * 2,
            "fold_change": [0.8, 0.5, 0.2, 1.0, 0.95, 0.9],
        }
    )
    fits = pd.DataFrame(
        {
            "pair": "p/t",
            "treatment": "lin",
            "cell_line": ["P", "R"],
            "ic50": [1.0, np.nan],
            "hill": [1.0, np.nan],
            "top": [1.0, np.nan],
            "bottom": [0.1, np.nan],
            "note": ["", "no inhibition"],
        }
    )
    one = _dose_plot(ratios, fits, "p/t", [], "dose_uM")
    both = _dose_plot(ratios, fits, "p/t", ["cell_line"], "dose_uM")
    with (
        Image.open(io.BytesIO(base64.b64decode(both))) as two,
        Image.open(io.BytesIO(base64.b64decode(one))) as single,
    ):
        assert two.width > 1.8 * single.width
