"""Lane and band finding on tiny synthetic blots."""

from __future__ import annotations

import numpy as np
import pytest

from blotquant.bands import box_heights, box_presence, find_bands
from blotquant.lanes import LaneGeometry, find_lanes, fixed_lanes
from tests.conftest import make_blot


def test_even_lanes_found_within_a_pixel():
    blot = make_blot(n_lanes=8, pitch=40, noise=5)
    lanes = find_lanes(blot.image, 8)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.0)
    assert lanes.found.all()


@pytest.mark.parametrize("pitch", [35, 60, 120])
def test_lane_pitch_range(pitch):
    blot = make_blot(n_lanes=7, pitch=pitch, noise=3)
    lanes = find_lanes(blot.image, 7)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.0)


def test_uneven_spacing_is_followed():
    jitter = np.array([0, 4, -3, 5, -4, 2, 0])
    blot = make_blot(n_lanes=7, pitch=50, jitter=jitter, noise=3)
    lanes = find_lanes(blot.image, 7)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.0)


def test_lanes_that_touch_are_placed_from_their_free_edges():
    # lanes 3 and 4 moved 18 px towards each other: their bands touch, the
    # profile never falls below half height between them, and their sum
    # bulges where they overlap; each centre is half a lane's width in from
    # the lane's free edge
    jitter = np.array([0, 0, 9, -9, 0, 0, 0, 0])
    amps = np.array([1000, 900, 1100, 800, 1000, 950, 1050, 1000.0])
    blot = make_blot(n_lanes=8, pitch=60, half_width=25.0, jitter=jitter, amplitudes=amps, noise=3)
    lanes = find_lanes(blot.image, 8)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.0)
    # the box edge between them is their midpoint, not the foot of one
    assert lanes.bounds is not None
    assert lanes.bounds[2] == pytest.approx(0.5 * (blot.centers[2] + blot.centers[3]), abs=1.5)


def test_empty_and_faint_lanes_are_placed_by_the_comb():
    amps = np.array([1000, 1000, 0, 1000, 30, 1000, 0.0])
    blot = make_blot(n_lanes=7, pitch=45, amplitudes=amps, noise=3)
    lanes = find_lanes(blot.image, 7)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.5)
    assert not lanes.found[2] and not lanes.found[6]


def test_horizontal_background_gradient_does_not_shift_lanes():
    blot = make_blot(n_lanes=8, pitch=45, gradient=(3.0, 1.0), noise=4)
    lanes = find_lanes(blot.image, 8)
    np.testing.assert_allclose(lanes.centers, blot.centers, atol=1.0)


@pytest.mark.parametrize("tilt", [-2.0, 2.0])
def test_tilted_membrane_lanes_and_bands(tilt):
    blot = make_blot(n_lanes=10, pitch=50, tilt_deg=tilt, height=200, band_row=100, noise=3)
    lanes = find_lanes(blot.image, 10)
    boxes = find_bands(blot.image, lanes, np.ones(10, bool))
    rows = np.array([b.center_row for b in boxes])
    np.testing.assert_allclose(rows, blot.rows, atol=0.7)
    np.testing.assert_allclose([b.lane_x for b in boxes], blot.centers, atol=1.0)
    # the box follows the band's tilt across the lane
    expected_slope = np.tan(np.radians(tilt))
    np.testing.assert_allclose([b.slope for b in boxes], expected_slope, atol=0.01)


def test_smile_is_followed_lane_by_lane():
    blot = make_blot(n_lanes=11, pitch=45, smile=10.0, height=160, band_row=70, noise=3)
    lanes = find_lanes(blot.image, 11)
    boxes = find_bands(blot.image, lanes, np.ones(11, bool))
    np.testing.assert_allclose([b.center_row for b in boxes], blot.rows, atol=0.6)


def test_band_rows_window_excludes_a_stronger_band():
    main = make_blot(n_lanes=6, pitch=40, band_row=50, height=140, amplitudes=[500] * 6)
    other = make_blot(n_lanes=6, pitch=40, band_row=100, height=140, amplitudes=[3000] * 6)
    image = main.image + other.image - 100
    lanes = find_lanes(image, 6)
    chosen = find_bands(image, lanes, np.ones(6, bool))
    assert all(abs(b.center_row - 100) < 1 for b in chosen)  # strongest, unrestricted
    boxes = find_bands(image, lanes, np.ones(6, bool), band_rows=(30, 75))
    assert all(abs(b.center_row - 50) < 1 for b in boxes)
    assert all(b.band_bottom < 75 for b in boxes)


def test_band_that_lines_up_beats_a_blob_in_one_lane():
    blot = make_blot(n_lanes=6, pitch=40, band_row=40, height=140, amplitudes=[800] * 6)
    blob = make_blot(
        n_lanes=6, pitch=40, band_row=100, height=140, amplitudes=[0, 0, 5000, 0, 0, 0]
    )
    image = blot.image + blob.image - 100
    lanes = find_lanes(image, 6)
    boxes = find_bands(image, lanes, np.ones(6, bool))
    assert [round(b.center_row) for b in boxes] == [40] * 6


