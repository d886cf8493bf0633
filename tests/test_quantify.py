"""Background methods and band volumes against exactly known volumes."""

from __future__ import annotations

import numpy as np
import pytest

from blotquant.background import background_profile, lane_edges, profile_baseline
from blotquant.bands import BandBox, band_patch, find_bands
from blotquant.lanes import find_lanes
from blotquant.polarity import detect_polarity, to_signal
from blotquant.quantify import LOW_SNR, image_noise, measure_band, noise_sigma
from blotquant.saturation import limit_mask
from tests.conftest import make_blot


def _measure(
    image, n, method="profile-baseline", margin=3, saturated=None, bg_image=None, noise=0.0
):
    lanes = find_lanes(image, n)
    boxes = find_bands(image, lanes, np.ones(n, bool), margin=margin)
    return [
        measure_band(
            image,
            b,
            method=method,
            margin=margin,
            saturated=saturated,
            background_image=bg_image,
            pixel_noise=noise,
        )
        for b in boxes
    ]


def test_profile_baseline_removes_a_plane_exactly():
    # a plane is linear in both directions: its sum under a straight baseline is exact
    patch = np.fromfunction(lambda x, y: 100 + 2 * x + 3 * y, (20, 30))
    bg = profile_baseline(patch, margin=3, height=24)
    assert bg.sum() == pytest.approx(patch[:, 3:27].sum(), rel=1e-12)


def test_lane_edges_is_the_border_median_times_area():
    patch = np.full((10, 16), 50.0)
    patch[:, 3:13] += 1000  # the band
    patch[0, 0] = 1e6  # dust in the border does not move a median
    assert lane_edges(patch, 3, 10).sum() == pytest.approx(50.0 * 10 * 10)


def test_none_removes_nothing():
    assert background_profile("none", np.ones((4, 10)), 2, 6).sum() == 0


@pytest.mark.parametrize("method", ["profile-baseline", "lane-edges"])
def test_net_volume_recovers_true_volume_on_flat_background(method):
    amps = [300, 600, 1200, 2400, 4800, 9600]
    blot = make_blot(n_lanes=6, pitch=45, amplitudes=amps, background=500)
    bands = _measure(blot.image, 6, method=method)
    net = np.array([b.net_volume for b in bands])
    np.testing.assert_allclose(net, blot.volumes, rtol=2e-3)


def test_profile_baseline_exact_on_gradient_background():
    amps = [300, 600, 1200, 2400, 4800, 9600]
    blot = make_blot(n_lanes=6, pitch=45, amplitudes=amps, gradient=(4.0, 2.5))
    bands = _measure(blot.image, 6)
    net = np.array([b.net_volume for b in bands])
    np.testing.assert_allclose(net, blot.volumes, rtol=2e-3)


def test_volume_is_linear_in_load():
    # 2-fold dilution series over 8 lanes, noise included
    amps = 50 * 2.0 ** np.arange(8)
    blot = make_blot(n_lanes=8, pitch=40, amplitudes=amps, noise=3, gradient=(1, 1))
    net = np.array([b.net_volume for b in _measure(blot.image, 8, noise=3)])
    slope, intercept = np.polyfit(blot.volumes, net, 1)
    r2 = 1 - np.sum((net - (slope * blot.volumes + intercept)) ** 2) / np.sum(
        (net - net.mean()) ** 2
    )
    assert r2 >= 0.9999
    assert slope == pytest.approx(1.0, abs=0.01)


def test_saturated_band_is_counted_and_flagged():
    blot = make_blot(n_lanes=5, pitch=40, amplitudes=[500, 500, 60000, 500, 500])
    image = np.clip(blot.image, 0, 4095)
    sat = limit_mask(image, "light-bands", 4095.0)
    bands = _measure(image, 5, saturated=sat)
    assert bands[2].saturated_pixels > 0 and "saturated" in bands[2].flags
    assert all(
        b.saturated_pixels == 0 and "saturated" not in b.flags
        for i, b in enumerate(bands)
        if i != 2
    )


def test_faint_and_missing_bands_are_flagged_by_snr():
    blot = make_blot(n_lanes=5, pitch=40, amplitudes=[2000, 2000, 0, 4, 2000], noise=5)
    sigma = noise_sigma(blot.image)
    assert sigma == pytest.approx(5, rel=0.15)
    bands = _measure(blot.image, 5, noise=sigma)
    assert "no-band" in bands[2].flags
    assert bands[3].snr < LOW_SNR and set(bands[3].flags) & {"no-band", "low-snr"}
    assert bands[0].flags == ()


def test_dark_bands_measure_like_light_bands():
    blot = make_blot(
        n_lanes=6, pitch=40, amplitudes=np.linspace(300, 3000, 6), background=0, noise=2
    )
    light = np.clip(np.rint(blot.image + 1000), 0, 65535).astype(np.uint16)
    dark = (65535 - light).astype(np.uint16)
    assert detect_polarity(light) == "light-bands"
    assert detect_polarity(dark) == "dark-bands"
    net_light = [b.net_volume for b in _measure(to_signal(light, "light-bands", 65535), 6)]
    net_dark = [b.net_volume for b in _measure(to_signal(dark, "dark-bands", 65535), 6)]
    np.testing.assert_allclose(net_dark, net_light, rtol=1e-9)


