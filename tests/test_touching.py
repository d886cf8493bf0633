"""Box edges between bands that touch: each box holds its own band."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import integrate

from blotquant.bands import find_bands
from blotquant.lanes import fixed_lanes
from blotquant.quantify import measure_band
from blotquant.synth import BlotSpec, StripSpec, render_blot
from blotquant.touching import (
    balance_touching,
    balanced_edge,
    fit_lateral_shape,
    flank_beyond,
    lateral_shape,
)

PITCH = 60.0
VOLUMES = [2.0e5, 1.2e5, 2.6e5, 1.5e5, 2.4e5, 1.0e5]


def test_the_shape_holds_its_width_and_its_flank_is_its_integral():
    x = np.linspace(-80, 80, 16001)
    shape = lateral_shape(x, 20.0, 4.0)
    assert shape.max() == pytest.approx(1.0, abs=1e-6)
    assert integrate.trapezoid(shape, x) == pytest.approx(40.0, rel=1e-4)
    flank, _ = integrate.quad(lambda u: float(lateral_shape(u, 20.0, 4.0)), 23.0, 200.0)
    assert flank_beyond(23.0, 20.0, 4.0) == pytest.approx(flank, rel=1e-6)


def test_the_edge_is_the_midpoint_for_equal_bands_and_moves_towards_the_weaker():
    centers = np.array([100.0, 160.0])
    equal = balanced_edge(np.array([1.0, 1.0]), centers, half_width=28.0, softness=5.0)
    assert equal == pytest.approx(130.0, abs=0.02)
    # the brighter band's flank reaches farther: the edge gives it more room
    edge = balanced_edge(np.array([3.0, 1.0]), centers, half_width=28.0, softness=5.0)
    assert 130.0 < edge < 160.0
    gives = 3.0 * flank_beyond(edge - 100.0, 28.0, 5.0)
    takes = 1.0 * flank_beyond(160.0 - edge, 28.0, 5.0)
    assert gives == pytest.approx(takes, rel=1e-3)


def test_the_fit_finds_the_shape_and_each_lanes_height():
    columns = np.arange(0.0, 400.0)
    centers = np.array([80.0, 140.0, 200.0, 260.0, 320.0])
    heights = np.array([5.0, 2.0, 4.0, 3.0, 6.0])
    profile = sum(
        h * lateral_shape(columns - c, 29.0, 5.0) for h, c in zip(heights, centers, strict=True)
    )
    half_width, softness, found, placed, explained = fit_lateral_shape(
        columns, profile, centers + np.array([0, 2.0, 0, -2.0, 0]), PITCH
    )
    assert half_width == pytest.approx(29.0, abs=0.05)
    assert softness == pytest.approx(5.0, abs=0.05)
    np.testing.assert_allclose(found, heights, rtol=1e-3)
    np.testing.assert_allclose(placed, centers, atol=0.05)
    assert explained > 0.9999


def _touching_image(
    amplitudes: np.ndarray, *, softness: float, noise: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bands a pitch wide whose soft edges are blurred box edges (the model's own shape)."""
    centers = 80.0 + PITCH * np.arange(len(amplitudes))
    yy, xx = np.mgrid[0:160, 0:460].astype(float)
    rows = np.exp(-0.5 * ((yy - 80.0) / 4.0) ** 2)
    image = 1000.0 + sum(
        a * lateral_shape(xx - c, 0.5 * PITCH, softness) * rows
        for a, c in zip(amplitudes, centers, strict=True)
    )
    image = image + np.random.default_rng(4).normal(0.0, noise, image.shape)
    truth = amplitudes * PITCH * np.sqrt(2 * np.pi) * 4.0
    return image, centers, truth


def _midpoint_boxes(signal: np.ndarray, centers: np.ndarray):
    # box edges at the midpoints between lanes, as lane finding gives them
    # where no valley parts two bands
    lanes = replace(fixed_lanes(centers, PITCH, 79.5), bounds=0.5 * (centers[:-1] + centers[1:]))
    return find_bands(signal, lanes, np.ones(len(centers), bool))


def _volumes(signal: np.ndarray, boxes) -> np.ndarray:
    return np.array([measure_band(signal, b, method="profile-baseline").net_volume for b in boxes])


def test_touching_bands_are_measured_to_their_own_volume():
    amplitudes = np.array([500.0, 250.0, 650.0, 300.0, 600.0, 200.0])
    signal, centers, truth = _touching_image(amplitudes, softness=6.0)
    boxes = _midpoint_boxes(signal, centers)
    plain_error = np.abs(_volumes(signal, boxes) / truth - 1)
    balanced_boxes = balance_touching(signal, boxes, pitch=PITCH)
    balanced_error = np.abs(_volumes(signal, balanced_boxes) / truth - 1)
    # each midpoint box holds part of its neighbours' flanks and misses part of its own
    assert plain_error.max() > 0.05
    # (what is left is the edge rounded to whole columns: up to half a column
    # of a flank at half height, 1.3 % beside a band twice as bright)
    assert balanced_error.max() < 0.015
    assert np.median(balanced_error) < 0.005
    assert all(b.touching for b in balanced_boxes)
    # the edges between boxes still meet: no column is counted twice or left out
    for left, right in zip(balanced_boxes[:-1], balanced_boxes[1:], strict=False):
        assert left.x_right == right.x_left


def test_bands_with_other_flanks_are_still_measured_better():
    # the generator's merged strip: logistic flanks, heavier than the model's
    strip = StripSpec(
        "GAPDH", 160, 80.0, VOLUMES, sigma=4.0, background=1000.0,
        band_half_width=0.5, edge_softness=0.1 * PITCH,
    )  # fmt: skip
    spec = BlotSpec(
        width=460, strips=[strip], n_lanes=6, pitch=PITCH, first_lane=80.0, read_noise=5.0
    )
    image, truth = render_blot(spec, np.random.default_rng(4))
    signal, volumes = image.astype(float), np.array([t.true_volume for t in truth])
    boxes = _midpoint_boxes(signal, spec.lane_centers())
    plain_error = np.abs(_volumes(signal, boxes) / volumes - 1)
    balanced = balance_touching(signal, boxes, pitch=PITCH)
    balanced_error = np.abs(_volumes(signal, balanced) / volumes - 1)
    assert balanced_error.max() < 0.5 * plain_error.max()


def test_bands_apart_are_left_as_they_were():
    strip = StripSpec("AKT", 160, 80.0, VOLUMES, sigma=4.0, background=1000.0)
    spec = BlotSpec(
        width=460, strips=[strip], n_lanes=6, pitch=PITCH, first_lane=80.0, read_noise=5.0
    )
    image, _ = render_blot(spec, np.random.default_rng(5))
    signal = image.astype(float)
    lanes = fixed_lanes(spec.lane_centers(), 0.8 * PITCH, 79.5)
    boxes = find_bands(signal, lanes, np.ones(6, bool))
    assert balance_touching(signal, boxes, pitch=PITCH) == boxes
