"""QC pictures: what blotquant found on each image, drawn over the image.

One PNG per image file (and channel) for the ``qc/`` folder, and a small
JPEG of it for ``report.html``. Drawing only: the pictures are written by
:mod:`blotquant.report` (or by the pipeline's workers).
"""

from __future__ import annotations

import io as _io
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from blotquant.background import DRAWS_MARGINS
from blotquant.io import BlotImage
from blotquant.models import Measurement
from blotquant.saturation import saturated_plateaus
from blotquant.tables import LANES_UNCERTAIN

#: Largest width (px) of the QC thumbnails embedded in report.html.
THUMBNAIL_WIDTH = 640

_FLAG_COLOURS = {
    "saturated": (255, 40, 40),
    "no-band": (150, 150, 150),
    "low-snr": (255, 165, 0),
    "edge": (255, 0, 255),
    "bubble": (255, 130, 200),
}
#: A box takes the colour of its first flag in this order (the worst first).
_FLAG_ORDER = ("saturated", "bubble", "edge", "no-band", "low-snr")
_OK_COLOUR = (0, 220, 90)
_LANE_COLOUR = (0, 190, 255)
#: Lanes the membrane's evidence puts in doubt (the ``lanes-uncertain`` flag).
_DOUBT_COLOUR = (255, 60, 60)
_MARGIN_COLOUR = (70, 110, 255)
_REGION_COLOUR = (255, 220, 0)
_SATURATED_COLOUR = (255, 0, 0)
#: QC pictures are palette images: 232 grey levels, then the saturated red;
#: the drawing colours take the remaining entries as they are used.
_GREY_LEVELS = 232
_GREY_INDEX = np.round(np.arange(256) * (_GREY_LEVELS - 1) / 255).astype(np.uint8)
_PALETTE = [
    v for i in range(_GREY_LEVELS) for v in (round(i * 255 / (_GREY_LEVELS - 1)),) * 3
] + list(_SATURATED_COLOUR)
_SATURATED_INDEX = _GREY_LEVELS

#: Rows of the title bar above the image, and of each profile panel below it.
_TITLE_HEIGHT = 28
_PANEL_HEIGHT = 110
#: Pictures narrower than this (px) are enlarged so that labels stay readable.
_MIN_WIDTH = 700

#: Image (column, row) to picture (x, y).
ToPicture = Callable[[float, float], tuple[float, float]]


