"""The results folder: one complete run in it at a time, and only blotquant's files touched.

A run builds its whole result set (CSVs, ``qc/``, ``report.html``, ``run.json``)
in a hidden staging folder inside the output folder, then switches it in:

1. the names blotquant owns in the folder are recorded in ``.blotquant``;
2. the old seal, ``run.json``, is removed;
3. the previous run's files that this run does not write are removed;
4. the new files and ``qc/`` are renamed into place;
5. the new ``run.json`` is renamed in last: it is the seal.

Ctrl-C and SIGTERM wait for the switch (a few renames) to finish. So the
folder holds the old complete set, or the new one, with its ``run.json``;
only a hard kill or a power cut inside the switch leaves a folder without
``run.json``, which says that no complete set is there (the next run
finishes the clean-up). Files and folders that blotquant did not write are
never overwritten or removed: a run that would have to refuses, before it
analyses anything. Two runs into one folder at once: the second refuses.
The QC pictures are drawn in :mod:`blotquant.qc`, the page in
:mod:`blotquant.report_html`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blotquant._version import __version__
from blotquant.errors import BlotquantError
from blotquant.models import PRISM_DIR, QC_DIR, STAGING_PREFIX

#: Files a run may write in its output folder.
RESULT_FILES = (
    "bands.csv",
    "ratios.csv",
    "summary.csv",
    "summary_wide.csv",
    "dose_response.csv",
    "standards.csv",
    "stats.csv",
    "exposures.csv",
    "report.html",
    "run.json",
)
#: Folders a run may write in its output folder.
RESULT_DIRS = (QC_DIR, PRISM_DIR)
#: The seal: present only beside a complete set of results.
SEAL = "run.json"
#: Names blotquant wrote in this folder (JSON), so a run never touches anything else.
MARKER = ".blotquant"
#: Held by the run writing into the folder (its process id inside).
LOCK = ".blotquant.lock"


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


#: Significant digits of the numbers in the CSVs: far beyond what a blot can
#: tell, short enough to read (1498104.7, not 1498104.6999999997).
CSV_DIGITS = 10


def _csv_bytes(table: pd.DataFrame) -> bytes:
    text = table.to_csv(index=False, lineterminator="\n", float_format=f"%.{CSV_DIGITS}g")
    return text.encode()


def owned_names(out: Path) -> set[str]:
    """Names in ``out`` that blotquant wrote (files and the ``qc`` folder).

    Read from the ``.blotquant`` marker; a folder written before the marker
    existed is recognised by its ``run.json`` naming a blotquant version.
    """
    marker = out / MARKER
    with contextlib.suppress(OSError, ValueError, TypeError):
        names = json.loads(marker.read_text())["owned"]
        return {str(n) for n in names if isinstance(n, str) and "/" not in n}
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        if "blotquant_version" in json.loads((out / SEAL).read_text()):
            return {n for n in (*RESULT_FILES, *RESULT_DIRS) if (out / n).exists()}
    return set()


class ResultsFolder:
    """Stage a run's results and switch them into the output folder whole.

    Use as a context manager: entering checks the folder (refusing one that
    is a file, is being written by another run, or holds result names that
    blotquant did not write) and makes the staging folder; :meth:`add` and
    :meth:`add_table` stage files, :attr:`qc_dir` takes the QC pictures,
    :meth:`commit` switches the set in. Leaving without a commit leaves the
    previous results as they were.

    Parameters
    ----------
    out : Path
        Output folder (made if missing).
    inputs : iterable of Path, optional
        The run's input files: a run refuses to write where it would replace one.
    """

    def __init__(self, out: Path, *, inputs: Iterable[Path] = ()):
        self.out = out
        self.inputs = tuple(inputs)
        self.staging: Path | None = None
        self._locked = False
        self._staged: set[str] = set()

    @property
    def qc_dir(self) -> Path:
        """Staging folder for the QC pictures (becomes ``out/qc``)."""
        if self.staging is None:
            raise RuntimeError("ResultsFolder used outside its with-block")
        return self.staging / QC_DIR

    def __enter__(self) -> ResultsFolder:
        out = self.out
        if out.exists() and not out.is_dir():
            raise BlotquantError(
                f"The output path {out} is an existing file, not a folder. Nothing was written. "
                "Choose a folder with --out (or `output:` in the config)."
            )
        with _writing(out, "create the output folder"):
            out.mkdir(parents=True, exist_ok=True)
        self._refuse_inputs()
        try:
            self._lock()
            _clean_leftovers(out)
            self._refuse_foreign()
            with _writing(out, "write in the output folder"):
                self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
                os.chmod(self.staging, 0o777 & ~_umask())
                self.qc_dir.mkdir()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._unlock()

    def add(self, name: str, data: bytes) -> None:
        """Stage one result file (``name`` may be ``folder/file`` for a results folder)."""
        with _writing(self.out, f"write {name}"):
            write_atomic(self._stage_path(name), data)
        self._staged.add(name.split("/")[0])

    def add_picture(self, name: str, data: bytes) -> None:
        """Stage one QC picture."""
        with _writing(self.out, f"write the QC picture {name}"):
            (self.qc_dir / name).write_bytes(data)

    def add_table(self, name: str, table: pd.DataFrame) -> None:
        """Stage one result table as CSV."""
        self.add(name, _csv_bytes(table))

    def commit(self, run_info: dict[str, Any]) -> None:
        """Switch the staged set in, ``run.json`` (from ``run_info``) last.

        Ctrl-C and SIGTERM arriving meanwhile take effect when it is done.
        """
        text = json.dumps(run_info, indent=2, default=_json_default, allow_nan=False)
        self.add(SEAL, (text + "\n").encode())
        new = {*self._staged, QC_DIR}
        out, staging = self.out, self._stage_path("")
        with _signals_deferred(), _writing(out, "replace the results"):
            old = owned_names(out)
            theirs = sorted(n for n in new - old if os.path.lexists(out / n))
            if theirs:
                raise _foreign_error(out, theirs)
            write_atomic(out / MARKER, _marker(old | new))
            (out / SEAL).unlink(missing_ok=True)
            for name in sorted(old - new):
                _remove(out / name)
            trash = staging / ".previous"
            trash.mkdir()
            for name in sorted(new - {SEAL}):
                if (out / name).is_dir() and not (out / name).is_symlink():
                    os.replace(out / name, trash / name)  # a folder is replaced whole
                os.replace(staging / name, out / name)
            os.replace(staging / SEAL, out / SEAL)
            write_atomic(out / MARKER, _marker(new))
            shutil.rmtree(trash, ignore_errors=True)

    def _stage_path(self, name: str) -> Path:
        if self.staging is None:
            raise RuntimeError("ResultsFolder used outside its with-block")
        return self.staging / name

    def _refuse_inputs(self) -> None:
        """Refuse an output folder that holds any of the run's inputs.

        The output folder is results only: raw exports inside it could be
        replaced by a result, or read back as input by the next run's glob.
        """
        out = self.out.resolve()
        inside = [p for p in self.inputs if out in p.resolve().parents]
        if inside:
            more = f" (and {len(inside) - 1} more)" if len(inside) > 1 else ""
            raise BlotquantError(
                f"The output folder {self.out} holds this run's input {inside[0]}{more}. "
                "Nothing was written. Results go into a folder of their own, apart from "
                "the images: set --out (or `output:` in the config) to a new folder, "
                "e.g. results/ beside the images' folder."
            )

    def _refuse_foreign(self) -> None:
        """Refuse a folder whose result names hold files blotquant did not write."""
        owned = owned_names(self.out)
        foreign = [
            name
            for name in (*RESULT_FILES, *RESULT_DIRS)
            if name not in owned and os.path.lexists(self.out / name)
        ]
        if foreign:
            raise _foreign_error(self.out, foreign)

    def _lock(self) -> None:
        lock = self.out / LOCK
        for _attempt in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = _lock_owner(lock)
                # (a lock without its pid yet is a run that is just starting)
                if (pid is not None and _alive(pid)) or (pid is None and _fresh(lock)):
                    who = f"process {pid}" if pid is not None else "just starting"
                    raise BlotquantError(
                        f"Another blotquant run ({who}) is writing into {self.out}. "
                        "Nothing was written. Wait for it to finish, or choose another "
                        f"folder with --out. (If no run is going on, delete {lock}.)"
                    ) from None
                lock.unlink(missing_ok=True)  # left by a run that was killed
                continue
            except OSError as exc:
                raise _write_error(self.out, "write in the output folder", exc) from exc
            self._locked = True
            with _writing(self.out, "write in the output folder"), os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return
        raise BlotquantError(f"Cannot lock the output folder {self.out}; try again.")

    def _unlock(self) -> None:
        if self._locked:
            (self.out / LOCK).unlink(missing_ok=True)
            self._locked = False


def _foreign_error(out: Path, names: Sequence[str]) -> BlotquantError:
    listed = ", ".join(f"{n}/" if (out / n).is_dir() else n for n in names)
    return BlotquantError(
        f"The output folder {out} already holds {listed}, which blotquant did not write. "
        "Nothing was written or removed. Choose a new or empty folder with --out (or "
        "`output:` in the config), or move those files away."
    )


def _marker(names: set[str]) -> bytes:
    text = json.dumps({"written_by": "blotquant", "owned": sorted(names)}, indent=1)
    return (text + "\n").encode()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _clean_leftovers(out: Path) -> None:
    """Remove what a killed run left: temporary files and staging folders (its own names only)."""
    for name in (*RESULT_FILES, MARKER):
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    for stale in out.glob(f"{STAGING_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _lock_owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _fresh(lock: Path, seconds: float = 10.0) -> bool:
    try:
        return time.time() - lock.stat().st_mtime < seconds
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then act on them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for number in caught[:1]:
            signal.raise_signal(number)


@contextlib.contextmanager
def _writing(out: Path, what: str) -> Iterator[None]:
    """Turn a failed write into a message naming the folder and what to do."""
    try:
        yield
    except OSError as exc:
        raise _write_error(out, what, exc) from exc


def _write_error(out: Path, what: str, exc: OSError) -> BlotquantError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        fix = "Free some space on that disk, or choose a folder on another disk with --out."
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = "Choose a folder you can write to with --out (or `output:` in the config)."
    else:
        fix = "Choose another folder with --out (or `output:` in the config)."
    return BlotquantError(
        f"Cannot {what} in {out}: {reason}. The previous results there, if any, are as "
        f"they were. {fix}"
    )


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
    acquisition: dict[str, dict[str, Any]] | None = None,
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
        "config": {
            **resolved_config,
            **(
                {"output": _from_config(resolved_config["output"], config_path)}
                if "output" in resolved_config
                else {}
            ),
        },
        "inputs": {
            _from_config(path, config_path): {
                "sha256": digest,
                **({"acquisition": acquisition[path]} if path in (acquisition or {}) else {}),
            }
            for path, digest in sorted(hashes.items())
        },
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


def _from_config(path: str | Path, config_path: Path) -> str:
    """Write a path relative to the config's folder where that is short, else in full.

    A project folder that is moved or shared then still reads right.
    """
    try:
        relative = os.path.relpath(Path(path).resolve(), Path(config_path).resolve().parent)
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(path) if relative.startswith(os.path.join("..", "..", "..")) else relative


def now() -> datetime:
    """Return the current time, in UTC."""
    return datetime.now(UTC)
