"""`import blotquant`: the names a notebook needs, and a command line that starts fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import blotquant
import blotquant.api
import blotquant.config
import blotquant.io
import blotquant.pipeline

ROOT = Path(__file__).resolve().parents[1]


def test_the_front_door_names_the_stages():
    assert blotquant.run is blotquant.api.run
    assert blotquant.load_config is blotquant.config.load_config
    assert blotquant.read_image is blotquant.io.read_image
    assert blotquant.analyze_image is blotquant.pipeline.analyze_image
    assert set(blotquant.__all__) <= set(dir(blotquant))
    from blotquant import BlotquantError, __version__, run

    assert run is blotquant.api.run and issubclass(BlotquantError, Exception) and __version__


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        blotquant.nope  # noqa: B018


def test_the_command_line_starts_without_the_numeric_libraries():
    code = "import sys, blotquant.cli; print(sorted({'pandas', 'scipy', 'PIL'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