def qc_name(measurement: Measurement, with_channel: bool) -> str:
    """File name of the QC picture of one image (and channel)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(measurement.image).stem).strip("_")
    name = f"{measurement.membrane}__{stem}"
    if with_channel:
        name += f"_ch{measurement.channel}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".png"


def render_qc(image: BlotImage, analyses: Sequence[Any]) -> bytes:
    """Draw what blotquant found on one image; return a PNG.

    See :func:`render_qc_and_thumbnail`.
    """
    return render_qc_and_thumbnail(image, analyses, thumbnail=False)[0]


def render_qc_and_thumbnail(
    image: BlotImage,
    analyses: Sequence[Any],
    thumbnail: bool = True,
    lane_names: Mapping[str, Sequence[str]] | None = None,
) -> tuple[bytes, bytes | None]:
    """Draw what blotquant found on one image: a PNG, and a small JPEG of it.

    Top: the image as exported (contrast-stretched) with lanes (blue lines and
    numbers), band boxes that follow the band (green, or the colour of their
    worst flag), the membrane margins used for background (thin blue lines),
    and saturated pixels painted red. Bottom: each band's lane profile (white)
    with the background that was removed (blue) and the box (shaded).

    Parameters
    ----------
    image : BlotImage
        The image as read.
    analyses : sequence of ImageAnalysis
        What was found on it, one per antibody (or region).
    thumbnail : bool
        Also make the JPEG thumbnail.
    lane_names : mapping of str to sequence of str, optional
        Membrane name -> what each lane holds (``DMSO 0 parental``, ``ladder``),
        written under the picture as the key to the lane numbers.

    Returns
    -------
    png : bytes
    thumbnail : bytes or None
    """
    canvas, zoom = _image_layer(image, analyses)
    font = _font(12)
    key_lines = _lane_key(analyses, lane_names or {}, canvas.width)
    panels_bottom = canvas.height + _TITLE_HEIGHT + len(analyses) * _PANEL_HEIGHT
    key_height = len(key_lines) * 16 + 6 if key_lines else 0
    full = Image.new("P", (canvas.width, panels_bottom + key_height))
    full.putpalette(_PALETTE)
    draw = ImageDraw.Draw(full)  # (colours are added to the palette as they are drawn)
    draw.rectangle([0, 0, full.width, full.height], fill=(20, 20, 20))
    full.paste(canvas, (0, _TITLE_HEIGHT))

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x * zoom, y * zoom + _TITLE_HEIGHT)

    title = f"{Path(image.path).name}"
    if image.n_channels > 1:
        title += f"  channel {image.channel}"
    draw.text((6, 7), title, fill=(255, 255, 255), font=font)
    for panel, a in enumerate(analyses):
        region_width, region_height = _region_size(a, image.pixels.shape)

        def in_region(x: float, y: float, shift: int = a.col_offset) -> tuple[float, float]:
            return pt(x + shift, y)  # region columns to image columns (a crop's left edge)

        _draw_lanes(draw, a, in_region, region_width, region_height, font)
        colour_of = _draw_boxes(draw, a, in_region, font)
        top = canvas.height + _TITLE_HEIGHT + panel * _PANEL_HEIGHT
        _profile_panel(draw, a, colour_of, canvas.width, top, _PANEL_HEIGHT, font)
    for k, line in enumerate(key_lines):
        draw.text((6, panels_bottom + 3 + 16 * k), line, fill=(230, 230, 230), font=font)
    buffer = _io.BytesIO()
    full.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue(), (qc_thumbnail(full) if thumbnail else None)


def _lane_key(
    analyses: Sequence[Any], lane_names: Mapping[str, Sequence[str]], width: int
) -> list[str]:
    """Lines naming each lane's treatment under the picture, wrapped to its width."""
    per_line = max(30, width // 7)  # characters of the 12 px font
    lines: list[str] = []
    for membrane in dict.fromkeys(a.measurement.membrane for a in analyses):
        names = lane_names.get(membrane)
        if not names:
            continue
        words = [f"{k} {name}" for k, name in enumerate(names, start=1)]
        line = f"{membrane} lanes: {words[0]}"
        for word in words[1:]:
            if len(line) + 3 + len(word) > per_line:
                lines.append(line)
                line = f"    {word}"
            else:
                line += f" | {word}"
        lines.append(line)
    return lines


def qc_thumbnail(picture: Image.Image) -> bytes:
    """Shrink a QC picture (a PIL image) to ``THUMBNAIL_WIDTH`` as a JPEG, for report.html."""
    rgb = picture.convert("RGB")
    factor = -(-rgb.width // THUMBNAIL_WIDTH)
    if factor > 1:
        rgb = rgb.reduce(factor)  # (block means: fast, and sharp enough to check)
    buffer = _io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _region_size(analysis: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """Columns and rows of the region measured (``crop``, then ``rows``; else the image)."""
    height, width = shape
    m = analysis.measurement
    top, bottom, left, right = 0, height, 0, width
    if analysis.crop is not None:
        left, top, right, bottom = analysis.crop
    if m.rows is not None:
        top, bottom = max(top, m.rows[0]), min(bottom, m.rows[1])
    return right - left, bottom - top


def _image_layer(image: BlotImage, analyses: Sequence[Any]) -> tuple[Image.Image, float]:
    """Paint the image in grey levels and its saturated pixels red; return it and its zoom.

    Returns
    -------
    canvas : PIL.Image.Image
        A palette picture, shrunk for large images and enlarged for small ones.
    zoom : float
        Picture pixels per image pixel.
    """
    pixels = image.pixels
    height, width = pixels.shape
    scale = max(1, int(np.ceil(max(width / 1400, height / 1000))))
    # a palette picture (grey levels and the few drawing colours): a third
    # of the bytes of RGB, and PNG encodes it several times faster
    index = _GREY_INDEX[_display(pixels, scale)]
    for a in analyses:
        top, left = a.row_offset, a.col_offset
        region_width, region_height = _region_size(a, pixels.shape)
        region = pixels[top : top + region_height, left : left + region_width]
        level = a.measurement.analysis.saturation_level
        sat, _, _ = saturated_plateaus(region, a.polarity, image.ceiling, level, image.floor)
        if sat.any():
            ys, xs = np.nonzero(sat)
            index[(ys + top) // scale, (xs + left) // scale] = _SATURATED_INDEX
    canvas = Image.fromarray(index, mode="P")
    canvas.putpalette(_PALETTE)
    zoom = 1.0 / scale
    if canvas.width < _MIN_WIDTH:
        factor = int(np.ceil(_MIN_WIDTH / canvas.width))
        canvas = canvas.resize((canvas.width * factor, canvas.height * factor), Image.NEAREST)
        zoom *= factor
    return canvas, zoom


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


def _draw_lanes(
    draw: ImageDraw.ImageDraw,
    analysis: Any,
    pt: ToPicture,
    width: int,
    region_height: int,
    font: Any,
) -> None:
    """Draw the region's outline and label, then each lane's line and number."""
    m = analysis.measurement
    off = analysis.row_offset
    if m.rows is not None or analysis.crop is not None:
        draw.rectangle([pt(0, off), pt(width - 1, off + region_height - 1)], outline=_REGION_COLOUR)
    label = f"{m.antibody}  [{analysis.polarity}, {m.analysis.background}]"
    if analysis.frame_cut:
        # the outline is the membrane found; the frame outside it was not measured
        label += f"  frame cut away: {', '.join(analysis.frame_cut)} (`crop` to change)"
    if analysis.lanes_from:
        label += f"  lanes from {analysis.lanes_from}"
    if analysis.exposures:
        named = ", ".join(f"e{k} {name}" for k, name in enumerate(analysis.exposures, start=1))
        label += f"  exposures (each box says its own): {named}"
    draw.text(pt(4, off + 2), label, fill=_REGION_COLOUR, font=font)
    doubts = analysis.lane_doubts
    colour = _DOUBT_COLOUR if doubts else _LANE_COLOUR
    if doubts:
        # said on the picture itself: these boxes may hold a neighbour's band
        text = "LANES UNCERTAIN: " + "; ".join(doubts)
        draw.text(pt(4, off + 26), text, fill=_DOUBT_COLOUR, font=font)
    lanes = analysis.lanes
    tops, bottoms = lanes.centers_at(0), lanes.centers_at(region_height - 1)
    for i, (cx, x_top, x_bot) in enumerate(zip(lanes.centers, tops, bottoms, strict=True)):
        draw.line([pt(x_top, off), pt(x_bot, off + region_height - 1)], fill=colour, width=1)
        draw.text(pt(cx - 3, off + 14), str(i + 1), fill=colour, font=font)


def _draw_boxes(
    draw: ImageDraw.ImageDraw, analysis: Any, pt: ToPicture, font: Any
) -> dict[int, tuple[int, int, int]]:
    """Each band's box (coloured by its worst flag), its margins and its flags.

    Returns
    -------
    dict
        Lane number -> the colour its box was drawn in.
    """
    off = analysis.row_offset
    margins = analysis.measurement.analysis.background in DRAWS_MARGINS
    colour_of = {}
    for box, band in zip(analysis.boxes, analysis.bands, strict=True):
        margin = box.margin
        colour = _box_colour(band.flags)
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
        if box.part is not None:
            # one band of a doublet: the drop line at the dip between its two bands
            split = box.part[1] if box.part[0] == 0 else box.part[0]
            draw.line([pt(left, t_l + split), pt(right, t_r + split)], fill=colour, width=2)
        if margins:
            draw.line([pt(left, t_l - margin), pt(right, t_r - margin)], fill=_MARGIN_COLOUR)
            draw.line([pt(left, b_l + margin), pt(right, b_r + margin)], fill=_MARGIN_COLOUR)
        # (lanes-uncertain is said once, in red, over the region: not under every box)
        words = [f for f in band.flags if f != LANES_UNCERTAIN]
        if band.exposure and band.exposure in analysis.exposures:
            # an exposure series: which exposure this band's volume comes from
            index = analysis.exposures.index(band.exposure) + 1
            draw.text(pt(left + 2, t_l - margin - 12), f"e{index}", fill=colour, font=font)
        if words:
            draw.text(pt(left, b_l + margin + 2), ",".join(words), fill=colour, font=font)
    return colour_of


def _box_colour(flags: Sequence[str]) -> tuple[int, int, int]:
    """Green, or the colour of the worst of ``flags``."""
    for flag in _FLAG_ORDER:
        if flag in flags:
            return _FLAG_COLOURS[flag]
    return _OK_COLOUR


def _profile_panel(
    draw: ImageDraw.ImageDraw,
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
    """Pillow's own font at ``size`` (older Pillows have one size only)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()
