"""Lanes checked against the membrane: a lane count that does not fit is caught."""

from __future__ import annotations

import numpy as np

from blotquant.lanecheck import bare_lanes, lane_evidence
from blotquant.lanes import LaneGeometry, find_lanes, fixed_lanes
from tests.conftest import make_blot


def _geometry(centers, width: float = 28.0) -> LaneGeometry:
    return fixed_lanes(np.asarray(centers, float), width, ref_row=60.0)


def _two_strips(n_lanes: int = 8, pitch: float = 40.0):
    """Bands in two rows, as on a membrane cut in strips (each lane has both)."""
    top = make_blot(n_lanes=n_lanes, pitch=pitch, band_row=40.0, height=160, noise=2.0)
    low = make_blot(n_lanes=n_lanes, pitch=pitch, band_row=110.0, height=160, noise=2.0, seed=1)
    return top.image + low.image - 100.0, top.centers


def test_right_lanes_raise_no_doubt():
    image, centers = _two_strips()
    evidence = lane_evidence(image, _geometry(centers))
    assert evidence.doubts() == []
    assert len(evidence.columns) == 8 and len(evidence.stray) == 0
    assert np.all(evidence.presence > 0.5)


def test_lanes_found_automatically_raise_no_doubt():
    image, centers = _two_strips()
    assert lane_evidence(image, find_lanes(image, 8)).doubts() == []


def test_lanes_shifted_by_one_leave_a_band_column_outside():
    image, centers = _two_strips()
    shifted = centers[1:] + 40.0  # lane 1 on the second band, the last on bare membrane
    evidence = lane_evidence(image, _geometry(shifted))
    assert len(evidence.stray) >= 1 and abs(evidence.stray[0] - centers[0]) < 6
    assert "outside every lane" in evidence.doubts()[0]
    assert evidence.presence[-1] < 0.1


def test_one_lane_too_few_is_caught():
    image, _ = _two_strips()
    assert lane_evidence(image, find_lanes(image, 7)).doubts()


def test_one_lane_too_many_is_caught():
    image, _ = _two_strips()
    doubts = lane_evidence(image, find_lanes(image, 9)).doubts()
    assert doubts, "nine lanes on an eight-lane membrane must be doubted"


def test_lanes_squeezed_onto_half_the_bands_leave_signal_outside():
    image, centers = _two_strips()
    squeezed = centers[0] + 0.5 * (centers - centers[0])
    evidence = lane_evidence(image, _geometry(squeezed, width=14.0))
    assert evidence.outside_share > 0.25
    assert any("outside the boxes" in d for d in evidence.doubts())


def test_bare_lanes_are_sample_lanes_empty_in_every_image():
    presences = [np.array([1.0, 0.9, 0.02, 0.0]), np.array([0.8, 1.1, 0.5, 0.01])]
    sample = np.array([True, True, True, True])
    assert bare_lanes(presences, sample).tolist() == [4]
    assert bare_lanes(presences, np.array([True, True, True, False])).tolist() == []
