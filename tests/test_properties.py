"""Properties of the numeric core on random blots (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotquant.io import BlotImage
from blotquant.models import Lane, Measurement, Membrane
from blotquant.pipeline import analyze_image
from tests.conftest import make_blot

SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def blots(draw):
    n_lanes = draw(st.integers(3, 8))
    pitch = draw(st.floats(35, 90))
    amplitudes = draw(st.lists(st.floats(300, 5000), min_size=n_lanes, max_size=n_lanes))
    blot = make_blot(
        n_lanes=n_lanes,
        pitch=pitch,
        amplitudes=amplitudes,
        background=draw(st.floats(0, 2000)),
        sigma=draw(st.floats(2.5, 7)),
        height=int(draw(st.floats(90, 160))),
        band_row=draw(st.floats(45, 70)),
        gradient=(draw(st.floats(-2, 2)), draw(st.floats(-2, 2))),
        # real detectors always add noise; exactly flat zero backgrounds make ties
        noise=draw(st.floats(0.5, 10)),
        seed=draw(st.integers(0, 1000)),
    )
    return blot, n_lanes


def _analyse(image: np.ndarray, n_lanes: int, ceiling: float | None = None):
    membrane = Membrane(
        "m", tuple(Lane(i + 1, "sample", {"treatment": "t"}) for i in range(n_lanes))
    )
    measurement = Measurement("m", "x.tif", Path("x.tif"), "X")
    return analyze_image(BlotImage.from_array(image, ceiling=ceiling), measurement, membrane)


@SETTINGS
@given(blots(), st.floats(0.1, 10.0), st.floats(-500, 500))
def test_volumes_scale_linearly_with_intensity(case, scale, offset):
    (blot, n) = case
    base = _analyse(blot.image, n)
    scaled = _analyse(blot.image * scale + offset, n)
    np.testing.assert_allclose(
        [b.net_volume for b in scaled.bands],
        [b.net_volume * scale for b in base.bands],
        rtol=1e-6,
        atol=1e-6 * scale * max(abs(b.net_volume) for b in base.bands),
    )


@SETTINGS
@given(blots(), st.integers(1, 40))
def test_shifting_the_image_shifts_the_lanes(case, shift):
    (blot, n) = case
    base = _analyse(blot.image, n)
    moved = _analyse(np.pad(blot.image, ((0, 0), (shift, 0)), mode="edge"), n)
    np.testing.assert_allclose(moved.lanes.centers, base.lanes.centers + shift, atol=1.0)
    np.testing.assert_allclose(
        [b.center_row for b in moved.boxes], [b.center_row for b in base.boxes], atol=0.5
    )


@SETTINGS
@given(blots())
def test_dark_band_image_gives_the_bright_band_volumes(case):
    (blot, n) = case
    light = np.clip(np.rint(blot.image + 1000), 0, 65535).astype(np.uint16)
    dark = (65535 - light).astype(np.uint16)
    a = _analyse(light, n, 65535.0)
    b = _analyse(dark, n, 65535.0)
    assert (a.polarity, b.polarity) == ("light-bands", "dark-bands")
    np.testing.assert_allclose(
        [x.net_volume for x in b.bands], [x.net_volume for x in a.bands], rtol=1e-9, atol=1e-6
    )
