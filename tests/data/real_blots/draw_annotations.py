"""Draw the hand annotations in annotations.yaml over the real blot images.

For re-checking the annotations by eye; writes PNGs outside the project.

    python tests/data/real_blots/draw_annotations.py \
        [--images ../shared/real-blots] [--out /tmp/annot/overlay] [--only SUBSTRING]

Needs numpy, pillow, pyyaml and tifffile. The images are not part of the
project: pass --images to wherever the shared real-blots folder is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGES = HERE.parents[3] / "shared" / "real-blots"
STRIP_COLOURS = [
    (255, 0, 0),
    (0, 170, 0),
    (0, 90, 255),
    (230, 120, 0),
    (200, 0, 200),
    (0, 170, 170),
    (140, 90, 0),
    (90, 0, 160),
]
ROLE_DASH = {"sample": None, "ladder": 6, "empty": 2}


def load_grey(path: Path) -> np.ndarray:
    """Pixels as a 2-D float array (mean of colour channels, alpha dropped)."""
    if path.suffix.lower() in (".tif", ".tiff") or path.name.startswith("WB0-"):
        try:
            import tifffile

            a = tifffile.imread(path)
        except Exception:  # e.g. LZW without imagecodecs: pillow reads it
            a = np.asarray(Image.open(path))
    else:
        a = np.asarray(Image.open(path))
    a = a.astype(float)
    if a.ndim == 3:
        a = a[..., :3].mean(-1)
    return a


def to_rgb8(a: np.ndarray) -> Image.Image:
    lo, hi = np.percentile(a, [0.5, 99.5])
    g = np.clip((a - lo) / max(hi - lo, 1e-9), 0, 1)
    return Image.fromarray((g * 255).astype(np.uint8)).convert("RGB")


def dashed_vline(d, x, y0, y1, colour, dash, width):
    if not dash:
        d.line([(x, y0), (x, y1)], fill=colour, width=width)
        return
    y = y0
    while y < y1:
        d.line([(x, y), (x, min(y + dash, y1))], fill=colour, width=width)
        y += 2 * dash


def draw(entry: dict, images: Path, out: Path) -> Path:
    a = load_grey(images / entry["file"])
    rot = int(entry.get("rotate", 0))
    if rot:
        a = np.rot90(a, k=-rot // 90)
    im = to_rgb8(a)
    d = ImageDraw.Draw(im)
    s = max(im.size) / 1000.0  # line width scale
    w = max(1, int(round(s)))
    if "membrane" in entry:
        d.rectangle(entry["membrane"], outline=(255, 220, 0), width=w)
    for p in entry.get("panels", []):
        d.rectangle(p["box"], outline=(255, 160, 0), width=w)
    for ex in entry.get("exclude", []):
        d.rectangle(ex["box"], outline=(128, 128, 128), width=w)
        d.line([tuple(ex["box"][:2]), tuple(ex["box"][2:])], fill=(128, 128, 128), width=w)
    for k, st in enumerate(entry["strips"]):
        c = STRIP_COLOURS[k % len(STRIP_COLOURS)]
        lanes = st["lanes"]
        rows = st.get("band_rows") or [st["band_row"]] * len(lanes)
        roles = st.get("roles") or ["sample"] * len(lanes)
        h = st.get("band_height", 10)
        pitch = st.get("pitch") or 20
        for x, y, role in zip(lanes, rows, roles, strict=True):
            dashed_vline(d, x, y - 2 * h, y + 2 * h, c, ROLE_DASH.get(role), w)
            hw = 0.35 * pitch
            d.rectangle([x - hw, y - h / 2, x + hw, y + h / 2], outline=c, width=w)
        for x in st.get("possible_extra_lanes", []):
            y = int(np.mean(rows))
            dashed_vline(d, x, y - 2 * h, y + 2 * h, c, 3, w)
        d.text((lanes[0] - 0.5 * pitch, rows[0] - 2 * h - 12 * s), st["name"], fill=c)
    name = entry["file"].replace("/", "__") + ".annot.png"
    target = out / name
    im.save(target)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--out", type=Path, default=Path("/tmp/annot/overlay"))
    ap.add_argument("--only", default="")
    ap.add_argument("--yaml", type=Path, default=HERE / "annotations.yaml")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for entry in yaml.safe_load(args.yaml.read_text()):
        if args.only in entry["file"]:
            print(draw(entry, args.images, args.out))


if __name__ == "__main__":
    main()
