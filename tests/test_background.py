"""The background image a method needs before measuring, and which methods use margins."""

from __future__ import annotations

import numpy as np

from blotquant.background import DRAWS_MARGINS, background_image
from blotquant.bands import find_bands
from blotquant.lanes import find_lanes
from blotquant.models import BACKGROUND_METHODS
from blotquant.rollingball import rolling_ball_background
from tests.conftest import make_blot


def _boxes(image, n):
    return find_bands(image, find_lanes(image, n), np.ones(n, bool))


def test_only_the_rolling_ball_needs_an_image():
    blot = make_blot(n_lanes=4, pitch=40, height=200, band_row=100)
    boxes = _boxes(blot.image, 4)
    for method in ("profile-baseline", "lane-edges", "none"):
        assert background_image(method, blot.image, boxes, 50.0) == (None, 0)
    assert background_image("rolling-ball", blot.image, [], 50.0) == (None, 0)


def test_rolling_ball_is_computed_only_over_the_rows_the_boxes_read():
    blot = make_blot(n_lanes=4, pitch=40, height=300, band_row=150, noise=2.0)
    boxes = _boxes(blot.image, 4)
    image, first = background_image("rolling-ball", blot.image, boxes, 20.0)
    assert 0 < first and first + image.shape[0] < blot.image.shape[0]
    for box in boxes:
        tops = box.column_tops()[1]
        assert first <= tops.min() - box.margin
        assert tops.max() + box.height + box.margin < first + image.shape[0]
    whole = rolling_ball_background(blot.image, 20.0)
    np.testing.assert_allclose(image, whole[first : first + image.shape[0]], rtol=1e-5)


def test_margin_methods_are_background_methods():
    assert set(DRAWS_MARGINS) < set(BACKGROUND_METHODS)
    assert "rolling-ball" not in DRAWS_MARGINS
