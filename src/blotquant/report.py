"""Writing results: CSVs, QC pictures and run.json, each file atomically.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written CSV, and a
rerun replaces the whole set of results rather than mixing old and new.
The QC pictures are drawn in :mod:`blotquant.qc`.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blotquant._version import __version__
from blotquant.errors import BlotquantError

#: Files a run owns in its output folder; a rerun replaces all of them.
RESULT_FILES = (
    "bands.csv",
    "ratios.csv",
    "summary.csv",
    "summary_wide.csv",
    "dose_response.csv",
    "run.json",
    "report.html",
)
QC_DIR = "qc"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes files private (0600); results are for the whole lab
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def prepare_output(out: Path, keep: Path | None = None) -> None:
    """Make the output folder, refusing a path that is an existing file.

    Leftovers of a killed run are removed, except the staging folder ``keep``.
    """
    if out.exists() and not out.is_dir():
        raise BlotquantError(
            f"The output path {out} is an existing file, not a folder. Nothing was written. "
            "Choose a folder with --out (or `output:` in the config)."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BlotquantError(
            f"Cannot create the output folder {out}: {exc.strerror or exc}. "
            "Choose another folder with --out."
        ) from exc
    # leftovers of a run that was killed while writing (never the results themselves)
    for name in RESULT_FILES:
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    for stale in (*out.glob(".qc-*"),):
        if stale.is_dir() and stale != keep:
            shutil.rmtree(stale, ignore_errors=True)


def _csv_bytes(table: pd.DataFrame) -> bytes:
    # shortest round-trip floats: raw - background == net holds exactly in the file
    return table.to_csv(index=False, lineterminator="\n").encode()


def write_results(
    out: Path,
    tables: dict[str, pd.DataFrame],
    run_info: dict[str, Any],
    qc_pictures: dict[str, bytes],
    extra_files: dict[str, bytes] | None = None,
    qc_staging: Path | None = None,
) -> None:
    """Write the whole result set into ``out``, replacing any earlier run's files.

    QC pictures go to a fresh folder that replaces ``out/qc`` in one rename, so
    pictures of images that are no longer in the config do not linger.
    ``qc_staging`` is such a folder already holding pictures (see
    :func:`new_qc_staging`).
    """
    prepare_output(out, keep=qc_staging)
    staging = qc_staging or new_qc_staging(out)
    try:
        for name, data in qc_pictures.items():
            (staging / name).write_bytes(data)
        for name, table in tables.items():
            write_atomic(out / name, _csv_bytes(table))
        for name, data in (extra_files or {}).items():
            write_atomic(out / name, data)
        old = out / QC_DIR
        trash = None
        if old.exists():
            trash = out / f".qc-old-{os.getpid()}"
            os.replace(old, trash)
        os.replace(staging, old)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        # run.json last: its presence says the set is complete
        text = json.dumps(run_info, indent=2, default=_json_default, allow_nan=False)
        write_atomic(out / "run.json", (text + "\n").encode())
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def new_qc_staging(out: Path) -> Path:
    """Make a hidden folder in ``out`` to collect QC pictures in before they replace ``qc/``."""
    staging = Path(tempfile.mkdtemp(prefix=".qc-", dir=out))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; it becomes qc/
    return staging


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_json(
    *,
    experiment_name: str,
    config_path: Path,
    resolved_config: dict[str, Any],
    hashes: dict[str, str],
    failures: Sequence[tuple[str, str]],
    warnings: Sequence[str],
    started: datetime,
    finished: datetime,
    jobs: int,
) -> dict[str, Any]:
    """Provenance of a run: what was run, on what, when, and what went wrong."""
    return {
        "blotquant_version": __version__,
        "experiment": experiment_name,
        "config_file": str(config_path),
        "config": resolved_config,
        "inputs": {path: {"sha256": digest} for path, digest in sorted(hashes.items())},
        "started": started.astimezone(UTC).isoformat(),
        "finished": finished.astimezone(UTC).isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "jobs": jobs,
        "complete": not failures,
        "failures": [{"input": where, "message": message} for where, message in failures],
        "warnings": list(warnings),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def now() -> datetime:
    """Return the current time, in UTC."""
    return datetime.now(UTC)