def test_polarity_is_read_past_the_membranes_own_shading():
    # dark bands on film whose right two thirds are fogged darker than the bands are deep:
    # the raw pixels' longer tail is the light left side, the bands' is below the trend
    rng = np.random.default_rng(4)
    rows, cols = np.mgrid[0:300, 0:800]
    film = 30000.0 - 9000.0 / (1 + np.exp(-(cols - 250) / 40.0)) + rng.normal(0, 60, rows.shape)
    for x in range(60, 800, 60):
        film -= 2500.0 * np.exp(-0.5 * ((rows - 150) / 5) ** 2) * (np.abs(cols - x) < 20)
    pixels = np.clip(film, 0, 65535).astype(np.uint16)
    assert detect_polarity(pixels) == "dark-bands"
    assert detect_polarity((65535 - pixels).astype(np.uint16)) == "light-bands"


def test_dark_band_saturation_is_the_floor():
    pixels = np.array([[0, 10], [200, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(
        limit_mask(pixels, "dark-bands", 255.0), [[True, False], [False, False]]
    )
    np.testing.assert_array_equal(
        limit_mask(pixels, "light-bands", 255.0), [[False, False], [False, True]]
    )


def test_band_patch_follows_the_band_and_reports_edges():
    image = np.arange(100 * 50, dtype=float).reshape(100, 50)
    box = BandBox(
        lane=1,
        lane_x=25,
        x_left=20,
        x_right=30,
        center_row=50,
        slope=0.5,
        half_top=5,
        half_bottom=5,
        detected=True,
    )
    patch, clipped = band_patch(image, box, margin=2)
    assert patch.shape == (10, 2 + box.height + 2)
    assert not clipped
    # column 29 sits 4 columns right of the lane centre: 2 rows lower
    assert patch[9, 2] == image[50 - 5 + 2, 29]
    edge = BandBox(
        lane=1,
        lane_x=25,
        x_left=20,
        x_right=30,
        center_row=3,
        slope=0.0,
        half_top=5,
        half_bottom=5,
        detected=True,
    )
    assert band_patch(image, edge, margin=2)[1]


def test_rolling_ball_background_image_is_summed_over_the_box():
    blot = make_blot(n_lanes=4, pitch=40, background=0)
    bg = np.full(blot.image.shape, 7.0)
    bands = _measure(blot.image + 7.0, 4, method="rolling-ball", bg_image=bg)
    np.testing.assert_allclose([b.net_volume for b in bands], blot.volumes, rtol=2e-3)


def test_whole_counts_carry_at_least_their_rounding_noise():
    flat = np.full((40, 60), 1000.0)
    assert noise_sigma(flat) == 0.0
    assert image_noise(flat, whole_counts=False) == 0.0
    assert image_noise(flat, whole_counts=True) == pytest.approx(1 / np.sqrt(12))
    noisy = flat + np.random.default_rng(0).normal(0, 5.0, flat.shape)
    assert image_noise(noisy, whole_counts=True) == noise_sigma(noisy)


def _grainy_blot(amplitudes, *, grain=40.0, seed=3):
    """A 16-bit blot on a membrane with grain: texture a few pixels across, as real ones have."""
    from scipy import ndimage

    blot = make_blot(
        n_lanes=len(amplitudes), pitch=40, height=300, band_row=150.0, amplitudes=amplitudes,
        background=2000, noise=2.0, seed=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=blot.image.shape), 2.0)
    texture *= grain / texture.std()
    return blot, np.clip(np.rint(blot.image + texture), 0, 65535).astype(np.uint16)


def _analyze(pixels, n):
    from pathlib import Path

    from blotquant.io import BlotImage
    from blotquant.models import Lane, Measurement, Membrane
    from blotquant.pipeline import analyze_image

    membrane = Membrane("m", tuple(Lane(k + 1, metadata={"treatment": "t"}) for k in range(n)))
    measurement = Measurement("m", "x.tif", Path("x.tif"), "X")
    image = BlotImage.from_array(pixels, ceiling=65535.0)
    return analyze_image(image, measurement, membrane)


def test_bare_membrane_with_grain_is_no_band_and_strong_bands_are_not_flagged():
    # the pixel noise is 2 counts; the grain (40 counts, 2 px across) is what a
    # box on bare membrane measures, and is what a band must stand above
    _, pixels = _grainy_blot([3000, 3000, 0, 3000, 0, 3000])
    analysis = _analyze(pixels, 6)
    flags = [b.flags for b in analysis.bands]
    assert "no-band" in flags[2] and "no-band" in flags[4], flags
    assert all(not set(f) & {"no-band", "low-snr"} for k, f in enumerate(flags) if k not in (2, 4))


def test_a_weak_band_on_grain_is_low_snr_not_dropped():
    _, pixels = _grainy_blot([3000, 3000, 250, 3000, 3000, 3000])
    analysis = _analyze(pixels, 6)
    weak = analysis.bands[2]
    assert "low-snr" in weak.flags and "no-band" not in weak.flags, (weak.snr, weak.flags)
    assert weak.snr < 10
