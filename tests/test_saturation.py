"""Saturation means the detector: plateaus of a band, not stretched exports or graphics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blotquant import BlotquantError
from blotquant.io import BlotImage
from blotquant.models import Lane, Measurement, Membrane
from blotquant.pipeline import analyze_image
from blotquant.saturation import MIN_PLATEAU, membrane_limit_mask, saturated_plateaus
from tests.conftest import make_blot


def _blot_8bit(amplitudes, *, noise=1.0, background=20.0, seed=0):
    blot = make_blot(
        n_lanes=len(amplitudes), pitch=40, amplitudes=amplitudes, background=background,
        noise=noise, seed=seed,
    )  # fmt: skip
    return blot, np.clip(np.rint(blot.image), 0, 255).astype(np.uint8)


def test_a_clipped_band_is_a_plateau_and_is_saturated():
    blot, pixels = _blot_8bit([60, 60, 400, 60])
    saturated, lone, marks = saturated_plateaus(pixels, "light-bands", 255.0)
    assert saturated.sum() >= 20 and marks == 0
    columns = np.flatnonzero(saturated.any(axis=0))
    # every saturated pixel is the third band's
    assert abs(columns.mean() - blot.centers[2]) < 5


def test_a_band_grazing_the_limit_is_saturated_from_two_pixels():
    pixels = np.full((30, 30), 20, np.uint8)
    yy, xx = np.mgrid[0:30, 0:30]
    pixels[:] = np.clip(20 + 234 * np.exp(-((yy - 15) ** 2) / 8 - (xx - 15) ** 2 / 60), 0, 255)
    pixels[15, 15:17] = 255
    saturated, _, _ = saturated_plateaus(pixels, "light-bands", 255.0)
    assert saturated.sum() == MIN_PLATEAU


def test_a_stretched_exports_lone_top_pixel_is_not_saturation():
    # an auto-contrast export sets its brightest pixel, and only it, to 255
    _, pixels = _blot_8bit([60, 60, 100, 60])
    pixels = pixels.copy()
    pixels[np.unravel_index(np.argmax(pixels), pixels.shape)] = 255
    saturated, lone, marks = saturated_plateaus(pixels, "light-bands", 255.0)
    assert not saturated.any() and lone == 1 and marks == 0


def test_burned_in_box_outlines_are_not_saturation():
    _, pixels = _blot_8bit([60, 60, 100, 60])
    pixels = pixels.copy()
    pixels[40:80, 45:75][[0, -1], :] = 255  # a box drawn round the second band
    pixels[40:80, 45:75][:, [0, -1]] = 255
    saturated, _, marks = saturated_plateaus(pixels, "light-bands", 255.0)
    assert not saturated.any() and marks == 2 * 30 + 2 * 38


def test_dark_bands_saturate_at_the_floor_and_paper_white_is_the_membrane():
    _, light = _blot_8bit([60, 60, 400, 60])
    dark = (255 - light).astype(np.uint8)
    saturated, _, _ = saturated_plateaus(dark, "dark-bands", 255.0, floor=0.0)
    expected, _, _ = saturated_plateaus(light, "light-bands", 255.0)
    np.testing.assert_array_equal(saturated, expected)
    white = membrane_limit_mask(np.array([[255, 3]], np.uint8), "dark-bands", 255.0, 0.0)
    np.testing.assert_array_equal(white, [[True, False]])


def _analyze(pixels, ceiling=255.0):
    membrane = Membrane("m", tuple(Lane(k + 1, metadata={"treatment": "t"}) for k in range(4)))
    measurement = Measurement("m", "x.png", Path("x.png"), "X")
    return analyze_image(BlotImage.from_array(pixels, ceiling=ceiling), measurement, membrane)


def test_dark_bands_on_paper_white_are_measured_and_flagged_clipped_export():
    # a JPEG on paper: the membrane's white is clipped at 255 almost everywhere
    blot, light = _blot_8bit([60, 80, 100, 120], noise=2.0, background=-4.0)
    paper = (255 - light).astype(np.uint8)
    assert membrane_limit_mask(paper, "dark-bands", 255.0).mean() > 0.5
    analysis = _analyze(paper)
    assert analysis.polarity == "dark-bands"
    flags = [b.flags for b in analysis.bands]
    assert all("clipped-export" in f and "saturated" not in f for f in flags), flags


def test_a_raw_image_mostly_at_its_limit_is_still_refused():
    pixels = np.full((60, 200), 65535, np.uint16)
    pixels[:, ::7] = 1000
    with pytest.raises(BlotquantError, match="shorter exposure"):
        _analyze(pixels, ceiling=65535.0)
