"""Lanes on real blots against a person's: the hand annotations of ../shared/real-blots.

Every strip annotated in ``tests/data/real_blots/annotations.yaml`` is run
through blotquant as a user would set it up: the lanes the person counted
(with their roles), and ``band_rows`` around the strip's band. Each sample
lane's centre is then compared with the person's. A strip is

* ``right``: every sample lane within a quarter pitch of the person's;
* ``flagged``: not right, and its bands carry ``lanes-uncertain`` (loud);
* ``WRONG``: not right and not flagged (silent: the defect that matters);
* ``not run``: blotquant refused the image (the message says why).

Film scans lying on their side are turned with ``rotate``, and an image
holding several gels or films is cut to the strip's with ``crop``, as a user
would write them.

Run ``python benchmarks/real_blots.py`` (the images are not part of the
project; they must sit in ``../shared/real-blots`` beside the checkout).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from blotquant.api import run
from blotquant.errors import BlotquantError
from blotquant.io import read_image
from blotquant.tables import LANES_UNCERTAIN

HERE = Path(__file__).resolve().parent
ANNOTATIONS = HERE.parent / "tests" / "data" / "real_blots" / "annotations.yaml"
REAL = HERE.parent.parent / "shared" / "real-blots"


@dataclass(frozen=True)
class StripCase:
    """One annotated strip of one real image."""

    file: str
    strip: str
    lanes: tuple[float, ...]
    roles: tuple[str, ...]
    band_rows: tuple[float, ...]
    band_height: float
    pitch: float
    rotate: int
    #: The panel (gel, film) holding the strip when one image holds several:
    #: (left, top, right, bottom), given to blotquant as ``crop``.
    panel: tuple[int, int, int, int] | None

    @property
    def name(self) -> str:
        return f"{self.file}:{self.strip}"


def strip_cases(path: Path = ANNOTATIONS) -> list[StripCase]:
    """Every annotated strip, in file order."""
    cases = []
    for entry in yaml.safe_load(path.read_text()):
        panels = [p["box"] for p in entry.get("panels", [])]
        for strip in entry.get("strips", []):
            if "sample" not in strip["roles"]:
                continue  # a strip of marker bands only: it places no sample lane
            lanes = tuple(float(x) for x in strip["lanes"])
            rows = strip.get("band_rows") or [strip["band_row"]] * len(lanes)
            panel = _panel_of(panels, lanes, rows)
            cases.append(
                StripCase(
                    file=entry["file"],
                    strip=strip["name"],
                    lanes=lanes,
                    roles=tuple(strip["roles"]),
                    band_rows=tuple(float(r) for r in rows),
                    band_height=float(strip.get("band_height", 12)),
                    pitch=float(strip["pitch"]),
                    rotate=int(entry.get("rotate", 0)),
                    panel=None if panel is None else tuple(int(v) for v in panel),
                )
            )
    return cases


def _panel_of(panels: list[list[int]], lanes: tuple[float, ...], rows: list[float]):
    """The panel box that holds the strip's lanes and rows, if the image has panels."""
    for box in panels:
        x0, y0, x1, y1 = box
        if x0 <= min(lanes) and max(lanes) <= x1 and y0 <= min(rows) and max(rows) <= y1:
            return box
    return None


def _config(case: StripCase, images: Path, shape: tuple[int, int]) -> dict[str, Any]:
    """The config a user would write for this strip: its lanes, its band's rows, its panel."""
    height, width = shape
    half = max(1.5 * case.band_height, 10.0)
    top, bottom = min(case.band_rows) - half, max(case.band_rows) + half
    top, bottom = int(max(0, top)), int(min(height, bottom))
    keys: dict[str, Any] = {"file": str(images / case.file)}
    if case.rotate:
        keys["rotate"] = case.rotate
    if case.panel is not None:
        left, p_top, right, p_bottom = case.panel
        keys["crop"] = [left, p_top, min(right, width), min(p_bottom, height)]
        top, bottom = max(top, p_top), min(bottom, p_bottom)
    keys["band_rows"] = [top, bottom]
    first = case.roles.index("sample")
    lanes = [
        {"role": role} if role != "sample" else {"treatment": "control" if k == first else "t"}
        for k, role in enumerate(case.roles)
    ]
    return {
        "experiment": f"real blot {case.name}",
        # (the same image as both halves of a pair: only the lanes are compared)
        "pairs": [{"phospho": case.strip, "total": "total"}],
        "control": {"treatment": "control"},
        "membranes": [
            {
                "name": "m",
                "lanes": lanes,
                "images": [{**keys, "antibody": name} for name in (case.strip, "total")],
            }
        ],
    }


