"""Doublets: two bands of one antibody close together, boxed whole or one at a time."""

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


def test_a_faint_band_beside_a_strong_one_is_not_a_doublet_and_stays_out_of_the_baseline():
    upper, lower, image = _doublet(share=0.25)
    boxes, net = _measure(image, upper.centers)
    assert not any(b.doublet for b in boxes)
    np.testing.assert_allclose(net, upper.volumes, rtol=0.02)


def test_bands_far_apart_are_not_a_doublet():
    upper, lower, image = _doublet(apart=40.0)
    boxes, _ = _measure(image, upper.centers)
    assert not any(b.doublet for b in boxes)
