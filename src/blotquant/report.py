"""Writing results: CSVs, QC pictures and run.json, each file atomically.

Every file is written to a temporary name in the output folder and renamed
into place, so an interrupted run never leaves a half-written CSV, and a
rerun replaces the whole set of results rather than mixing old and new.
"""

from __future__ import annotations

import io as _io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blotquant.errors import BlotquantError
from blotquant.io import BlotImage
from blotquant.models import Measurement

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

_FLAG_COLOURS = {
    "saturated": (255, 40, 40),
    "no-band": (150, 150, 150),
    "low-snr": (255, 165, 0),
    "edge": (255, 0, 255),
}
_OK_COLOUR = (0, 220, 90)
_LANE_COLOUR = (0, 190, 255)
_MARGIN_COLOUR = (70, 110, 255)
_SATURATED_COLOUR = (255, 0, 0)
#: QC pictures are palette images: 232 grey levels, then the saturated red;
#: the drawing colours take the remaining entries as they are used.
_GREY_LEVELS = 232
_GREY_INDEX = np.round(np.arange(256) * (_GREY_LEVELS - 1) / 255).astype(np.uint8)
_PALETTE = [
    v for i in range(_GREY_LEVELS) for v in (round(i * 255 / (_GREY_LEVELS - 1)),) * 3
] + list(_SATURATED_COLOUR)
_SATURATED_INDEX = _GREY_LEVELS


