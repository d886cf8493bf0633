"""QC pictures: their layout and names."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from blotquant.inspection import inspect_image
from blotquant.models import Measurement
from blotquant.qc import THUMBNAIL_WIDTH, qc_name, render_qc_and_thumbnail

ROOT = Path(__file__).resolve().parents[1]


def test_a_picture_is_the_image_under_a_title_over_one_panel_per_analysis():
    inspection = inspect_image(ROOT / "sample_images" / "rep3_AKT.png", n_lanes=14)
    png, thumbnail = render_qc_and_thumbnail(inspection.image, [inspection.analysis])
    assert png == inspection.picture  # the thumbnail costs the picture nothing
    picture = Image.open(io.BytesIO(png))
    assert picture.mode == "P" and picture.size == (978, 28 + 340 + 110)
    small = Image.open(io.BytesIO(thumbnail))
    assert small.format == "JPEG" and small.width <= THUMBNAIL_WIDTH


def test_small_images_are_enlarged_so_labels_stay_readable(tmp_path):
    Image.open(ROOT / "sample_images" / "rep3_AKT.png").crop((0, 0, 330, 300)).save(
        tmp_path / "small.png"
    )
    inspection = inspect_image(tmp_path / "small.png", n_lanes=5)
    picture = Image.open(io.BytesIO(inspection.picture))
    assert picture.size == (330 * 3, 28 + 300 * 3 + 110)


def test_names_are_safe_file_names():
    m = Measurement("rep 1", "exports/blot #3.tif", Path("/x/blot #3.tif"), "p-AKT", channel=2)
    assert qc_name(m, with_channel=False) == "rep_1__blot_3.png"
    assert qc_name(m, with_channel=True) == "rep_1__blot_3_ch2.png"


def test_the_lanes_treatments_are_written_under_the_picture():
    inspection = inspect_image(ROOT / "sample_images" / "rep3_AKT.png", n_lanes=14)
    membrane = inspection.analysis.measurement.membrane
    names = {membrane: ["DMSO"] + [f"linsitinib {10**k} nM parental" for k in range(13)]}
    png, _ = render_qc_and_thumbnail(inspection.image, [inspection.analysis], lane_names=names)
    picture = Image.open(io.BytesIO(png))
    plain = Image.open(io.BytesIO(inspection.picture))
    # a key of 14 lanes wraps onto a few 16-px lines under the profiles
    extra = picture.height - plain.height
    assert picture.width == plain.width and extra > 16 and (extra - 6) % 16 == 0
    key = np.asarray(picture.convert("L"))[plain.height :]
    assert (key > 200).any()  # light text on the dark ground