def test_lane_without_band_is_measured_where_the_band_should_be():
    amps = [1000, 1000, 1000, 0, 1000, 1000]
    blot = make_blot(n_lanes=6, pitch=40, amplitudes=amps, smile=4, noise=2)
    lanes = find_lanes(blot.image, 6)
    boxes = find_bands(blot.image, lanes, np.ones(6, bool))
    assert not boxes[3].detected
    assert abs(boxes[3].center_row - blot.rows[3]) < 1.5
    assert all(b.detected for i, b in enumerate(boxes) if i != 3)


def test_ladder_lane_gets_no_box_and_does_not_vote():
    blot = make_blot(n_lanes=6, pitch=40, band_row=60, height=160)
    ladder = np.zeros_like(blot.image)
    for row in (20, 45, 90, 130):
        mark = make_blot(
            n_lanes=6,
            pitch=40,
            band_row=row,
            height=160,
            amplitudes=[4000, 0, 0, 0, 0, 0],
            background=0,
        )
        ladder += mark.image
    image = blot.image + ladder
    lanes = find_lanes(image, 6)
    roles = np.array([False, True, True, True, True, True])
    boxes = find_bands(image, lanes, roles)
    assert [b.lane for b in boxes] == [2, 3, 4, 5, 6]
    assert all(abs(b.center_row - 60) < 1 for b in boxes)


def test_fixed_lanes_use_given_centres():
    lanes = fixed_lanes([10, 50, 90], 30, ref_row=20)
    assert lanes.width == 30 and lanes.slope == 0
    np.testing.assert_array_equal(lanes.centers, [10, 50, 90])


def test_box_height_is_the_same_in_every_lane():
    amps = np.linspace(200, 2000, 8)
    blot = make_blot(n_lanes=8, pitch=40, amplitudes=amps, noise=2)
    lanes = find_lanes(blot.image, 8)
    boxes = find_bands(blot.image, lanes, np.ones(8, bool))
    assert len({b.height for b in boxes}) == 1
    # 1.5 FWHM each side of a sigma-3 band: about 21 rows
    assert 17 <= boxes[0].height <= 25


def test_boxes_stop_at_the_valley_to_a_bright_neighbour_but_keep_their_width():
    # a lane 10x brighter than its neighbours, an empty lane and a faint one:
    # boxes do not reach into the bright neighbour, and the empty and faint
    # lanes keep full-width boxes (there is no valley of theirs to stop at)
    amps = np.array([1000, 10000, 1000, 0, 1000, 30, 1000.0])
    blot = make_blot(n_lanes=7, pitch=45, amplitudes=amps, noise=3)
    lanes = find_lanes(blot.image, 7)
    boxes = find_bands(blot.image, lanes, np.ones(7, bool))
    widths = np.array([b.x_right - b.x_left for b in boxes])
    assert widths.min() >= 0.6 * 45
    valley_12 = 0.5 * (blot.centers[0] + blot.centers[1])
    valley_23 = 0.5 * (blot.centers[1] + blot.centers[2])
    assert boxes[0].x_right <= valley_12 + 2 and boxes[2].x_left >= valley_23 - 2


def test_valley_is_never_near_a_lane_centre():
    from blotquant.lanes import _valleys

    # lanes at 20, 60, 100; the middle one is faint and dips at its centre,
    # the lowest point between the outer two
    x = np.arange(120, dtype=float)
    profile = np.exp(-0.5 * ((x - 20) / 6) ** 2) + np.exp(-0.5 * ((x - 100) / 6) ** 2)
    profile[58:63] = -0.01
    centers = np.array([20.0, 60.0, 100.0])
    heights = np.array([1.0, 0.0, 1.0])
    found = np.array([True, False, True])
    valleys = _valleys(profile, centers, heights, found)
    np.testing.assert_allclose(valleys, [40.0, 80.0])
    # between two lanes with bands: the middle of the gap, in the middle half
    two = _valleys(profile, np.array([20.0, 100.0]), np.array([1.0, 1.0]), np.array([True, True]))
    assert 40 <= two[0] <= 80


def test_a_lane_placed_just_off_the_image_is_measured_without_error():
    from blotquant.lanes import _measure_lanes

    # the comb may put an end lane up to a quarter pitch outside the image
    profile = np.zeros(200)
    profile[0:8] = 5.0
    profile[40:70] = 10.0
    refined, strengths, _ = _measure_lanes(profile, np.array([-10.0, 55.0]), 40.0)
    assert np.isfinite(refined).all() and strengths[1] == pytest.approx(10.0)


