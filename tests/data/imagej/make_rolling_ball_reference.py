"""Regenerate ImageJ's rolling-ball backgrounds used by tests/test_rollingball.py.

    python tests/data/imagej/make_rolling_ball_reference.py

Needs Debian's ImageJ 1.53t and Xvfb (apt-get install -y imagej xvfb). Writes
four small test blots (16- and 8-bit, bright and dark bands), a macro
(rolling_ball.ijm) that runs Process > Subtract Background with "create" on
each at several radii, with and without "light" and "disable" (smoothing),
on the image converted to 32-bit (so ImageJ's background is not rounded),
and ImageJ's outputs next to them. ImageJ is not needed at test time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import tifffile

from blotquant.synth import BlotSpec, StripSpec, render_blot

HERE = Path(__file__).resolve().parent
RADII = (10, 25, 50, 100)


def make_images() -> list[dict]:
    rng = np.random.default_rng(53)
    cases = []
    for name, bits, polarity in [
        ("bright16", 16, "light-bands"),
        ("bright8", 8, "light-bands"),
        ("dark16", 16, "dark-bands"),
        ("dark8", 8, "dark-bands"),
    ]:
        scale = 1.0 if bits == 16 else 1 / 200
        volumes = list(rng.uniform(0.3, 1.0, 5) * 8e5 * scale)
        strip = StripSpec(
            "x",
            160,
            75,
            volumes,
            sigma=4.0,
            background=1500 * scale,
            gradient=(1.5 * scale, 1.0 * scale),
            blotches=2,
        )
        spec = BlotSpec(
            width=240,
            strips=[strip],
            n_lanes=5,
            pitch=45,
            first_lane=30,
            polarity=polarity,
            bit_depth=bits,
            rotation_deg=0.5,
            read_noise=20 * scale,
            shot_noise=scale,
            dust=2,
            white=(50000 if bits == 16 else 230),
        )
        image, _ = render_blot(spec, rng)
        tifffile.imwrite(HERE / f"{name}.tif", image, compression="zlib")
        cases.append({"image": f"{name}.tif", "light": polarity == "dark-bands"})
    return cases


def write_macro(cases: list[dict]) -> list[dict]:
    runs, lines = [], ["setBatchMode(true);"]
    for case in cases:
        for radius in RADII:
            # without smoothing at two radii: one unshrunk ball, one shrunk
            for smoothing in (True, False) if radius in (10, 50) else (True,):
                options = f"rolling={radius}{' light' if case['light'] else ''} create"
                options += "" if smoothing else " disable"
                out = (
                    f"{Path(case['image']).stem}_r{radius}{'' if smoothing else '_nosmooth'}_ij.tif"
                )
                lines += [
                    f'open("{HERE / case["image"]}");',
                    'run("32-bit");',
                    f'run("Subtract Background...", "{options}");',
                    f'saveAs("Tiff", "{HERE / out}");',
                    "close();",
                ]
                runs.append(
                    {
                        "image": case["image"],
                        "radius": radius,
                        "light": case["light"],
                        "smoothing": smoothing,
                        "imagej_options": options,
                        "imagej_background": out,
                    }
                )
    lines.append('print("done");')
    (HERE / "rolling_ball.ijm").write_text("\n".join(lines) + "\n")
    return runs


def main() -> None:
    runs = write_macro(make_images())
    result = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "java",
            "-jar",
            "/usr/share/java/ij.jar",
            "-batch",
            str(HERE / "rolling_ball.ijm"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    missing = [r["imagej_background"] for r in runs if not (HERE / r["imagej_background"]).exists()]
    if "done" not in result.stdout or missing:
        raise SystemExit(f"ImageJ failed: {result.stdout[-500:]} {result.stderr[-500:]} {missing}")
    # ImageJ writes uncompressed float TIFFs: store them losslessly compressed
    for run in runs:
        path = HERE / run["imagej_background"]
        data = tifffile.imread(path).astype(np.float32)
        tifffile.imwrite(path, data, compression="zlib")
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "imagej"], capture_output=True, text=True
    ).stdout
    manifest = {"imagej": f"ImageJ (Debian package imagej {version})", "runs": runs}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(runs)} ImageJ backgrounds written")


if __name__ == "__main__":
    main()
