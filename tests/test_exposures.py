"""Exposure series: generated series of 3 to 5 exposures with decaying signal, merged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from blotquant.api import run
from blotquant.exposures import RANGE_MIN_SNR, exposure_seconds, fit_scale, merge_series
from blotquant.synth import BlotSpec, StripSpec, render_blot

#: The substrate's light decays with this time constant (seconds) while the imager collects it.
DECAY_S = 200.0
#: Light per second of each lane's band (the truth), over six decades, and one band
#: bright enough to saturate even the shortest exposure.
INTENSITY = [*np.geomspace(1e2, 1e7, 13), 5e7]
SERIES = {3: [1.0, 12.0, 128.0], 4: [2.0, 8.0, 32.0, 128.0], 5: [1.0, 4.0, 12.0, 40.0, 128.0]}


def _gain(seconds: list[float]) -> list[float]:
    """Light collected per unit intensity by each exposure, taken one after the other."""
    start, gains = 0.0, []
    for t in seconds:
        gains.append(DECAY_S * (np.exp(-start / DECAY_S) - np.exp(-(start + t) / DECAY_S)))
        start += t
    return gains


def _spec(volumes: list[float], background: float) -> BlotSpec:
    strip = StripSpec("X", 200, 100.0, volumes, sigma=4.0, background=background)
    strip.gradient = (0.02 * background / 100, 0.0)
    return BlotSpec(
        width=50 * len(volumes) + 40, strips=[strip], n_lanes=len(volumes), pitch=50.0,
        first_lane=45.0, read_noise=10.0, shot_noise=1.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """One membrane per series length, each imaged 3, 4 or 5 times."""
    folder = tmp_path_factory.mktemp("exposures")
    rng = np.random.default_rng(16)
    membranes, truth = [], []
    for n, seconds in SERIES.items():
        name = f"m{n}"
        exposures = []
        clipped = np.ones(len(INTENSITY), bool)
        for t, gain in zip(seconds, _gain(seconds), strict=True):
            # the membrane glows a little too, and the camera has an offset
            image, drawn = render_blot(_spec([i * gain for i in INTENSITY], 50 + 2 * gain), rng)
            clipped &= [band.saturated for band in drawn]
            file = f"{name}_X_{t:g}s.tif"
            if file == "m4_X_8s.tif":
                # the membrane was nudged before this exposure: 3 rows down, 4 columns left
                image = np.roll(image, (3, -4), axis=(0, 1))
            tifffile.imwrite(folder / file, np.asarray(image, np.uint16))
            exposures.append({"file": file, "seconds": t})
        longest = _gain(seconds)[-1]
        truth += [(name, k + 1, i * longest, clipped[k]) for k, i in enumerate(INTENSITY)]
        image, _ = render_blot(_spec([3e6] * len(INTENSITY), 500), rng)
        tifffile.imwrite(folder / f"{name}_L.tif", np.asarray(image, np.uint16))
        membranes.append(
            {
                "name": name,
                "lanes": [{"treatment": "DMSO"}] * len(INTENSITY),
                "images": [
                    {"antibody": "X", "exposures": exposures},
                    {"file": f"{name}_L.tif", "antibody": "L"},
                ],
            }
        )
    config = {"experiment": "exposure series", "pairs": [{"phospho": "X", "total": "L"}]}
    config["membranes"] = membranes
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run(path, out=folder / "out")
    truth = pd.DataFrame(truth, columns=["membrane", "lane", "true_volume", "saturated_in_all"])
    return outcome, truth, folder / "out"


def test_every_band_unsaturated_somewhere_is_recovered(series):
    outcome, truth, _ = series
    bands = outcome.bands[outcome.bands["antibody"] == "X"].merge(truth, on=["membrane", "lane"])
    assert len(bands) == len(SERIES) * len(INTENSITY)  # one row per lane, not per exposure
    saturated = bands["flags"].str.contains("saturated")
    # bands saturated in every exposure are flagged, and only they (the brightest in
    # every series)
    assert saturated.tolist() == bands["saturated_in_all"].tolist()
    assert bands.groupby("membrane")["saturated_in_all"].sum().tolist() == [1, 1, 1]
    # measured bands: unsaturated in some exposure and within 3 % of their own noise
    # (snr 33; the faintest lanes are below the noise in every exposure, and flagged so)
    good = bands[~saturated & (bands["snr"] >= RANGE_MIN_SNR)].copy()
    assert len(good) >= len(SERIES) * (len(INTENSITY) - 4)
    # one scale per series (the box holds 99.9 % of a band, the truth is light collected)
    ratio = good["net_volume"] / good["true_volume"]
    good["error"] = (ratio / ratio.groupby(good["membrane"]).transform("median") - 1).abs()
    assert good["error"].median() <= 0.01, good["error"].describe()
    assert good["error"].quantile(0.95) <= 0.03, good["error"].describe()
    # each band says which exposure it came from; the faint ones from the longest
    assert good["exposure"].str.endswith("_128s.tif").sum() >= 3 * 5
    assert (good["exposure_factor"] >= 1).all()


def test_the_scales_are_fitted_not_nominal_and_the_range_grows(series):
    outcome, _, out = series
    table = pd.read_csv(out / "exposures.csv")
    assert len(table) == sum(n - 1 for n in SERIES)
    for n, seconds in SERIES.items():
        rows = table[table["membrane"] == f"m{n}"]
        gains = _gain(seconds)
        truth = np.array(gains[1:]) / np.array(gains[:-1])
        np.testing.assert_allclose(rows["scale"], truth, rtol=0.01)
        # the light decays while it is collected: the times' ratio overstates the scale
        assert (rows["nominal_scale"] > rows["scale"] * 1.02).any()
        assert (rows["n_bands"] >= 2).all() and (rows["spread"] < 0.05).all()
        assert (rows["dynamic_range"] >= 10 * rows["best_single_range"]).all(), rows
        assert (rows["n_saturated_in_all"] == 1).all()


def test_an_exposure_that_moved_is_measured_where_its_bands_are(series):
    outcome, _, out = series
    said = [w for w in outcome.warnings if w.startswith("m4_X_8s.tif")]
    assert len(said) == 1 and "3 row(s) and -4 column(s)" in said[0], outcome.warnings
    # its scale to its neighbours is as clean as the others' (see above: within 1 %)
    table = pd.read_csv(out / "exposures.csv")
    assert (table[table["membrane"] == "m4"]["spread"] < 0.01).all()


def test_the_qc_pictures_and_report_name_the_exposures(series):
    _, _, out = series
    pictures = sorted(p.name for p in (out / "qc").glob("m4__*.png"))
    assert len(pictures) == 5  # every exposure's own picture, and the loading control's
    report = (out / "report.html").read_text()
    assert "Exposure series" in report and "m4_X_128s.tif" in report


def test_a_scale_is_fitted_from_bands_clear_in_both():
    shorter = np.array([100.0, 200.0, 400.0, 800.0, 1600.0])
    longer = 3.0 * shorter * np.array([1.0, 1.01, 0.99, 1.0, 0.5])  # the last: saturated
    usable = np.array([True, True, True, True, False])
    snr = np.full(5, 100.0)
    scale = fit_scale(shorter, longer, usable=usable, snr_shorter=snr, snr_longer=snr)
    assert scale.scale == pytest.approx(3.0, rel=0.005) and scale.n_bands == 4
    merged = merge_series(
        np.vstack([shorter, longer]),
        np.array([[False] * 5, [False] * 4 + [True]]),
        np.ones((2, 5), bool),
        np.vstack([snr, snr]),
    )
    assert merged.chosen.tolist() == [1, 1, 1, 1, 0]
    assert merged.factor[-1] == pytest.approx(scale.scale) and merged.factor[0] == 1.0


def test_the_exposure_time_is_read_from_an_imagers_file():
    assert exposure_seconds({"Exposure Time (sec)": 36.28, "Binning": "4x4"}) == 36.28
    assert exposure_seconds({"format": "TIFF"}) is None


def test_a_batch_reads_the_series_from_the_file_names(series):
    outcome, _, out = series
    folder = out.parent
    lanes = [{"treatment": "DMSO"}] * len(INTENSITY)
    config = {
        "experiment": "exposure series, batch",
        "pairs": [{"phospho": "X", "total": "L"}],
        "batches": [
            # m4_X_8s.tif: membrane m4, antibody X, exposure 8 s
            {
                "files": "m*_X_*.tif",
                "pattern": "{membrane}_{antibody}_{exposure}.tif",
                "lanes": lanes,
            },
            {"files": "m*_L.tif", "pattern": "{membrane}_{antibody}.tif", "lanes": lanes},
        ],
    }
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    batch = run(path, out=folder / "out_batch", qc=False)
    assert not batch.failures
    keys = ["membrane", "antibody", "lane"]
    mine = batch.bands.sort_values(keys).reset_index(drop=True)
    theirs = outcome.bands.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_series_equal(mine["net_volume"], theirs["net_volume"])
    assert mine["exposure"].tolist() == theirs["exposure"].tolist()
    assert len(pd.read_csv(folder / "out_batch" / "exposures.csv")) == sum(n - 1 for n in SERIES)


def test_exposure_times_are_read_from_file_names():
    from blotquant.config._batches import exposure_seconds_of

    assert exposure_seconds_of("30s") == 30.0 and exposure_seconds_of("500ms") == 0.5
    assert exposure_seconds_of("2min") == 120.0 and exposure_seconds_of("1p5") == 1.5
    assert exposure_seconds_of("12") == 12.0 and exposure_seconds_of("long") is None


def test_a_series_of_strips_merges_each_strip_on_its_own(tmp_path):
    seconds = [2.0, 16.0, 128.0]
    rng = np.random.default_rng(3)
    exposures = []
    for t, gain in zip(seconds, _gain(seconds), strict=True):
        strips = [
            StripSpec(name, 200, 100.0, [i * gain * k for i in INTENSITY[:10]], sigma=4.0)
            for name, k in (("p-Y", 1.0), ("Y", 30.0))
        ]
        spec = BlotSpec(
            width=540, strips=strips, n_lanes=10, pitch=50.0, first_lane=45.0, read_noise=10.0
        )
        image, _ = render_blot(spec, rng)
        tifffile.imwrite(tmp_path / f"strips_{t:g}s.tif", np.asarray(image, np.uint16))
        exposures.append({"file": f"strips_{t:g}s.tif", "seconds": t})
    config = {
        "pairs": [{"phospho": "p-Y", "total": "Y"}],
        "membranes": [
            {
                "name": "m",
                "lanes": [{"treatment": "DMSO"}] * 10,
                "images": [
                    {
                        "exposures": exposures,
                        "regions": [
                            {"antibody": "p-Y", "rows": [0, 200]},
                            {"antibody": "Y", "rows": [200, 400]},
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run(tmp_path / "c.yaml", out=tmp_path / "out", qc=False)
    assert not outcome.failures and len(outcome.bands) == 20  # one row per strip and lane
    table = pd.read_csv(tmp_path / "out" / "exposures.csv")
    assert sorted(table["antibody"]) == ["Y", "Y", "p-Y", "p-Y"]
    truth = np.array(_gain(seconds)[1:]) / np.array(_gain(seconds)[:-1])
    for _, rows in table.groupby("antibody"):
        np.testing.assert_allclose(rows["scale"], truth, rtol=0.01)
    # the total strip (30x brighter) takes more of its bands from shorter exposures
    used = outcome.bands.groupby("antibody")["exposure_factor"].max()
    assert used["Y"] > used["p-Y"]


def _overexposed_series(folder, seconds_lit: list[float]) -> dict:
    """A 3-exposure series whose exposures listed in ``seconds_lit`` are mostly at the limit."""
    rng = np.random.default_rng(9)
    exposures = []
    seconds = [2.0, 16.0, 128.0]
    for t, gain in zip(seconds, _gain(seconds), strict=True):
        background = 66_000.0 if t in seconds_lit else 50 + 2 * gain  # (most clip at 65535)
        image, _ = render_blot(_spec([i * gain for i in INTENSITY[:10]], background), rng)
        tifffile.imwrite(folder / f"o_{t:g}s.tif", np.asarray(image, np.uint16))
        exposures.append({"file": f"o_{t:g}s.tif", "seconds": t})
    image, _ = render_blot(_spec([3e6] * 10, 500), rng)
    tifffile.imwrite(folder / "o_L.tif", np.asarray(image, np.uint16))
    lanes = [{"treatment": "DMSO"}] * 10
    images = [{"antibody": "X", "exposures": exposures}, {"file": "o_L.tif", "antibody": "L"}]
    config = {"pairs": [{"phospho": "X", "total": "L"}]}
    config["membranes"] = [{"name": "o", "lanes": lanes, "images": images}]
    (folder / "c.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def test_an_over_exposed_exposure_is_left_out_of_its_series(tmp_path):
    _overexposed_series(tmp_path, [128.0])
    outcome = run(tmp_path / "c.yaml", out=tmp_path / "out", qc=False)
    assert not outcome.failures  # the series does without it: no rejected input
    assert any("o_128s.tif" in w and "left out" in w for w in outcome.warnings)
    x = outcome.bands[outcome.bands["antibody"] == "X"]
    assert len(x) == 10 and not x["exposure"].str.contains("128s").any()


def test_a_series_over_exposed_in_every_exposure_is_rejected(tmp_path):
    _overexposed_series(tmp_path, [2.0, 16.0, 128.0])
    outcome = run(tmp_path / "c.yaml", out=tmp_path / "out", qc=False)
    assert len(outcome.failures) == 3 and not (outcome.bands["antibody"] == "X").any()
    assert all("detector's limit" in message for _, message in outcome.failures)
