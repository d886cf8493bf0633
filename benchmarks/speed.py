"""Batch speed benchmark: blotquant on a folder of 16-bit exports, and ImageJ on the same.

    python benchmarks/speed.py                 # 200 exports of 2000 x 1500 + 4 scans of 4000 x 3000
    python benchmarks/speed.py --n 40          # a quicker look
    python benchmarks/speed.py --no-imagej     # without the ImageJ comparison
    python benchmarks/speed.py --write-readme  # put the results into benchmarks/README.md

Every export holds two strips (p-AKT over AKT) of 16 lanes, as a ChemiDoc
export of a cut membrane would; the batch is described with `batches`
(`regions` give the strips). The exports are drawn from a few generated
blots with fresh noise, shifts and exposure for each file, so that drawing
200 of them takes seconds, not minutes. blotquant runs end to end (reading,
rolling-ball background at radius 50, QC pictures, CSVs) with --jobs 1 and
--jobs 2; ImageJ 1.53t runs one JVM over the same files with Subtract
Background (rolling=50) and measures the boxes blotquant found.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml

from blotquant.synth import BlotSpec, StripSpec, render_blot

HERE = Path(__file__).resolve().parent
#: image counts of the two runs per size (their difference gives the marginal cost)
SIZE_RUNS = (4, 12)
LANES = [{"treatment": t} for t in ["DMSO", "DMSO"] + [f"drug{i}" for i in range(14)]]


def base_blots(width: int, height: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A few realistic two-strip blots to derive the exports from (noise-free)."""
    pitch = width / 17.4
    out = []
    for _ in range(count):
        vols = list(rng.uniform(0.3, 1.0, 16) * 4e6 * (width / 2000) ** 2)
        strips = [
            StripSpec(
                name,
                height // 2,
                height / 4,
                v,
                sigma=8.0 * height / 1500,
                background=1500,
                gradient=(0.3, 0.4),
                blotches=3,
            )
            for name, v in (("p-AKT", vols), ("AKT", vols[::-1]))
        ]
        spec = BlotSpec(
            width=width,
            strips=strips,
            n_lanes=16,
            pitch=pitch,
            first_lane=1.2 * pitch,
            rotation_deg=float(rng.uniform(-1, 1)),
            smile=4.0,
            read_noise=0.0,
            shot_noise=0.0,
            dust=4,
        )
        image, _ = render_blot(spec, rng)
        out.append(image.astype(np.float32))
    return out


