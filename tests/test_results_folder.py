"""The results folder: one complete run at a time, and only blotquant's own files touched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from blotquant.errors import BlotquantError
from blotquant.report import LOCK, MARKER, ResultsFolder, owned_names


def _run(out: Path, version: int, files=("bands.csv", "ratios.csv"), pictures=("a.png",)):
    """One run's worth of results: every file says which run wrote it."""
    with ResultsFolder(out) as folder:
        for name in files:
            folder.add_table(name, pd.DataFrame({"run": [version]}))
        for name in pictures:
            (folder.qc_dir / name).write_bytes(f"{version}".encode())
        folder.commit({"run": version})


def _state(out: Path) -> dict[str, str]:
    """Every visible file in the folder (qc/ included) and what it holds."""
    return {
        p.relative_to(out).as_posix(): p.read_text()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_rerun_replaces_the_whole_set(tmp_path):
    _run(tmp_path, 1, files=("bands.csv", "dose_response.csv"), pictures=("old.png", "a.png"))
    _run(tmp_path, 2)
    assert _state(tmp_path) == {
        "bands.csv": "run\n2\n",
        "ratios.csv": "run\n2\n",
        "qc/a.png": "2",
        "run.json": '{\n  "run": 2\n}\n',
    }
    # no staging folder, temporary file or lock is left; the marker lists the set
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [MARKER]
    assert owned_names(tmp_path) == {"bands.csv", "ratios.csv", "qc", "run.json"}


def test_files_blotquant_did_not_write_are_never_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "blot.tif").write_bytes(b"raw")
    _run(tmp_path, 1)
    _run(tmp_path, 2)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "exports" / "blot.tif").read_bytes() == b"raw"


@pytest.mark.parametrize("theirs", ["qc", "bands.csv", "report.html"])
def test_a_folder_holding_someone_elses_result_names_is_refused(tmp_path, theirs):
    if theirs == "qc":
        (tmp_path / "qc").mkdir()
        (tmp_path / "qc" / "gel_photo.png").write_bytes(b"lab's own")
    else:
        (tmp_path / theirs).write_text("lab's own")
    before = _state(tmp_path)
    with pytest.raises(BlotquantError, match="blotquant did not write"):
        _run(tmp_path, 1)
    assert _state(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [theirs]


def test_results_of_an_older_blotquant_are_recognised(tmp_path):
    # written before the marker existed: run.json names the version
    (tmp_path / "qc").mkdir()
    (tmp_path / "qc" / "x.png").write_bytes(b"old")
    (tmp_path / "bands.csv").write_text("old")
    (tmp_path / "run.json").write_text(json.dumps({"blotquant_version": "0.9"}))
    _run(tmp_path, 2)
    assert _state(tmp_path)["bands.csv"] == "run\n2\n"
    assert not (tmp_path / "qc" / "x.png").exists()


def test_an_output_path_that_is_a_file_is_refused_untouched(tmp_path):
    target = tmp_path / "results"
    target.write_text("precious")
    with pytest.raises(BlotquantError, match="existing file"):
        _run(target, 1)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("where", ["qc/a.png", "blot.tif", "exports/blot.tif"])
def test_an_output_folder_that_holds_an_input_is_refused(tmp_path, where):
    _run(tmp_path, 1)
    image = tmp_path / where
    image.parent.mkdir(parents=True, exist_ok=True)
    if not image.exists():
        image.write_bytes(b"raw")
    before = image.read_bytes()
    with pytest.raises(BlotquantError, match="holds this run's input"):
        with ResultsFolder(tmp_path, inputs=[image]):
            pass
    assert image.read_bytes() == before
    # beside the output folder, never inside it: fine
    with ResultsFolder(tmp_path / "results", inputs=[image]):
        pass


def test_a_second_run_at_once_is_refused_and_names_the_first(tmp_path):
    with ResultsFolder(tmp_path) as first:
        (tmp_path / LOCK).write_text(str(os.getppid()))  # a live process holds it
        with pytest.raises(BlotquantError, match=f"process {os.getppid()}"):
            ResultsFolder(tmp_path).__enter__()
        (tmp_path / LOCK).write_text(str(os.getpid()))
        first.add_table("bands.csv", pd.DataFrame({"run": [1]}))
        first.commit({"run": 1})
    assert not (tmp_path / LOCK).exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    (tmp_path / LOCK).write_text("999999999")
    _run(tmp_path, 1)
    assert _state(tmp_path)["run.json"] == '{\n  "run": 1\n}\n'


def test_a_run_that_stops_before_its_switch_leaves_the_old_set(tmp_path):
    _run(tmp_path, 1)
    before = _state(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(tmp_path) as folder:
            folder.add_table("bands.csv", pd.DataFrame({"run": [2]}))
            raise KeyboardInterrupt
    assert _state(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [MARKER]


@pytest.mark.parametrize("dies_at", range(1, 8))
def test_a_switch_cut_short_is_unsealed_and_the_next_run_whole(tmp_path, monkeypatch, dies_at):
    # a hard kill inside the switch (power cut, SIGKILL): the k-th rename never happens
    _run(tmp_path, 1, files=("bands.csv", "dose_response.csv"))
    real_replace, calls = os.replace, []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == dies_at:
            raise SystemExit("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(SystemExit):
        _run(tmp_path, 2)
    monkeypatch.setattr(os, "replace", real_replace)
    state = _state(tmp_path)
    if "run.json" in state:  # sealed: the whole old set, or the whole new one
        run = json.loads(state["run.json"])["run"]
        assert all(v == f"run\n{run}\n" for k, v in state.items() if k.endswith(".csv"))
        assert state["qc/a.png"] == str(run)
    _run(tmp_path, 3)
    assert set(_state(tmp_path)) == {"bands.csv", "ratios.csv", "qc/a.png", "run.json"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [MARKER]


def test_a_lock_whose_run_is_just_starting_is_respected(tmp_path):
    (tmp_path / LOCK).write_text("")  # created, its pid not written yet
    with pytest.raises(BlotquantError, match="just starting"):
        _run(tmp_path, 1)
    old = os.stat(tmp_path / LOCK).st_mtime - 60
    os.utime(tmp_path / LOCK, (old, old))  # a minute old and still empty: left by a crash
    _run(tmp_path, 1)
    assert not (tmp_path / LOCK).exists()
