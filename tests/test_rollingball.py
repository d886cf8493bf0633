"""Rolling-ball background: parity with ImageJ 1.53t, and its basic properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from blotquant.rollingball import (
    ball_for_radius,
    rolling_ball_background,
    rolling_ball_rows,
    subtract_background,
)

DATA = Path(__file__).parent / "data" / "imagej"
RUNS = json.loads((DATA / "manifest.json").read_text())["runs"]


@pytest.mark.parametrize(
    "run",
    RUNS,
    ids=[f"{r['image']}-r{r['radius']}-{'s' if r['smoothing'] else 'ns'}" for r in RUNS],
)
def test_background_equals_imagej(run):
    """Within 1 % of the image's range at the 99th percentile (in fact to float precision)."""
    image = tifffile.imread(DATA / run["image"])
    imagej = tifffile.imread(DATA / run["imagej_background"]).astype(np.float64)
    ours = rolling_ball_background(
        image, run["radius"], light_background=run["light"], smoothing=run["smoothing"]
    )
    difference = np.abs(ours - imagej)
    span = float(image.max()) - float(image.min())
    assert np.percentile(difference, 99) <= 0.01 * span
    # ImageJ computes in 32-bit floats; agreement is to that precision
    assert difference.max() <= 1e-5 * max(span, float(np.abs(imagej).max()))


def test_ball_sizes_follow_imagej():
    assert ball_for_radius(10)[0] == 1 and ball_for_radius(25)[0] == 2
    assert ball_for_radius(50)[0] == 4 and ball_for_radius(150)[0] == 8
    shrink, patch = ball_for_radius(50)
    assert patch.shape[0] % 2 == 1 and patch.max() == pytest.approx(50 / shrink)


def test_flat_image_is_its_own_background():
    flat = np.full((40, 60), 123.0)
    for radius in (5, 20, 60):
        np.testing.assert_allclose(rolling_ball_background(flat, radius), 123.0)


def test_background_stays_under_the_image_without_smoothing():
    # (for radius <= 10 ImageJ does not shrink; after shrinking, its bilinear
    # enlargement may rise slightly above the image, and so does ours)
    image = np.random.default_rng(1).normal(500, 30, (80, 90))
    background = rolling_ball_background(image, 8, smoothing=False)
    # (in single precision, as ImageJ)
    assert np.all(background <= image + 1e-4)
    light = rolling_ball_background(image, 8, smoothing=False, light_background=True)
    assert np.all(light >= image - 1e-4)


def test_offset_moves_the_background_by_the_same_amount():
    image = np.random.default_rng(2).normal(500, 30, (60, 70))
    np.testing.assert_allclose(
        rolling_ball_background(image + 1000, 20),
        rolling_ball_background(image, 20) + 1000,
        rtol=1e-6,
    )


def test_narrow_band_is_removed_and_a_wide_plateau_kept():
    image = np.full((120, 120), 100.0)
    image[58:62, 20:100] += 500  # a band 4 rows tall
    image[:, :10] += 300  # a step along the whole left edge
    flat = subtract_background(image, 20, smoothing=False)
    assert flat[60, 50] == pytest.approx(500, rel=0.02)
    assert abs(flat[30, 3]) < 1.0


def test_input_is_not_modified():
    image = np.arange(50 * 60, dtype=np.uint16).reshape(50, 60)
    before = image.copy()
    rolling_ball_background(image, 10, light_background=True)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("radius", [5, 20, 50, 150])
def test_rows_only_equal_the_whole_background(radius):
    # the fast path measures only the rows the boxes read; inside them it must
    # give exactly the whole image's background
    rng = np.random.default_rng(3)
    image = rng.normal(1000, 40, (400, 300)) + np.linspace(0, 800, 300)[None, :]
    image = image.astype(np.uint16)
    image[150:160, 50:250] += 3000
    for light in (False, True):
        whole = rolling_ball_background(image, radius, light_background=light)
        for rows in ((100, 200), (0, 50), (350, 400), (0, 400)):
            part = rolling_ball_rows(image, radius, rows, light_background=light)
            np.testing.assert_array_equal(part, whole[rows[0] : rows[1]])