def write_exports(
    folder: Path, bases: list[np.ndarray], n: int, prefix: str, rng: np.random.Generator
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        image = bases[k % len(bases)] * rng.uniform(0.8, 1.2)
        image = np.roll(image, int(rng.integers(-6, 7)), axis=1)
        image += rng.normal(0, 1, image.shape).astype(np.float32) * np.sqrt(400 + image)
        path = folder / f"{prefix}{k:04d}.tif"
        tifffile.imwrite(path, np.clip(np.rint(image), 0, 65535).astype(np.uint16))
        paths.append(path)
    return paths


def config_for(folder: Path, height: int) -> Path:
    config = {
        "experiment": "speed benchmark",
        "analysis": {"background": "rolling-ball", "rolling_ball_radius": 50},
        "pairs": [{"phospho": "p-AKT", "total": "AKT"}],
        "control": {"treatment": "DMSO"},
        "batches": [
            {
                "files": "exports/*.tif",
                "pattern": "{membrane}.tif",
                "lanes": LANES,
                "regions": [
                    {"antibody": "p-AKT", "rows": [0, height // 2]},
                    {"antibody": "AKT", "rows": [height // 2, height]},
                ],
            }
        ],
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_blotquant(config: Path, out: Path, jobs: int) -> tuple[float, float]:
    """Wall time (s) and the largest peak memory of any blotquant process (MB)."""
    shutil.rmtree(out, ignore_errors=True)
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"r = subprocess.run([sys.executable, '-m', 'blotquant', 'run', {str(config)!r}, "
        f"'--out', {str(out)!r}, '--quiet', '--jobs', '{jobs}'])\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(dt, peak, r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    seconds, peak, code = result.stdout.split()
    if code != "0":
        raise SystemExit(f"blotquant failed on {config}")
    return float(seconds), float(peak)


def run_imagej(files: list[Path], bands: pd.DataFrame, folder: Path) -> float | None:
    """ImageJ 1.53t over the same files in one JVM: rolling ball 50, then the same boxes."""
    jar = Path("/usr/share/java/ij.jar")
    if not jar.exists() or shutil.which("xvfb-run") is None:
        return None
    results = folder / "imagej_speed.csv"
    lines = ["setBatchMode(true);", f'f = File.open("{results}");']
    boxes = {name: g for name, g in bands.groupby("image")}
    for path in files:
        lines += [f'open("{path}");', 'run("Subtract Background...", "rolling=50");']
        rel = f"exports/{path.name}"
        for b in boxes.get(rel, pd.DataFrame()).itertuples():
            w, h = b.x_right - b.x_left, b.band_bottom - b.band_top + 1
            lines += [
                f"makeRectangle({b.x_left}, {b.band_top}, {w}, {h});",
                f'print(f, "{path.name},{b.antibody},{b.lane}," + getValue("RawIntDen"));',
            ]
        lines.append("close();")
    lines += ["File.close(f);", 'print("done");']
    macro = folder / "speed.ijm"
    macro.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    proc = subprocess.run(
        ["xvfb-run", "-a", "java", "-Xmx4g", "-jar", str(jar), "-batch", str(macro)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - start
    if "done" not in proc.stdout:
        raise SystemExit(f"ImageJ failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return seconds


RADII = (10, 25, 50, 100, 200)


def radius_sweep(image_path: Path, folder: Path, imagej: bool) -> list[tuple[int, float, float]]:
    """Rolling-ball background of one whole 2000 x 1500 export at several radii.

    Returns (radius, blotquant seconds, ImageJ seconds or nan), each the
    median of 5 repeats; ImageJ's are timed inside its JVM (getTime()).
    """
    from blotquant.rollingball import rolling_ball_background

    image = tifffile.imread(image_path)
    ours = {}
    for radius in RADII:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            rolling_ball_background(image, radius)
            times.append(time.perf_counter() - start)
        ours[radius] = float(np.median(times))
    theirs: dict[int, float] = {}
    jar = Path("/usr/share/java/ij.jar")
    if imagej and jar.exists() and shutil.which("xvfb-run"):
        lines = ["setBatchMode(true);", f'open("{image_path}");', "id = getImageID();"]
        for radius in RADII:
            lines += [
                "times = newArray(5);",
                "for (k = 0; k < 5; k++) {",
                '  selectImage(id); run("Duplicate...", "title=copy");',
                "  t = getTime();",
                f'  run("Subtract Background...", "rolling={radius} create");',
                "  times[k] = getTime() - t; close(); }",
                "Array.sort(times);",
                f'print("radius,{radius}," + times[2]);',
            ]
        lines.append('print("done");')
        macro = folder / "radii.ijm"
        macro.write_text("\n".join(lines) + "\n")
        proc = subprocess.run(
            ["xvfb-run", "-a", "java", "-jar", str(jar), "-batch", str(macro)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("radius,"):
                _, radius, ms = line.split(",")
                theirs[int(radius)] = float(ms) / 1000
    return [(r, ours[r], theirs.get(r, float("nan"))) for r in RADII]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="2000 x 1500 exports")
    parser.add_argument("--scans", type=int, default=4, help="4000 x 3000 scans")
    parser.add_argument("--no-imagej", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)
    work = args.keep or Path(tempfile.mkdtemp(prefix="blotquant-speed-"))
    t0 = time.perf_counter()
    batch = work / "batch"
    files = write_exports(batch / "exports", base_blots(2000, 1500, 4, rng), args.n, "m", rng)
    scans = work / "scans"
    if args.scans > 0:
        write_exports(scans / "exports", base_blots(4000, 3000, 1, rng), args.scans, "s", rng)
    sizes = {}
    for w, h in ((1000, 750), (2000, 1500), (4000, 3000)):
        folder = work / f"size{w}"
        paths = write_exports(folder / "exports", base_blots(w, h, 1, rng), SIZE_RUNS[1], "z", rng)
        few = work / f"size{w}_few"
        (few / "exports").mkdir(parents=True, exist_ok=True)
        for path in paths[: SIZE_RUNS[0]]:
            if not (few / "exports" / path.name).exists():
                (few / "exports" / path.name).symlink_to(path)
        sizes[(w, h)] = (config_for(few, h), config_for(folder, h))
    print(
        f"drew {args.n} + {args.scans} + {3 * SIZE_RUNS[1]} exports in "
        f"{time.perf_counter() - t0:.0f} s ({work})",
        flush=True,
    )
    cores = os.cpu_count() or 1
    rows = []
    config = config_for(batch, 1500)
    t1, peak1 = run_blotquant(config, work / "out1", 1)
    t2, peak2 = run_blotquant(config, work / "out2", 2)
    rows.append(("2000x1500 batch, --jobs 1", args.n, t1, t1 / args.n, args.n / t1, peak1))
    rows.append(("2000x1500 batch, --jobs 2", args.n, t2, t2 / args.n, args.n / t2, peak2))
    # linear in the number of images: a quarter of the batch (the same files)
    quarter = work / "batch_quarter"
    (quarter / "exports").mkdir(parents=True, exist_ok=True)
    for path in files[: max(1, args.n // 4)]:
        link = quarter / "exports" / path.name
        if not link.exists():
            link.symlink_to(path)
    n_q = max(1, args.n // 4)
    tq, peakq = run_blotquant(config_for(quarter, 1500), work / "outq", 1)
    rows.append(
        (f"2000x1500, first {n_q} of the batch, --jobs 1", n_q, tq, tq / n_q, n_q / tq, peakq)
    )
    if args.scans > 0:
        ts, peaks = run_blotquant(config_for(scans, 3000), work / "outs", 1)
        rows.append(
            ("4000x3000 scans, --jobs 1", args.scans, ts, ts / args.scans, args.scans / ts, peaks)
        )
    per_size = {}
    for (w, h), (cfg_few, cfg_all) in sizes.items():
        t_few, _ = run_blotquant(cfg_few, work / f"outz{w}_few", 1)
        t_all, _ = run_blotquant(cfg_all, work / f"outz{w}", 1)
        # the cost of one more image: start-up and the report cancel out
        per_size[(w, h)] = (t_all / SIZE_RUNS[1], (t_all - t_few) / (SIZE_RUNS[1] - SIZE_RUNS[0]))
    imagej = None
    if not args.no_imagej:
        bands = pd.read_csv(work / "out1" / "bands.csv")
        imagej = run_imagej(files, bands, work)
    table = [
        "| run | images | seconds | s / image | images / s | peak MB per process |",
        "|---|---|---|---|---|---|",
    ]
    table += [
        f"| {name} | {n} | {t:.1f} | {per:.3f} | {rate:.1f} | {peak:.0f} |"
        for name, n, t, per, rate, peak in rows
    ]
    lines = [
        f"Machine: {cores} cores. End to end: reading, lanes, bands, rolling-ball "
        "background (radius 50), volumes, QC pictures, CSVs; process start included.",
        "",
        *table,
        "",
        f"--jobs 2 is {t1 / t2:.2f} x faster than --jobs 1.",
        "",
        f"Cost per image by size (--jobs 1): runs of {SIZE_RUNS[0]} and {SIZE_RUNS[1]} "
        "images; the marginal cost is their difference per extra image (process start "
        "and report cancel out):",
        "",
        f"| size | pixels | s / image ({SIZE_RUNS[1]} images, all included) | "
        "marginal s / image | marginal s per megapixel |",
        "|---|---|---|---|---|",
    ]
    for (w, h), (per, marginal) in per_size.items():
        mpx = w * h / 1e6
        lines.append(
            f"| {w}x{h} | {mpx:.2f} M | {per:.3f} | {marginal:.3f} | {marginal / mpx:.3f} |"
        )
    if imagej is not None:
        lines += [
            "",
            f"ImageJ 1.53t, one JVM over the same {args.n} exports (Subtract "
            f"Background rolling=50, the same boxes measured): {imagej:.1f} s, "
            f"{imagej / args.n:.3f} s / image. blotquant --jobs 1 takes "
            f"{t1 / imagej:.2f} x ImageJ's time ({imagej / t1:.1f} x faster); --jobs 2 "
            f"{t2 / imagej:.2f} x ({imagej / t2:.1f} x faster).",
        ]
    sweep = radius_sweep(files[0], work, imagej=not args.no_imagej)
    lines += [
        "",
        "Rolling ball alone on one whole 2000 x 1500 export (median of 5; ImageJ "
        "timed inside its JVM, Subtract Background with 'create'):",
        "",
        "| radius | shrink | blotquant s | ImageJ s |",
        "|---|---|---|---|",
    ]
    from blotquant.rollingball import ball_for_radius

    for radius, ours, theirs in sweep:
        theirs_text = "-" if np.isnan(theirs) else f"{theirs:.3f}"
        lines.append(f"| {radius} | {ball_for_radius(radius)[0]} | {ours:.3f} | {theirs_text} |")
    text = "\n".join(lines)
    print(text)
    if args.write_readme:
        readme = HERE / "README.md"
        body = readme.read_text()
        start, end = "<!-- speed-table -->", "<!-- /speed-table -->"
        block = f"{start}\n{text}\n{end}"
        if start in body:
            body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
        else:
            body += "\n" + block + "\n"
        readme.write_text(body)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
