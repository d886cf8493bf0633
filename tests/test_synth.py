"""The generator's flaws of real membranes: off by default, drawn where they say, truth exact.

The accuracy benchmark's committed ImageJ numbers hold for membranes drawn
before these flaws existed, so a flaw that is off must draw no random numbers
and change no pixel.
"""

from __future__ import annotations

import numpy as np
import pytest

from blotquant.synth import BlotSpec, StripSpec, render_blot

PITCH = 60.0
N_LANES = 6
BACKGROUND = 1000.0


ROW = 80.0
SIGMA = 4.0
VOLUMES = [2e5, 1.5e5, 2.5e5, 1e5, 2e5, 1.8e5]


def _strip(antibody: str = "X", **kw) -> StripSpec:
    volumes = kw.pop("volumes", VOLUMES)
    return StripSpec(antibody, 160, ROW, volumes, sigma=SIGMA, background=BACKGROUND, **kw)


def _spec(strips: list[StripSpec] | None = None, **kw) -> BlotSpec:
    return BlotSpec(
        width=400,
        strips=strips or [_strip()],
        n_lanes=N_LANES,
        pitch=PITCH,
        first_lane=50.0,
        **kw,
    )


def _render(spec: BlotSpec, seed: int = 3) -> tuple[np.ndarray, list, dict]:
    rng = np.random.default_rng(seed)
    image, truth = render_blot(spec, rng)
    return image.astype(float), truth, rng.bit_generator.state


def test_flaws_off_change_nothing_and_deterministic_flaws_draw_no_numbers():
    # blotches, dust and noise use the random stream; the flaws below must not
    noisy = {"read_noise": 10.0, "shot_noise": 0.5, "dust": 3}
    base = _spec([_strip(blotches=2), _strip("Y", blotches=1)], **noisy)
    image, truth, state = _render(base)
    off = _spec(
        [_strip(blotches=2, band_half_width=None), _strip("Y", blotches=1)],
        splay=0.0,
        margins=(0, 0, 0, 0),
        streaks=None,
        annotations=0,
        **noisy,
    )
    image_off, truth_off, state_off = _render(off)
    np.testing.assert_array_equal(image, image_off)
    assert truth == truth_off and state == state_off
    on = _spec(
        [_strip(blotches=2, band_half_width=0.5, edge_softness=6.0), _strip("Y", blotches=1)],
        splay=0.06,
        streaks=[(2, 0.15)],
        **noisy,
    )
    # (margins are left out: a larger image takes more numbers for its noise)
    assert _render(on)[2] == state


def test_splay_moves_each_lane_centre_with_the_row():
    splay = 0.1
    spec = _spec([_strip(), _strip("Y")], splay=splay)
    image, truth, _ = _render(spec)
    centers = spec.lane_centers()
    mid = (centers[0] + centers[-1]) / 2
    cols = np.arange(image.shape[1])
    for t in truth:
        x0 = centers[t.lane - 1]
        expected = x0 + splay * (x0 - mid) * t.band_row / spec.height
        assert t.lane_x == pytest.approx(expected, abs=1e-9)
        # the band's own centre of mass along its row, background off
        row = image[int(round(t.band_row))] - BACKGROUND
        near = np.abs(cols - expected) < 0.5 * PITCH
        centroid = (row[near] * cols[near]).sum() / row[near].sum()
        assert centroid == pytest.approx(expected, abs=0.3)
    # the outer lanes really fan: lane 1 moves left from the top strip to the bottom one
    first = [t.lane_x for t in truth if t.lane == 1]
    assert first[1] < first[0] - 2


def test_margins_show_the_tray_around_the_membrane():
    left, top, right, bottom = 30, 20, 40, 10
    plain, plain_truth, _ = _render(_spec())
    spec = _spec(margins=(left, top, right, bottom), outside_level=300.0)
    image, truth, _ = _render(spec)
    assert image.shape == (160 + top + bottom, 400 + left + right) == spec.image_shape
    assert np.all(image[:top] == 300) and np.all(image[-bottom:] == 300)
    assert np.all(image[:, :left] == 300) and np.all(image[:, -right:] == 300)
    # a sharp edge: the membrane itself is drawn as without margins
    np.testing.assert_array_equal(image[top:-bottom, left:-right], plain)
    for t, p in zip(truth, plain_truth, strict=True):
        assert (t.lane_x, t.band_row) == pytest.approx((p.lane_x + left, p.band_row + top))
        assert t.true_volume == p.true_volume


def test_streaks_raise_the_background_of_whole_lanes_not_the_bands():
    plain, plain_truth, _ = _render(_spec())
    image, truth, _ = _render(_spec(streaks=[(2, 0.2), (5, 0.1)]))
    assert [t.true_volume for t in truth] == [t.true_volume for t in plain_truth]
    extra = image - plain
    centers = _spec().lane_centers()
    for lane, fraction in ((2, 0.2), (5, 0.1)):
        column = extra[:, int(round(centers[lane - 1]))]
        # the whole length of the lane, band rows included
        assert np.allclose(column, fraction * BACKGROUND, atol=1.0)
    for lane in (1, 3, 4, 6):
        assert np.abs(extra[:, int(round(centers[lane - 1]))]).max() <= 1.0


def test_merged_strip_bands_touch_with_no_valley():
    equal = [2e5] * N_LANES
    merged = _strip(volumes=equal, band_half_width=0.5, edge_softness=0.1 * PITCH)
    spec = _spec([merged, _strip("Y", volumes=equal)])
    image, truth, _ = _render(spec)
    centers = spec.lane_centers()
    span = slice(int(centers[1]), int(centers[-2]) + 1)
    top = image[80, span] - BACKGROUND
    bottom = image[160 + 80, span] - BACKGROUND
    # neighbours meet at half height: a flat ridge in the merged strip ...
    assert top.min() > 0.95 * top.max()
    # ... while the other strip's bands stay apart
    assert bottom.min() < 0.1 * bottom.max()
    # every band keeps its volume: the signal above the membrane adds up to the truth
    assert (image - BACKGROUND).sum() == pytest.approx(sum(t.true_volume for t in truth), rel=1e-4)


def test_annotations_are_bright_and_above_the_bands():
    spec = _spec(annotations=6)
    image, truth, _ = _render(spec)
    plain, plain_truth, _ = _render(_spec())
    assert truth == plain_truth
    marks = image - plain
    rows = np.flatnonzero(marks.max(axis=1) > 1.0)
    assert len(rows) > 0
    strip = spec.strips[0]
    # well above the band's box (a pen stroke reaches 4 radii beyond its path)
    assert rows.max() < strip.band_row - 7 * strip.sigma - 10 + 6
    assert marks.max() > 0.5 * (plain.max() - BACKGROUND)