# --- atomic writing ----------------------------------------------------------------------


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
    """A fresh hidden folder in ``out`` to collect QC pictures in before they replace ``qc/``."""
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
    version: str,
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
    import platform

    from blotquant import __version__

    return {
        "blotquant_version": version or __version__,
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
    return datetime.now(UTC)


# --- QC pictures -------------------------------------------------------------------------


def qc_name(measurement: Measurement, with_channel: bool) -> str:
    """File name of the QC picture of one image (and channel)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(measurement.image).stem).strip("_")
    name = f"{measurement.membrane}__{stem}"
    if with_channel:
        name += f"_ch{measurement.channel}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".png"


def _display(pixels: np.ndarray, scale: int) -> np.ndarray:
    """8-bit view of the image as exported, contrast-stretched, shrunk by ``scale``."""
    small = pixels[::scale, ::scale].astype(np.float32)
    # the contrast limits from about 100 000 pixels are the same as from all
    step = max(1, int(np.sqrt(small.size / 100_000)))
    lo, hi = (float(v) for v in np.percentile(small[::step, ::step], [0.5, 99.8]))
    if hi <= lo:
        hi = lo + 1.0
    small -= lo
    small *= 255.0 / (hi - lo)
    return np.clip(small, 0, 255, out=small).astype(np.uint8)


#: Largest width (px) of the QC thumbnails embedded in report.html.
THUMBNAIL_WIDTH = 640


def render_qc(image: BlotImage, analyses: Sequence[Any]) -> bytes:
    """Draw what blotquant found on one image; return a PNG.

    See :func:`render_qc_and_thumbnail`.
    """
    return render_qc_and_thumbnail(image, analyses, thumbnail=False)[0]


def render_qc_and_thumbnail(
    image: BlotImage, analyses: Sequence[Any], thumbnail: bool = True
) -> tuple[bytes, bytes | None]:
    """Draw what blotquant found on one image: a PNG, and a small JPEG of it.

    Top: the image as exported (contrast-stretched) with lanes (blue lines and
    numbers), band boxes that follow the band (green, or the colour of their
    worst flag), the membrane margins used for background (thin blue lines),
    and saturated pixels painted red. Bottom: each band's lane profile (white)
    with the background that was removed (blue) and the box (shaded).
    """
    from PIL import Image, ImageDraw

    from blotquant.polarity import saturation_mask

    pixels = image.pixels
    height, width = pixels.shape
    scale = max(1, int(np.ceil(max(width / 1400, height / 1000))))
    # a palette picture (grey levels and the few drawing colours): a third
    # of the bytes of RGB, and PNG encodes it several times faster
    index = _GREY_INDEX[_display(pixels, scale)]
    for a in analyses:
        top = a.row_offset
        bottom = top + (
            a.measurement.rows[1] - a.measurement.rows[0] if a.measurement.rows else height
        )
        region = pixels[top:bottom]
        level = a.measurement.analysis.saturation_level
        sat = saturation_mask(region, a.polarity, image.ceiling, level, image.floor)
        if sat.any():
            ys, xs = np.nonzero(sat)
            index[(ys + top) // scale, xs // scale] = _SATURATED_INDEX
    canvas = Image.fromarray(index, mode="P")
    canvas.putpalette(_PALETTE)
    # upscale small images so that labels are readable
    zoom = 1.0 / scale
    if canvas.width < 700:
        factor = int(np.ceil(700 / canvas.width))
        canvas = canvas.resize((canvas.width * factor, canvas.height * factor), Image.NEAREST)
        zoom *= factor
    font = _font(12)
    panel_h = 110
    n_rows = len(analyses)
    full = Image.new("P", (canvas.width, canvas.height + 28 + n_rows * panel_h))
    full.putpalette(_PALETTE)
    draw = ImageDraw.Draw(full)  # (colours are added to the palette as they are drawn)
    draw.rectangle([0, 0, full.width, full.height], fill=(20, 20, 20))
    full.paste(canvas, (0, 28))
    y0 = 28

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x * zoom, y * zoom + y0)

    title = f"{Path(image.path).name}"
    if image.n_channels > 1:
        title += f"  channel {image.channel}"
    draw.text((6, 7), title, fill=(255, 255, 255), font=font)
    for panel, a in enumerate(analyses):
        m = a.measurement
        off = a.row_offset
        reg_h = (m.rows[1] - m.rows[0]) if m.rows else height
        colour_of = {}
        if m.rows is not None:
            draw.rectangle([pt(0, off), pt(width - 1, off + reg_h - 1)], outline=(255, 220, 0))
        label = f"{m.antibody}  [{a.polarity}, {m.analysis.background}]"
        draw.text(pt(4, off + 2), label, fill=(255, 220, 0), font=font)
        for i, cx in enumerate(a.lanes.centers):
            x_top = cx + a.lanes.slope * (0 - a.lanes.ref_row)
            x_bot = cx + a.lanes.slope * (reg_h - 1 - a.lanes.ref_row)
            draw.line([pt(x_top, off), pt(x_bot, off + reg_h - 1)], fill=_LANE_COLOUR, width=1)
            draw.text(pt(cx - 3, off + 14), str(i + 1), fill=_LANE_COLOUR, font=font)
        for box, band in zip(a.boxes, a.bands, strict=True):
            margin = box.margin
            colour = _OK_COLOUR
            for flag in ("saturated", "edge", "no-band", "low-snr"):
                if flag in band.flags:
                    colour = _FLAG_COLOURS[flag]
                    break
            colour_of[box.lane] = colour
            left, right = box.x_left, box.x_right
            c_left = box.center_row + box.slope * (left - box.lane_x)
            c_right = box.center_row + box.slope * (right - box.lane_x)
            t_l, t_r = c_left - box.half_top + off, c_right - box.half_top + off
            b_l, b_r = t_l + box.height, t_r + box.height
            draw.polygon(
                [pt(left, t_l), pt(right, t_r), pt(right, b_r), pt(left, b_l)],
                outline=colour,
                width=2,
            )
            if m.analysis.background in ("profile-baseline", "lane-edges"):
                draw.line([pt(left, t_l - margin), pt(right, t_r - margin)], fill=_MARGIN_COLOUR)
                draw.line([pt(left, b_l + margin), pt(right, b_r + margin)], fill=_MARGIN_COLOUR)
            if band.flags:
                draw.text(pt(left, b_l + margin + 2), ",".join(band.flags), fill=colour, font=font)
        _profile_panel(
            draw, a, colour_of, canvas.width, canvas.height + y0 + panel * panel_h, panel_h, font
        )
    buffer = _io.BytesIO()
    full.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue(), (qc_thumbnail(full) if thumbnail else None)


def qc_thumbnail(picture: Any) -> bytes:
    """A QC picture (a PIL image) shrunk to ``THUMBNAIL_WIDTH`` as a JPEG, for report.html."""
    rgb = picture.convert("RGB")
    factor = -(-rgb.width // THUMBNAIL_WIDTH)
    if factor > 1:
        rgb = rgb.reduce(factor)  # (block means: fast, and sharp enough to check)
    buffer = _io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _profile_panel(
    draw: Any,
    analysis: Any,
    colours: dict[int, tuple[int, int, int]],
    width: int,
    top: int,
    height: int,
    font: Any,
) -> None:
    """Small multiples: each band's profile with the background removed under it."""
    bands = [b for b in analysis.bands if b.profile is not None]
    if not bands:
        return
    m = analysis.measurement
    draw.text(
        (6, top + 2),
        f"{m.antibody}: lane profiles (white), background (blue)",
        fill=(200, 200, 200),
        font=font,
    )
    cell_w = width / len(bands)
    peak = max(float(np.max(b.profile)) for b in bands)
    floor = min(float(np.min(b.profile)) for b in bands)
    floor = min(floor, min(float(np.min(b.background)) for b in bands if b.background.size))
    span = max(peak - floor, 1e-9)
    for k, (band, box) in enumerate(zip(bands, analysis.boxes, strict=True)):
        margin = box.margin
        x0 = k * cell_w + 3
        w = cell_w - 6
        y_top, y_bot = top + 18, top + height - 16
        prof = band.profile
        n = len(prof)

        def points(
            start: int,
            values: np.ndarray,
            x0: float = x0,
            w: float = w,
            n: int = n,
            y_top: float = y_top,
            y_bot: float = y_bot,
        ) -> list[float]:
            # flat [x0, y0, x1, y1, ...] in picture coordinates
            xs = x0 + w * (start + np.arange(len(values))) / max(n - 1, 1)
            ys = y_bot - (y_bot - y_top) * (np.asarray(values, dtype=float) - floor) / span
            return np.column_stack((xs, ys)).ravel().tolist()

        box_l = x0 + w * margin / max(n - 1, 1)
        box_r = x0 + w * (margin + box.height - 1) / max(n - 1, 1)
        draw.rectangle([box_l, y_top, box_r, y_bot], fill=(45, 45, 60))
        draw.line(points(0, prof), fill=(255, 255, 255), width=1)
        draw.line(points(margin, band.background), fill=(90, 140, 255), width=2)
        draw.text(
            (x0, y_bot + 2), f"L{band.lane}", fill=colours.get(band.lane, _OK_COLOUR), font=font
        )


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()
