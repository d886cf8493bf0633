"""A real `blotquant run` process stopped or broken at bad moments.

After each: the inputs are untouched, no traceback, the right exit status,
the output folder holds the old complete set or the new complete set (never
a mix), no temporary files or lock are left, and no process lives on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc: Linux"),
]


def _config(tmp: Path, name: str, membranes: int) -> Path:
    """The demo with its first ``membranes`` membranes, beside the demo's images."""
    data = yaml.safe_load(DEMO.read_text())
    data["membranes"] = data["membranes"][:membranes]
    data["pairs"] = data["pairs"][:2]  # (the AXL pair's membranes come last)
    data["experiment"] = name
    for membrane in data["membranes"]:
        for image in membrane["images"]:
            image["file"] = str((DEMO.parent / image["file"]).resolve())
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _start(config: Path, out: Path, jobs: int = 2) -> subprocess.Popen:
    command = [sys.executable, "-m", "blotquant", "run", str(config), "--out", str(out)]
    return subprocess.Popen(
        [*command, "--quiet", "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: orphans can be found
    )


def _csvs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "sample_images").iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The old run's and the new run's complete CSVs, each run alone."""
    tmp = tmp_path_factory.mktemp("faults")
    old, new = _config(tmp, "old", 1), _config(tmp, "new", 3)
    sets = {}
    for config in (old, new):
        out = tmp / f"ref_{config.stem}"
        process = _start(config, out)
        process.communicate(timeout=120)
        assert process.returncode == 0
        sets[config.stem] = _csvs(out)
    assert sets["old"] != sets["new"]
    return tmp, old, new, sets


def _check_whole(out: Path, sets: dict[str, dict[str, bytes]]) -> str:
    """Say which complete set the folder holds; fail on a mix or leftovers."""
    seal = json.loads((out / "run.json").read_text())
    which = seal["experiment"]
    assert _csvs(out) == sets[which], f"a mix of two runs (run.json says {which})"
    assert (out / "report.html").is_file()
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert hidden == [".blotquant"], hidden
    return which


@pytest.mark.parametrize(
    ("sig", "after", "status"),
    [
        (signal.SIGINT, 0.8, 130),
        (signal.SIGTERM, 2.0, 143),
        (signal.SIGINT, 3.2, 130),
        (signal.SIGTERM, 4.0, 143),
    ],
)
def test_a_rerun_stopped_at_any_moment_leaves_one_whole_set(reference, sig, after, status):
    tmp, old, new, sets = reference
    out = tmp / f"out_{sig.name}_{after}"
    shutil.copytree(tmp / "ref_old", out)
    inputs = _inputs_hash()
    process = _start(new, out)
    time.sleep(after)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err
    # (-sig: the signal came before Python could catch it, or while it was exiting)
    assert process.returncode in (status, 0, -sig), err
    which = _check_whole(out, sets)
    if process.returncode == status:
        assert len(err.strip().splitlines()) == 1, err
    if process.returncode == 0:
        assert which == "new"
    time.sleep(0.5)
    assert _group_alive(process.pid) == []
    assert _inputs_hash() == inputs
    # and the next run finishes the job
    process = _start(new, out)
    process.communicate(timeout=120)
    assert _check_whole(out, sets) == "new"


def test_a_worker_killed_costs_only_its_image(reference):
    tmp, _old, new, sets = reference
    out = tmp / "out_worker_killed"
    process = _start(new, out)
    deadline = time.monotonic() + 30
    victim = None
    while victim is None and time.monotonic() < deadline:
        children = [p for p in _group_alive(process.pid) if p != process.pid]
        victim = children[0] if children else None
        time.sleep(0.05)
    assert victim is not None
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err, err
    run = json.loads((out / "run.json").read_text())
    bands = (out / "bands.csv").read_text().splitlines()
    if process.returncode == 1:  # the worker was busy with an image: it is named, the rest kept
        assert "the process analysing this image stopped" in err
        assert run["failures"] and not run["complete"]
        assert 1 < len(bands) < len(sets["new"]["bands.csv"].decode().splitlines())
    else:  # the worker was idle: nothing was lost
        assert process.returncode == 0, err
        assert _csvs(out) == sets["new"]


def _dies_on_bad(task):
    from blotquant.batch import BatchAnalyses

    if task.path.name == "bad.tif":
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return BatchAnalyses(warnings=[task.path.name])


def test_an_image_that_kills_its_worker_is_named_and_the_rest_are_kept(monkeypatch):
    from types import SimpleNamespace

    from blotquant import batch

    monkeypatch.setattr(batch, "_run_file_safely", _dies_on_bad)
    names = ["a.tif", "b.tif", "bad.tif", "c.tif", "d.tif"]
    tasks = [SimpleNamespace(path=Path(n)) for n in names]
    outcomes = list(batch._in_workers(tasks, 2))
    assert [o.warnings[0] if o.warnings else None for o in outcomes] == [
        "a.tif",
        "b.tif",
        None,
        "c.tif",
        "d.tif",
    ]
    ((where, message),) = outcomes[2].failures
    assert where == "bad.tif" and "stopped" in message and "fewer --jobs" in message


def _mount(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB file system of its own (needs the right to mount one: root)."""
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not _mount(disk, "3m"):
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_full_or_read_only_disk_names_the_folder_and_keeps_the_old_set(
    reference, small_disk, fault
):
    tmp, old, new, sets = reference
    out = small_disk / "results"
    shutil.copytree(tmp / "ref_old", out)
    if fault == "full":
        with open(small_disk / "filler", "wb") as filler:
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    process = _start(new, out)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert str(out) in line
    assert ("space" if fault == "full" else "write to") in line
    assert _check_whole(out, sets) == "old"


def test_two_runs_into_one_folder_at_once_the_second_refuses(reference):
    tmp, _old, new, sets = reference
    out = tmp / "out_two_at_once"
    first = _start(new, out)
    deadline = time.monotonic() + 30
    while not (out / ".blotquant.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = _start(new, out)
    _, err2 = second.communicate(timeout=60)
    _, err1 = first.communicate(timeout=120)
    assert second.returncode == 2 and f"process {first.pid}" in err2, err2
    assert "Traceback" not in err2 + err1
    assert first.returncode == 0, err1
    assert _check_whole(out, sets) == "new"
