"""The linear range from a dilution series: the fit on tiny arrays, and on generated membranes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from blotquant.api import run
from blotquant.config import parse_config
from blotquant.errors import BlotquantError
from blotquant.standards import fit_standards
from blotquant.synth import BlotSpec, StripSpec, linear_range, render_blot, response

AMOUNTS = np.array([1.0, 2, 4, 8, 16, 32, 64, 128])


def test_a_proportional_series_is_linear_throughout():
    fit = fit_standards(AMOUNTS, 50.0 * AMOUNTS)
    assert fit.linear.all()
    assert fit.slope == pytest.approx(50.0) and fit.r2_linear == pytest.approx(1.0)
    # the series never left the range: its ends are the range's ends, and it says so
    assert (fit.volume_low, fit.volume_high) == (50.0, 50.0 * 128)
    assert "untested" in fit.note


def test_a_saturating_series_ends_between_the_last_linear_standard_and_the_next():
    volumes = np.array(response(1000.0 * AMOUNTS, 1e-9, 40_000.0))
    fit = fit_standards(AMOUNTS, volumes)
    # the gain is 1 / (1 + amount / 40): 0.976 at 1, 0.909 at 4 (93 % of 1's), 0.833 at 8 (85 %)
    assert fit.linear.tolist() == [True] * 3 + [False] * 5
    assert fit.volume_high == pytest.approx(np.sqrt(volumes[2] * volumes[3]))
    assert fit.k_half == pytest.approx(40.0, rel=1e-3) and fit.r2_saturating > 0.999
    assert fit.outside(volumes[5]) and not fit.outside(volumes[1])


def test_saturated_and_noisy_standards_are_not_fitted():
    volumes = 100.0 * AMOUNTS
    usable = np.array([False] + [True] * 7)  # the faintest: low-snr
    saturated = np.array([False] * 6 + [True] * 2)
    fit = fit_standards(AMOUNTS, volumes, usable=usable, saturated=saturated)
    assert fit.linear.tolist() == [False] + [True] * 5 + [False] * 2
    # low end: the lowest usable standard; top: halfway to the saturated one, on the line
    assert fit.volume_low == 200.0
    assert fit.volume_high == pytest.approx(100.0 * np.sqrt(32 * 64))


def test_too_few_standards_give_no_range_and_say_so():
    fit = fit_standards(np.array([1.0, 2.0]), np.array([10.0, 20.0]))
    assert not fit.has_range and not fit.outside(1e9)
    assert "no linear range" in fit.note


def test_a_standard_lane_needs_an_amount(tmp_path):
    config = {
        "pairs": [{"phospho": "p-X", "total": "X"}],
        "membranes": [
            {
                "name": "m",
                "lanes": [{"treatment": "DMSO"}, {"role": "standard"}],
                "images": [
                    {"file": "a.tif", "antibody": "p-X"},
                    {"file": "b.tif", "antibody": "X"},
                ],
            }
        ],
    }
    with pytest.raises(BlotquantError, match="standard lane needs the `amount`"):
        parse_config(config, config_path=tmp_path / "c.yaml")


#: The generator's response: a toe below and a knee above (true volume units).
TOE, KNEE = 10_000.0, 2_000_000.0
GAIN = 10_000.0  # true volume per unit amount


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Three membranes, each with a 2-fold dilution series and samples over a wide range."""
    folder = tmp_path_factory.mktemp("standards")
    rng = np.random.default_rng(3)
    membranes, truth = [], []
    for name in ("m1", "m2", "m3", "m4"):
        # half inside the true range (4 to 50), half outside on either side
        inside = rng.uniform(np.log(4.0), np.log(50.0), 6)
        outside = np.r_[
            rng.uniform(np.log(0.5), np.log(4.0), 3), rng.uniform(np.log(50), np.log(400), 3)
        ]
        samples = np.exp(rng.permutation(np.r_[inside, outside]))
        amounts = [*AMOUNTS, *samples]
        strip = StripSpec("X", 160, 80.0, [GAIN * a for a in amounts], sigma=4.0)
        strip.background, strip.response = 1500.0, (TOE, KNEE)
        spec = BlotSpec(
            width=40 * len(amounts) + 40, strips=[strip], n_lanes=len(amounts), pitch=40.0,
            first_lane=40.0, read_noise=10.0,
        )  # fmt: skip
        image, _ = render_blot(spec, rng)
        tifffile.imwrite(folder / f"{name}.tif", np.asarray(image, np.uint16))
        # a loading control beside it, for the pair
        loading = [*(2e4 * AMOUNTS), *([2e5] * len(samples))]
        spec.strips = [StripSpec("L", 160, 80.0, loading, sigma=4.0)]
        image, _ = render_blot(spec, rng)
        tifffile.imwrite(folder / f"{name}_L.tif", np.asarray(image, np.uint16))
        lanes = [{"role": "standard", "amount": float(a)} for a in AMOUNTS]
        lanes += [
            {"treatment": "DMSO" if k < 2 else "drug", "sample": f"{name}-s{k}"} for k in range(12)
        ]
        membranes.append(
            {
                "name": name,
                "lanes": lanes,
                "images": [
                    {"file": f"{name}.tif", "antibody": "X"},
                    {"file": f"{name}_L.tif", "antibody": "L"},
                ],
            }
        )
        truth += [(name, len(AMOUNTS) + 1 + k, GAIN * a) for k, a in enumerate(samples)]
    config = {
        "experiment": "linear range",
        "pairs": [{"target": "X", "loading": "L"}],
        "membranes": membranes,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run(path, out=folder / "out")
    return outcome, pd.DataFrame(truth, columns=["membrane", "lane", "true_volume"])


def test_the_flag_catches_every_band_outside_the_true_linear_range(series):
    outcome, truth = series
    low, high = linear_range(TOE, KNEE)
    bands = outcome.bands[outcome.bands["antibody"] == "X"].merge(truth, on=["membrane", "lane"])
    flagged = bands["flags"].fillna("").str.contains("outside-linear-range")
    v = bands["true_volume"]
    # within half a dilution step (a factor of sqrt 2) of a limit, the series cannot tell
    clear = (
        (v < low / np.sqrt(2))
        | (v > high * np.sqrt(2))
        | ((v > low * np.sqrt(2)) & (v < high / np.sqrt(2)))
    )
    outside = (v < low) | (v > high)
    assert (clear & outside).sum() >= 15 and (clear & ~outside).sum() >= 15
    missed = bands[clear & outside & ~flagged]
    false = bands[clear & ~outside & flagged]
    assert missed.empty, missed[["membrane", "lane", "true_volume", "net_volume", "flags"]]
    assert false.empty, false[["membrane", "lane", "true_volume", "net_volume", "flags"]]
    # the standards.csv row per image, with both fits
    table = outcome.standards
    table = table[table["antibody"] == "X"]
    assert len(table) == 4 and (table["r2_linear"] > 0.98).all()
    assert (table["n_linear"] >= 3).all() and table["k_half"].notna().all()
    assert (outcome.output / "standards.csv").is_file()
