"""Finding the membrane inside frames at the image's edges (tiny synthetic images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blotquant.io import BlotImage
from blotquant.membrane import find_membrane
from blotquant.models import Lane, Measurement, Membrane
from blotquant.pipeline import analyze_image
from tests.conftest import make_blot


def _framed(inner: np.ndarray, level: float, margins=(30, 12, 25, 15)) -> np.ndarray:
    """``inner`` inside a flat frame of ``level``: margins left, top, right, bottom."""
    left, top, right, bottom = margins
    height, width = inner.shape
    image = np.full((height + top + bottom, width + left + right), level)
    image[top : top + height, left : left + width] = inner
    return image


def _membrane(n: int) -> Membrane:
    return Membrane("m1", tuple(Lane(i + 1, "sample", {"treatment": "t"}) for i in range(n)))


def _measurement(**kwargs) -> Measurement:
    return Measurement("m1", "blot.tif", Path("blot.tif"), "AKT", **kwargs)


@pytest.mark.parametrize("level", [150.0, 30000.0])  # a dark tray, a bright one
def test_a_frame_on_every_side_is_cut_away(level):
    blot = make_blot(n_lanes=6, pitch=40.0, height=120, background=1000.0, noise=5.0)
    box = find_membrane(_framed(blot.image, level))
    height, width = blot.image.shape
    assert box.cut == ("left", "top", "right", "bottom")
    # inside the membrane, and no more than a few pixels into it
    assert 30 <= box.left <= 36 and 12 <= box.top <= 18
    assert 30 + width - 6 <= box.right <= 30 + width
    assert 12 + height - 6 <= box.bottom <= 12 + height


def test_a_membrane_that_fills_the_image_is_left_whole():
    blot = make_blot(n_lanes=6, pitch=40.0, height=120, background=1000.0, noise=5.0)
    box = find_membrane(blot.image)
    assert box.cut == () and box.crop == (0, 0, blot.image.shape[1], blot.image.shape[0])


def test_a_gradient_a_band_at_the_edge_and_a_label_are_not_frames():
    blot = make_blot(n_lanes=6, pitch=40.0, height=120, background=1000.0, noise=5.0)
    image = blot.image.copy()
    height, width = image.shape
    image += np.linspace(0, 800, width)[None, :]  # a strong, smooth gradient
    image[:6, :] += 3000.0 * np.exp(-0.5 * ((np.arange(width) % 40 - 20) / 8.0) ** 2)[None, :]
    image[50:70, :12] += 4000.0  # a label at the left edge, over part of its height
    assert find_membrane(image).cut == ()


def test_a_frame_found_keeps_the_lanes_off_it_and_crop_full_turns_it_off():
    blot = make_blot(n_lanes=6, pitch=40.0, height=120, background=1000.0, noise=5.0)
    image = BlotImage.from_array(_framed(blot.image, 30000.0))
    found = analyze_image(image, _measurement(), _membrane(6))
    assert found.crop is not None and found.frame_cut == ("left", "top", "right", "bottom")
    centres = found.lanes.centers + found.col_offset
    np.testing.assert_allclose(centres, blot.centers + 30, atol=2.0)
    for band, volume in zip(found.bands, blot.volumes, strict=True):
        assert band.net_volume == pytest.approx(volume, rel=0.02)
    whole = analyze_image(image, _measurement(find_membrane=False), _membrane(6))
    assert whole.crop is None and whole.frame_cut == ()


def test_lanes_given_by_hand_keep_every_column():
    blot = make_blot(n_lanes=4, pitch=40.0, height=120, background=1000.0, noise=5.0)
    image = BlotImage.from_array(_framed(blot.image, 30000.0))
    centres = tuple(float(x) for x in blot.centers + 30)
    result = analyze_image(image, _measurement(lane_centers=centres), _membrane(4))
    assert result.col_offset == 0 and result.frame_cut == ("top", "bottom")
