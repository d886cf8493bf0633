"""Doublets and bubbles: two bands of one antibody close together; voids over a band."""

from __future__ import annotations

import numpy as np
import pytest

from blotquant.bands import find_bands
from blotquant.lanes import fixed_lanes
from blotquant.quantify import measure_band
from tests.conftest import make_blot

AMPLITUDES_UPPER = np.array([800.0, 1200.0, 600.0, 1500.0, 900.0, 1000.0])


def _doublet(share: float = 0.7, apart: float = 12.0, noise: float = 2.0):
    """Upper bands at row 60, lower ones ``apart`` rows below with ``share`` of the volume."""
    upper = make_blot(amplitudes=AMPLITUDES_UPPER, band_row=60.0, noise=noise, seed=1)
    lower = make_blot(
        amplitudes=AMPLITUDES_UPPER * share, band_row=60.0 + apart, background=0.0, seed=2
    )
    return upper, lower, upper.image + lower.image


def _measure(image, centers, **kw):
    lanes = fixed_lanes(centers, None, image.shape[0] / 2)
    boxes = find_bands(image, lanes, np.ones(len(centers), bool), **kw)
    return boxes, [measure_band(image, b, method="profile-baseline").net_volume for b in boxes]


def test_a_doublet_is_boxed_whole_in_every_lane_by_default():
    upper, lower, image = _doublet()
    boxes, net = _measure(image, upper.centers)
    assert all(b.doublet for b in boxes)
    share = net / (upper.volumes + lower.volumes)
    # the same share of every lane's doublet (fold changes exact), nearly all of it
    np.testing.assert_allclose(share, np.median(share), rtol=0.002)
    assert 0.985 <= np.median(share) <= 1.0


@pytest.mark.parametrize("band", ["upper", "lower"])
def test_one_band_of_a_doublet_is_split_off_at_the_dip(band):
    upper, lower, image = _doublet()
    boxes, net = _measure(image, upper.centers, band=band)
    truth = upper.volumes if band == "upper" else lower.volumes
    # a drop line at the dip between bands 4 sigma apart: a percent or two of the
    # overlapping flanks goes to the other band, the same share in every lane
    np.testing.assert_allclose(net / truth, np.median(net / truth), rtol=0.01)
    np.testing.assert_allclose(net, truth, rtol=0.05)
    # the baseline is read on membrane above and below the whole doublet
    assert all(b.part is not None for b in boxes)


def test_a_faint_band_beside_a_strong_one_is_not_a_doublet():
    upper, lower, image = _doublet(share=0.25)
    boxes, net = _measure(image, upper.centers)
    assert not any(b.doublet for b in boxes)
    # the box stops short of it, its margin in the valley: the same share of
    # every lane's band (the straight baseline there still takes too much)
    share = np.asarray(net) / upper.volumes
    np.testing.assert_allclose(share, np.median(share), rtol=0.01)


def test_bands_far_apart_are_not_a_doublet():
    upper, lower, image = _doublet(apart=40.0)
    boxes, _ = _measure(image, upper.centers)
    assert not any(b.doublet for b in boxes)


# --- bubbles -------------------------------------------------------------------------


def _bubbled(lane: int | None, *, grain: float = 0.0):
    """A 16-bit blot; a round void (no band, 30 % less background) over one lane's band."""
    from scipy import ndimage

    blot = make_blot(
        n_lanes=6, pitch=50, height=200, band_row=100.0, sigma=5.0,
        amplitudes=[3000.0] * 6, background=2000, noise=3.0, seed=4,
    )  # fmt: skip
    image = blot.image.copy()
    if grain:
        rng = np.random.default_rng(5)
        texture = ndimage.gaussian_filter(rng.normal(size=image.shape), 2.0)
        image += grain * texture / texture.std()
    if lane is not None:
        yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
        disk = np.hypot(xx - blot.centers[lane] - 4, yy - 102) <= 9
        band = blot.image - 2000  # the bands (and their noise) alone
        image[disk] -= band[disk] + 0.3 * 2000
    return np.clip(np.rint(image), 0, 65535).astype(np.uint16)


def _flags(pixels):
    from pathlib import Path

    from blotquant.io import BlotImage
    from blotquant.models import Lane, Measurement, Membrane
    from blotquant.pipeline import analyze_image

    membrane = Membrane("m", tuple(Lane(k + 1, metadata={"treatment": "t"}) for k in range(6)))
    measurement = Measurement("m", "x.tif", Path("x.tif"), "X")
    analysis = analyze_image(BlotImage.from_array(pixels, ceiling=65535.0), measurement, membrane)
    return [b.flags for b in analysis.bands]


def test_a_bubble_over_a_band_is_flagged_and_only_there():
    flags = _flags(_bubbled(2))
    assert ["bubble" in f for f in flags] == [False, False, True, False, False, False], flags


@pytest.mark.parametrize("grain", [0.0, 60.0])
def test_bands_without_a_bubble_are_not_flagged(grain):
    flags = _flags(_bubbled(None, grain=grain))
    assert not any("bubble" in f for f in flags), flags
