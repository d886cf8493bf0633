"""The robust noise estimate shared by band finding, dust removal and the SNR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from blotquant.profiles import MAD_TO_SIGMA, clipped_sigma, find_peaks, robust_sigma


def test_gaussian_noise_gives_its_standard_deviation():
    noise = np.random.default_rng(0).normal(50.0, 3.0, 200_000)
    assert robust_sigma(noise) == pytest.approx(3.0, rel=0.01)


def test_a_few_outliers_do_not_move_it():
    noise = np.random.default_rng(1).normal(0.0, 2.0, 10_001)
    spiked = noise.copy()
    spiked[::100] = 1e6  # band edges, specks
    assert robust_sigma(spiked) == pytest.approx(robust_sigma(noise), rel=0.03)


def test_differences_give_the_noise_of_one_sample():
    noise = np.random.default_rng(2).normal(0.0, 5.0, 200_000)
    assert robust_sigma(np.diff(noise), differences=True) == pytest.approx(5.0, rel=0.01)


def test_uncentred_is_the_median_of_absolute_values():
    values = np.array([-4.0, 1.0, 2.0, 10.0, 3.0])
    assert robust_sigma(values, centred=False) == MAD_TO_SIGMA * 3.0
    assert robust_sigma(values) == MAD_TO_SIGMA * 1.0  # median 2: deviations 6, 1, 0, 8, 1


def test_upper_median_takes_the_upper_middle_value():
    values = np.array([1.0, 2.0, 4.0, 8.0])
    # deviations from 4 (upper middle): 3, 2, 0, 4 -> upper middle 3
    assert robust_sigma(values, upper_median=True) == MAD_TO_SIGMA * 3.0
    odd = np.random.default_rng(3).normal(size=101)
    assert robust_sigma(odd, upper_median=True) == robust_sigma(odd)


def test_along_an_axis_and_without_values():
    columns = np.array([[0.0, 10.0], [1.0, 30.0], [2.0, 20.0]])
    np.testing.assert_array_equal(robust_sigma(columns, axis=0), MAD_TO_SIGMA * np.array([1, 10]))
    assert robust_sigma(np.array([])) == 0.0


def test_find_peaks_follows_scipy_signal():
    rng = np.random.default_rng(2)
    for _ in range(300):
        values = rng.normal(size=int(rng.integers(5, 400))).cumsum()
        distance = float(rng.choice([1.0, 3.0, 5.5, 12.0]))
        prominence = float(rng.choice([0.0, 0.3, 1.0]))
        expected, props = signal.find_peaks(
            values, distance=distance if distance > 1 else None, prominence=prominence
        )
        peaks, prominences = find_peaks(values, distance=distance, min_prominence=prominence)
        assert np.array_equal(peaks, expected)
        assert np.allclose(prominences, props["prominences"])


def test_find_peaks_takes_the_middle_of_a_flat_top():
    peaks, prominences = find_peaks(np.array([0.0, 1.0, 3.0, 3.0, 3.0, 1.0, 0.0]))
    assert peaks.tolist() == [3] and prominences.tolist() == [3.0]


def test_clipped_sigma_is_steadier_than_the_mad_and_as_deaf_to_outliers():
    rng = np.random.default_rng(1)
    draws = rng.normal(0.0, 1.0, (2000, 30))
    clipped = np.array([clipped_sigma(d) for d in draws])
    mad = np.array([robust_sigma(d) for d in draws])
    # both within a few % of the truth on Gaussian noise (the clipping takes the
    # tails: 4 % low); the clipped SD scatters far less (30 values: 15 % against 20 %)
    assert abs(clipped.mean() - 1) < 0.05 and abs(mad.mean() - 1) < 0.05
    assert clipped.std() < 0.8 * mad.std()
    # three specks 50 SDs off change nothing much
    spiked = draws[:200].copy()
    spiked[:, :3] = 50.0
    assert np.median([clipped_sigma(d) for d in spiked]) < 1.1
    assert clipped_sigma(np.array([5.0])) == 0.0