def evaluate(case: StripCase, images: Path = REAL, qc_folder: Path | None = None) -> dict[str, Any]:
    """Run one strip and compare its sample lanes with the person's.

    With ``qc_folder``, the strip's QC picture is kept there to look at.
    """
    row: dict[str, Any] = {"strip": case.name, "lanes": len(case.lanes)}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        shape = read_image(images / case.file).rotated(case.rotate).pixels.shape
        config.write_text(yaml.safe_dump(_config(case, images, shape), sort_keys=False))
        try:
            outcome = run(config, out=Path(folder) / "out", qc=qc_folder is not None)
        except BlotquantError as exc:
            return {**row, "verdict": "not run", "note": str(exc)}
        if qc_folder is not None:
            qc_folder.mkdir(parents=True, exist_ok=True)
            for picture in (Path(folder) / "out" / "qc").glob(f"*{Path(case.file).stem}*.png"):
                name = f"{case.name.replace('/', '__').replace(':', '__')}.png"
                (qc_folder / name).write_bytes(picture.read_bytes())
                break
    bands = outcome.bands
    if bands.empty:
        return {**row, "verdict": "not run", "note": "; ".join(m for _, m in outcome.failures)}
    sample = [k for k, role in enumerate(case.roles) if role == "sample"]
    found = bands[bands["antibody"] == case.strip].set_index("lane")["lane_center"]
    truth = np.array([case.lanes[k] for k in sample])
    placed = np.array([found.get(k + 1, np.nan) for k in sample])
    error = np.abs(placed - truth) / case.pitch
    right = int(np.sum(error <= 0.25))
    flagged = bool(bands["flags"].str.contains(LANES_UNCERTAIN).any())
    # the strip's band flags by lane, to check by eye against the QC picture
    mine = bands[bands["antibody"] == case.strip]
    words: dict[str, list[str]] = {}
    for lane, flags in zip(mine["lane"], mine["flags"].fillna(""), strict=True):
        for word in str(flags).split(";"):
            if word and word != LANES_UNCERTAIN:
                words.setdefault(word, []).append(str(lane))
    band_flags = " ".join(f"{w}:{','.join(lanes)}" for w, lanes in words.items())
    verdict = "right" if right == len(sample) else ("flagged" if flagged else "WRONG")
    return {
        **row,
        "sample_lanes": len(sample),
        "within_quarter_pitch": right,
        "worst_error_pitch": round(float(np.nanmax(error)), 2),
        "flagged": flagged,
        "verdict": verdict,
        "band_flags": band_flags,
        "note": "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, default=REAL, help="the shared real-blots folder")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    parser.add_argument("--qc", type=Path, default=None, help="keep each strip's QC picture here")
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        print(f"{args.images} is not there: nothing to compare", file=sys.stderr)
        return 1
    table = pd.DataFrame([evaluate(case, args.images, args.qc) for case in strip_cases()])
    shown = table.assign(note=table["note"].str.slice(0, 70)).drop(columns="lanes")
    with pd.option_context("display.width", 250):
        print(shown.to_string(index=False))
    counts = table["verdict"].value_counts()
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    ran = table[table["verdict"] != "not run"]
    if len(ran):
        lanes = int(ran["sample_lanes"].sum())
        print(f"sample lanes within a quarter pitch: {int(ran['within_quarter_pitch'].sum())} "
              f"of {lanes}")  # fmt: skip
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
