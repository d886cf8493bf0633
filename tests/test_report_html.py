"""report.html: self-contained, escaped, and rendered by a real browser."""

from __future__ import annotations

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
