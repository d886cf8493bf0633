"""One image through the whole numeric chain, and the refusals on the way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blotquant.errors import BlotquantError
from blotquant.io import BlotImage
from blotquant.models import AnalysisSettings, Experiment, Lane, Measurement, Membrane
from blotquant.pipeline import analyze_image, membrane_lanes
from blotquant.quantify import bands_table
from blotquant.synth import BlotSpec, StripSpec, render_blot
from tests.conftest import make_blot


def _membrane(n: int, roles: dict[int, str] | None = None) -> Membrane:
    roles = roles or {}
    return Membrane(
        "m1",
        tuple(
            Lane(
                i + 1, roles.get(i + 1, "sample"), {"treatment": "t"} if i + 1 not in roles else {}
            )
            for i in range(n)
        ),
    )


def _measurement(**kwargs) -> Measurement:
    return Measurement("m1", "blot.tif", Path("blot.tif"), "AKT", source="membranes[0]", **kwargs)


def _uint16(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 65535).astype(np.uint16)


def test_dark_and_light_versions_give_the_same_volumes():
    blot = make_blot(
        n_lanes=6, pitch=45, amplitudes=np.linspace(500, 5000, 6), background=2000, noise=10
    )
    light = _uint16(blot.image)
    dark = 65535 - light
    a = analyze_image(BlotImage.from_array(light, ceiling=65535.0), _measurement(), _membrane(6))
    b = analyze_image(BlotImage.from_array(dark, ceiling=65535.0), _measurement(), _membrane(6))
    assert a.polarity == "light-bands" and b.polarity == "dark-bands"
    np.testing.assert_allclose(
        [x.net_volume for x in a.bands], [x.net_volume for x in b.bands], rtol=1e-9
    )
    np.testing.assert_allclose([x.net_volume for x in a.bands], blot.volumes, rtol=0.01)


def test_volumes_scale_linearly_with_intensity():
    blot = make_blot(n_lanes=5, pitch=45, background=0, noise=0)
    one = analyze_image(BlotImage.from_array(blot.image + 100), _measurement(), _membrane(5))
    three = analyze_image(BlotImage.from_array(3 * blot.image + 100), _measurement(), _membrane(5))
    np.testing.assert_allclose(
        [b.net_volume for b in three.bands], [3 * b.net_volume for b in one.bands], rtol=1e-6
    )


def test_shifting_the_image_shifts_the_lanes():
    blot = make_blot(n_lanes=5, pitch=45, noise=2)
    shifted = np.pad(blot.image, ((0, 0), (17, 0)), mode="edge")
    a = analyze_image(BlotImage.from_array(blot.image), _measurement(), _membrane(5))
    b = analyze_image(BlotImage.from_array(shifted), _measurement(), _membrane(5))
    np.testing.assert_allclose(b.lanes.centers, a.lanes.centers + 17, atol=0.5)


def test_region_rows_are_reported_in_image_coordinates():
    top = make_blot(n_lanes=4, pitch=40, height=100, band_row=40)
    bottom = make_blot(n_lanes=4, pitch=40, height=100, band_row=70)
    image = np.vstack([top.image, bottom.image])
    a = analyze_image(BlotImage.from_array(image), _measurement(rows=(100, 200)), _membrane(4))
    assert a.row_offset == 100
    assert all(abs(b.center_row + a.row_offset - 170) < 1 for b in a.boxes)


def test_band_rows_in_image_rows_inside_a_region():
    strip = make_blot(n_lanes=4, pitch=40, height=100, band_row=30, amplitudes=[5000] * 4)
    weak = make_blot(n_lanes=4, pitch=40, height=100, band_row=70, amplitudes=[800] * 4)
    image = np.vstack([np.full((100, strip.image.shape[1]), 100.0), strip.image + weak.image])
    a = analyze_image(
        BlotImage.from_array(image),
        _measurement(rows=(100, 200), band_rows=(150, 190)),
        _membrane(4),
    )
    assert all(abs(b.center_row + 100 - 170) < 1 for b in a.boxes)


def test_ladder_and_empty_lanes_get_no_band_rows():
    blot = make_blot(n_lanes=6, pitch=45, amplitudes=[3000, 1000, 1000, 0, 1000, 1000])
    a = analyze_image(
        BlotImage.from_array(blot.image), _measurement(), _membrane(6, {1: "ladder", 4: "empty"})
    )
    assert [b.lane for b in a.boxes] == [2, 3, 5, 6]


def test_lane_centers_override():
    blot = make_blot(n_lanes=4, pitch=40)
    a = analyze_image(
        BlotImage.from_array(blot.image),
        _measurement(lane_centers=(40, 80, 120, 160), analysis=AnalysisSettings(lane_width=30)),
        _membrane(4),
    )
    np.testing.assert_array_equal(a.lanes.centers, [40, 80, 120, 160])
    assert a.boxes[0].x_right - a.boxes[0].x_left == 30


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rows": (50, 500)}, "`rows: [50, 500]` is outside the image"),
        ({"rows": (80, 20)}, "`rows: [80, 20]`"),
        ({"band_rows": (-5, 30)}, "`band_rows: [-5, 30]` is outside the image"),
        ({"rows": (0, 60), "band_rows": (80, 100)}, "lies outside the region"),
        ({"lane_centers": (10, 50, 90, 900)}, "`lane_centers`"),
    ],
)
def test_rows_and_lanes_outside_the_image_are_refused(kwargs, words):
    blot = make_blot(n_lanes=4, pitch=40)
    with pytest.raises(BlotquantError, match="blot.tif") as info:
        analyze_image(BlotImage.from_array(blot.image), _measurement(**kwargs), _membrane(4))
    assert words in str(info.value)
    assert "membranes[0]" in str(info.value)


def test_image_too_narrow_for_its_lanes():
    with pytest.raises(BlotquantError, match="too narrow for the 30 lanes"):
        analyze_image(
            BlotImage.from_array(np.random.default_rng(0).random((50, 100))),
            _measurement(),
            _membrane(30),
        )


def test_constant_image_is_refused():
    with pytest.raises(BlotquantError, match="every pixel has the value 7"):
        analyze_image(
            BlotImage.from_array(np.full((50, 200), 7, np.uint16), ceiling=65535.0),
            _measurement(),
            _membrane(4),
        )


def test_all_saturated_image_is_refused():
    image = np.full((50, 200), 65535, np.uint16)
    image[::7, ::5] = 100
    with pytest.raises(BlotquantError, match="saturated"):
        analyze_image(BlotImage.from_array(image, ceiling=65535.0), _measurement(), _membrane(4))


def test_crop_measures_inside_the_box_and_reports_image_coordinates():
    blot = make_blot(n_lanes=5, pitch=40.0, height=120, noise=1.0)
    framed = np.full((200, 400), 5000.0)
    framed[40:160, 100 : 100 + blot.image.shape[1]] = blot.image
    framed[:, :20] = 60000.0  # a bright frame edge the crop leaves out
    whole = analyze_image(BlotImage.from_array(blot.image), _measurement(), _membrane(5))
    crop = (100, 40, 100 + blot.image.shape[1], 160)
    cropped = analyze_image(BlotImage.from_array(framed), _measurement(crop=crop), _membrane(5))
    assert cropped.col_offset == 100 and cropped.row_offset == 40
    for a, b in zip(whole.bands, cropped.bands, strict=True):
        assert b.net_volume == pytest.approx(a.net_volume, rel=1e-9)
    experiment = Experiment(
        Path("c.yaml"), "t", Path("out"), AnalysisSettings(), (), {}, (), (), (_membrane(5),), ()
    )
    table = bands_table(experiment, [cropped])
    assert np.allclose(table["lane_center"], blot.centers + 100, atol=1.5)
    assert (table["band_top"] >= 40).all()


def test_a_quarter_turn_gives_the_same_volumes_as_the_upright_image():
    blot = make_blot(n_lanes=5, pitch=40.0, height=120, noise=1.0)
    upright = analyze_image(BlotImage.from_array(blot.image), _measurement(), _membrane(5))
    lying = BlotImage.from_array(np.rot90(blot.image)).rotated(90)
    turned = analyze_image(lying, _measurement(rotate=90.0), _membrane(5))
    for a, b in zip(upright.bands, turned.bands, strict=True):
        assert b.net_volume == pytest.approx(a.net_volume, rel=1e-12)


def test_a_crop_outside_the_image_is_refused_with_the_key():
    image = BlotImage.from_array(np.ones((100, 300)))
    with pytest.raises(BlotquantError, match=r"`crop: \[0, 0, 400, 50\]` reaches outside"):
        analyze_image(image, _measurement(crop=(0, 0, 400, 50)), _membrane(4))


def test_strips_of_one_membrane_share_lanes_so_a_merged_strip_is_placed_right():
    # a loading control whose bands touch across lanes (no valleys) below a
    # strip whose bands separate: alone, the merged strip's lanes slide off
    top = make_blot(n_lanes=10, pitch=55.0, height=150, band_row=75, noise=3.0, seed=1)
    merged = make_blot(
        n_lanes=10, pitch=55.0, height=150, band_row=75, noise=3.0, seed=2, half_width=30.0,
        amplitudes=np.full(10, 3000.0),
    )  # fmt: skip
    image = BlotImage.from_array(np.vstack([top.image, merged.image]))
    strips = [
        _measurement(rows=(0, 150)),
        Measurement("m1", "blot.tif", Path("blot.tif"), "GAPDH", rows=(150, 300)),
    ]
    alone = analyze_image(image, strips[1], _membrane(10))
    assert np.max(np.abs(alone.lanes.centers - top.centers)) > 0.25 * 55.0
    shared = membrane_lanes(image, strips, _membrane(10))
    for m in strips:
        a = analyze_image(image, m, _membrane(10), shared_lanes=shared)
        placed = a.lanes.centers_at(75.0)
        assert np.max(np.abs(placed - top.centers)) < 0.25 * 55.0


def test_a_merged_strip_keeps_the_shared_lanes_even_at_its_ends():
    # bands of unequal loading that meet at half height make a plateau with
    # steps and dips; a baseline under it carves false valleys, and an end
    # lane slid onto the plateau's free edge (by 5.7 px on a 57 px pitch)
    total = np.array([1.84, 1.97, 2.47, 2.27, 1.84, 2.14, 2.18, 1.9, 2.41, 1.86]) * 1e6
    phospho = np.array([0.65, 0.85, 0.93, 1.07, 1.04, 1.49, 0.63, 0.97, 1.29, 0.55]) * 1e6
    strips = [
        StripSpec("p", 240, 120.0, list(phospho), sigma=5.0, background=1400.0),
        StripSpec(
            "t", 240, 120.0, list(total), sigma=5.0, background=1400.0,
            band_half_width=0.5, edge_softness=5.7,
        ),
    ]  # fmt: skip
    jitter = [-2.5, 2.4, -1.0, -0.9, 2.0, 0.4, -0.1, 1.4, -2.3, 1.0]
    spec = BlotSpec(
        width=620, strips=strips, n_lanes=10, pitch=57.0, first_lane=45.0, lane_jitter=jitter,
        read_noise=15.0, shot_noise=0.8,
    )  # fmt: skip
    pixels, _ = render_blot(spec, np.random.default_rng(3))
    image = BlotImage.from_array(pixels)
    regions = [
        _measurement(rows=(0, 240)),
        Measurement("m1", "blot.tif", Path("blot.tif"), "GAPDH", rows=(240, 480)),
    ]
    shared = membrane_lanes(image, regions, _membrane(10))
    assert shared is not None
    np.testing.assert_allclose(shared.lanes.centers, spec.lane_centers(), atol=3.0)
    placed = analyze_image(image, regions[1], _membrane(10), shared_lanes=shared).lanes
    np.testing.assert_allclose(placed.centers, shared.lanes.centers, atol=1.0)