def test_lane_centres_at_any_row_follow_the_drift():
    lanes = LaneGeometry(np.array([20.0, 60.0]), 30.0, 0.1, 50.0, np.ones(2, bool))
    np.testing.assert_allclose(lanes.centers_at(70.0), [22.0, 62.0])
    assert lanes.drift_at(30.0) == pytest.approx(-2.0)
    rows = np.arange(100.0)
    np.testing.assert_array_equal(
        lanes.centers_at(rows[:, None])[:, 1], lanes.centers[1] + lanes.drift_at(rows)
    )


def test_marker_lanes_off_the_sample_pitch_do_not_shift_the_samples():
    # ten sample lanes in two band rows, and a marker band at each end, in a
    # row of its own and two pitches beyond the samples (as on real blots)
    top = make_blot(n_lanes=10, pitch=40.0, first=120.0, width=600, band_row=50.0, height=200)
    low = make_blot(n_lanes=10, pitch=40.0, first=120.0, width=600, band_row=140.0, height=200)
    marks = make_blot(
        n_lanes=2,
        pitch=440.0,
        first=80.0,
        width=600,
        band_row=20.0,
        height=200,
        background=0.0,
        half_width=14.0,
    )
    image = top.image + low.image - 100.0 + marks.image
    lanes = find_lanes(image, 12, ladder_ends=(1, 1))
    assert np.allclose(lanes.centers[1:-1], top.centers, atol=3.0)
    assert abs(lanes.centers[0] - 80.0) < 4.0 and abs(lanes.centers[-1] - 520.0) < 4.0
    assert lanes.found[0] and lanes.found[-1]


def test_a_ladder_mark_beside_the_sample_band_does_not_shift_the_samples():
    # a ladder lane at the sample pitch whose marks include one just above the
    # sample band: the rows of that mark and of the band run together
    samples = make_blot(n_lanes=11, pitch=60.0, first=120.0, width=780, band_row=110.0, height=240)
    ladder = np.zeros_like(samples.image)
    for row in (40.0, 100.0, 180.0):
        mark = make_blot(
            n_lanes=1, pitch=60.0, first=60.0, width=780, band_row=row, height=240,
            background=0.0, half_width=20.0, amplitudes=[4000.0],
        )  # fmt: skip
        ladder += mark.image
    lanes = find_lanes(samples.image + ladder, 12, ladder_ends=(1, 0))
    assert abs(lanes.centers[0] - 60.0) < 4.0
    assert np.allclose(lanes.centers[1:], samples.centers, atol=3.0)


def test_box_presence_tells_a_bare_lane_from_loaded_ones():
    amps = np.array([1000, 800, 0, 1200, 900, 1000.0])
    blot = make_blot(n_lanes=6, pitch=50, amplitudes=amps, noise=3)
    lanes = find_lanes(blot.image, 6)
    boxes = find_bands(blot.image, lanes, np.ones(6, bool))
    presence = box_presence(boxes, box_heights(blot.image, boxes), 6)
    assert presence[2] < 0.05
    assert np.all(presence[[0, 1, 3, 4, 5]] > 0.6)


def test_a_box_is_no_taller_than_a_few_band_windows_when_no_band_stands_out():
    # a broad glow across the membrane (film fogging, a smear) peaks inside
    # band_rows while the band itself is faint: the box used to take the
    # glow's width and run 1000 rows, off the image at both ends
    blot = make_blot(n_lanes=6, pitch=50, height=1000, band_row=500, amplitudes=np.full(6, 20.0))
    glow = 2000.0 * np.exp(-0.5 * ((np.arange(1000)[:, None] - 500) / 150.0) ** 2)
    image = blot.image + glow
    lanes = find_lanes(image, 6)
    boxes = find_bands(image, lanes, np.ones(6, bool), band_rows=(480, 520))
    for box in boxes:
        assert box.band_bottom - box.band_top + 1 <= 3 * 40 + 2
        assert 400 <= box.band_top and box.band_bottom <= 600


def test_a_faint_broad_hump_in_a_bare_lane_does_not_tilt_the_band_row():
    # bands in lanes 2 and 6 only; lane 1 holds a faint glow 85 rows wide, far
    # below them: two strong bands at one row outweigh it
    blot = make_blot(n_lanes=8, pitch=40.0, height=160, band_row=60.0,
                     amplitudes=[0, 1000, 0, 0, 0, 1000, 0, 0], noise=1.0, seed=2)  # fmt: skip
    rows = np.arange(160)[:, None]
    columns = np.arange(blot.image.shape[1])[None, :]
    glow = (
        12.0 * np.exp(-0.5 * ((rows - 110) / 36.0) ** 2) * (np.abs(columns - blot.centers[0]) < 16)
    )
    lanes = fixed_lanes(blot.centers, 38.0, 80.0)
    boxes = find_bands(blot.image + glow, lanes, np.ones(8, bool))
    assert all(b.height < 30 for b in boxes)
    assert all(abs(b.center_row - 60.0) < 2 for b in boxes[1:])  # (lane 1 leans to its glow)
