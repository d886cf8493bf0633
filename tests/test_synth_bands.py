"""The generator's flaws at the bands: off by default, drawn where they say, truth exact.

Grain, blotches under the bands, doublets, bubbles, a contrast-stretched
export and saturation judged by plateaus. As for the flaws in test_synth.py,
each one that is off must draw no random numbers and change no pixel, so
that the benchmark's membranes drawn before it existed stay identical.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from blotquant.saturation import MIN_PLATEAU
from blotquant.synth import BUBBLE_BACKGROUND_LOSS

# the same little membrane as test_synth.py's
from tests.test_synth import (
    BACKGROUND,
    N_LANES,
    PITCH,
    ROW,
    VOLUMES,
    _render,
    _spec,
    _strip,
)

NOISY = {"read_noise": 10.0, "shot_noise": 0.5, "dust": 3}


def test_band_flaws_off_change_nothing_and_deterministic_ones_draw_no_numbers():
    base = _spec([_strip(blotches=2), _strip("Y", blotches=1)], **NOISY)
    image, truth, state = _render(base)
    off = _spec(
        [
            _strip(blotches=2, blotches_under_bands=0, doublet=None),
            _strip("Y", blotches=1, blotches_under_bands=0, doublet=None),
        ],
        grain=0.0,
        grain_size=2.5,
        bubbles=0,
        stretch=False,
        stretch_range=None,
        **NOISY,
    )
    image_off, truth_off, state_off = _render(off)
    np.testing.assert_array_equal(image, image_off)
    assert truth == truth_off and state == state_off
    # a doublet and a stretched export change pixels but draw nothing
    on = _spec(
        [_strip(blotches=2, doublet=(12.0, 0.7)), _strip("Y", blotches=1)],
        stretch=True,
        **NOISY,
    )
    assert _render(on)[2] == state
    # the random ones do draw, where they say
    for spec in (
        replace(base, grain=0.04),
        replace(base, bubbles=1),
        replace(base, strips=[_strip(blotches=2, blotches_under_bands=1), base.strips[1]]),
    ):
        assert _render(spec)[2] != state


def test_grain_is_a_smooth_texture_of_the_background_only():
    plain, plain_truth, _ = _render(_spec())
    image, truth, _ = _render(_spec(grain=0.05, grain_size=2.0))
    assert truth == plain_truth
    extra = image - plain
    # its SD is the asked share of the background (whole counts: +-0.5)
    assert extra.std() == pytest.approx(0.05 * BACKGROUND, rel=0.05)
    # smooth: neighbours move together (white noise blurred by 2 px: about 0.9)
    assert np.corrcoef(extra[:, :-1].ravel(), extra[:, 1:].ravel())[0, 1] > 0.8
    # added, not multiplied: as strong under the bands as between them
    band_rows = extra[int(ROW) - 4 : int(ROW) + 5]
    assert band_rows.std() == pytest.approx(extra.std(), rel=0.25)


def test_blotches_under_bands_sit_on_the_band_row():
    plain, plain_truth, _ = _render(_spec())
    spec = _spec([_strip(blotches_under_bands=3)])
    image, truth, _ = _render(spec)
    assert truth == plain_truth
    extra = image - plain
    peak_row, peak_col = np.unravel_index(np.argmax(extra), extra.shape)
    # centred on the band's row, within 0.3 pitch of a lane centre
    assert abs(peak_row - ROW) <= 1
    assert np.min(np.abs(spec.lane_centers() - peak_col)) <= 0.3 * PITCH + 1
    # 10-35 % of the background each (three may overlap)
    assert 0.1 * BACKGROUND - 1 <= extra.max() <= 3 * 0.35 * BACKGROUND + 1
    # smooth and wide: a lane or more across
    assert extra[peak_row, peak_col + 12] > 0.5 * extra.max()


def test_doublet_shares_the_lane_volume_between_two_bands():
    offset, fraction = 12.0, 0.6
    spec = _spec([_strip(doublet=(offset, fraction))])
    image, truth, _ = _render(spec)
    centers = spec.lane_centers()
    for t in truth:
        assert t.true_volume == VOLUMES[t.lane - 1]
        # the truth's row is the middle of the pair, where its box is centred
        assert t.band_row == pytest.approx(ROW + offset / 2)
        cols = slice(int(centers[t.lane - 1] - PITCH / 2), int(centers[t.lane - 1] + PITCH / 2))
        lane = image[:, cols] - BACKGROUND
        assert lane.sum() == pytest.approx(t.true_volume, rel=2e-3)
        # two peaks, resolved, in the ratio 1 : fraction
        column = lane[:, lane.shape[1] // 2]
        first, second = column[int(ROW)], column[int(ROW + offset)]
        assert second / first == pytest.approx(fraction, rel=0.02)
        assert column[int(ROW + offset / 2)] < 0.9 * second  # a valley between


def test_bubbles_take_the_protein_and_some_background_and_are_in_the_truth():
    plain, plain_truth, _ = _render(_spec())
    image, truth, _ = _render(_spec(bubbles=2))
    bubbled = [t for t in truth if t.bubble]
    assert 1 <= len(bubbled) <= 2
    # the truth volume is what was loaded, whatever the bubble took
    assert [t.true_volume for t in truth] == [t.true_volume for t in plain_truth]
    loss = plain - image
    for t in bubbled:
        rows = slice(int(t.band_row) - 15, int(t.band_row) + 16)
        cols = slice(int(t.lane_x - PITCH / 2), int(t.lane_x + PITCH / 2))
        # somewhere the band is wholly gone, and 30 % of the background with it
        assert image[rows, cols].min() == pytest.approx(
            (1 - BUBBLE_BACKGROUND_LOSS) * BACKGROUND, abs=1
        )
        assert loss[rows, cols].max() > plain[rows, cols].max() - BACKGROUND
    # bands without a bubble are untouched
    for t in truth:
        if not t.bubble:
            cols = slice(int(t.lane_x - 0.3 * PITCH), int(t.lane_x + 0.3 * PITCH))
            assert np.abs(loss[:, cols]).max() <= 1


def test_stretched_export_maps_min_and_max_to_the_range_and_scales_the_truth():
    spec = _spec(bit_depth=8, stretch=True, read_noise=1.0, shot_noise=0.1)
    image, truth, _ = _render(spec)
    assert image.max() == 255 and (image == 255).sum() == 1
    assert image.min() == 0
    low, high = truth[0].export_range
    gain = 255 / (high - low)
    for t in truth:
        assert not t.saturated and t.plateau <= 1
        assert t.true_volume == pytest.approx(VOLUMES[t.lane - 1] * gain)
    # a twin exported with the same range is the same image
    twin, _, _ = _render(replace(spec, stretch_range=(low, high)))
    np.testing.assert_array_equal(image, twin)
    # dark bands: only the darkest pixel reaches 0
    dark = _render(replace(spec, polarity="dark-bands", white=2000.0))[0]
    assert (dark == 0).sum() == 1 and dark.max() == 255


def test_saturation_needs_a_plateau_not_one_pixel():
    # a needle of a band: its brightest pixel alone stands above the rest
    strip = _strip(volumes=[2e5] + [0.0] * (N_LANES - 1), band_half_width=0.005)
    spec = _spec([strip], edge_softness=0.3)
    plain, _, _ = _render(spec)
    top = np.sort(plain.ravel())
    one = _render(replace(spec, ceiling=(top[-1] + top[-2]) / 2))[1][0]
    assert (one.saturated, one.plateau) == (False, 1)
    several = _render(replace(spec, ceiling=top[-6] - 0.5))[1][0]
    assert several.saturated and several.plateau >= MIN_PLATEAU
    # the plateau is the clipped patch of the band's own pixels
    image = _render(replace(spec, ceiling=top[-6] - 0.5))[0]
    labels, _ = ndimage.label(image >= top[-6] - 0.5, structure=np.ones((3, 3)))
    assert several.plateau == np.bincount(labels.ravel())[1:].max()
