"""Exposure series: one membrane imaged at several exposures, merged into one set of volumes.

Chemiluminescence imagers save the same membrane at several exposures; a
strong loading control saturates the long ones while a weak phospho band
needs them. Every band is measured in every exposure, in the same boxes. The
scale between two exposures is fitted from the bands unsaturated and clear
of the noise in both (never taken from the nominal times: the substrate's
light decays while the imager collects it), and each band gets the volume
of its longest unsaturated exposure, brought to the longest exposure's scale.
A band saturated in every exposure stays flagged ``saturated``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from blotquant.quantify import BandMeasurement, ImageAnalysis
from blotquant.tables import EXCLUDING_FLAGS

#: Bands whose signal-to-noise ratio is below this in either exposure do not
#: fit the scale between them (10 % noise would swamp a 1 % scale).
SCALE_MIN_SNR = 20.0
#: Log ratios further than this many robust SDs from the median are left out of the scale.
OUTLIER_SDS = 3.0
#: The dynamic range counts the bands measured to within about 3 % of their own noise.
RANGE_MIN_SNR = 33.0


@dataclass(frozen=True)
class ExposureScale:
    """The fitted scale from one exposure to the next longer one.

    Attributes
    ----------
    scale : float
        Volume in the longer exposure over volume in the shorter, fitted from
        the bands usable in both (NaN when none is).
    spread : float
        Robust standard deviation of the bands' own log ratios around it
        (about their relative spread); a large one means the two exposures
        do not differ by one factor (a band saturated unseen, a shifted image).
    n_bands : int
        Bands the scale was fitted from.
    """

    scale: float
    spread: float
    n_bands: int


@dataclass(frozen=True)
class SeriesMerge:
    """Each band's volume from its longest unsaturated exposure, on the longest's scale.

    Attributes
    ----------
    chosen : ndarray of int, shape (n_bands,)
        Index (shortest first) of the exposure each band's volume comes from.
    factor : ndarray, shape (n_bands,)
        The factor its volumes were multiplied by (1 for the longest exposure).
    saturated : ndarray of bool, shape (n_bands,)
        Saturated in every exposure.
    scales : tuple of ExposureScale
        One per pair of neighbouring exposures, shortest first.
    """

    chosen: np.ndarray
    factor: np.ndarray
    saturated: np.ndarray
    scales: tuple[ExposureScale, ...]


def fit_scale(
    shorter: np.ndarray,
    longer: np.ndarray,
    *,
    usable: np.ndarray,
    snr_shorter: np.ndarray,
    snr_longer: np.ndarray,
) -> ExposureScale:
    """Fit the factor between two exposures of the same bands.

    A weighted mean of the bands' log ratios (each weighted by the inverse
    of its variance, from both signal-to-noise ratios), after the ones
    further than :data:`OUTLIER_SDS` robust SDs from the median are left out.

    Parameters
    ----------
    shorter, longer : ndarray, shape (n_bands,)
        Net volumes of the same bands in the two exposures.
    usable : ndarray of bool, shape (n_bands,)
        Bands unsaturated (and flagged neither ``no-band`` nor ``dust``) in both.
    snr_shorter, snr_longer : ndarray, shape (n_bands,)
        Their signal-to-noise ratios.

    Returns
    -------
    ExposureScale
    """
    ok = (
        usable
        & (shorter > 0)
        & (longer > 0)
        & (snr_shorter >= SCALE_MIN_SNR)
        & (snr_longer >= SCALE_MIN_SNR)
    )
    if not ok.any():
        return ExposureScale(float("nan"), float("nan"), 0)
    logs = np.log(longer[ok] / shorter[ok])
    weights = 1.0 / (1.0 / snr_shorter[ok] ** 2 + 1.0 / snr_longer[ok] ** 2)
    median = float(np.median(logs))
    sd = 1.4826 * float(np.median(np.abs(logs - median)))
    keep = np.abs(logs - median) <= OUTLIER_SDS * sd if sd > 0 else np.ones(len(logs), bool)
    value = float(np.sum(weights[keep] * logs[keep]) / np.sum(weights[keep]))
    return ExposureScale(float(np.exp(value)), sd, int(keep.sum()))


def merge_series(
    volumes: np.ndarray, saturated: np.ndarray, usable: np.ndarray, snr: np.ndarray
) -> SeriesMerge:
    """Merge a series: scales between neighbouring exposures, then each band's exposure.

    Parameters
    ----------
    volumes : ndarray, shape (n_exposures, n_bands)
        Net volume of each band in each exposure, shortest exposure first.
    saturated : ndarray of bool, shape (n_exposures, n_bands)
    usable : ndarray of bool, shape (n_exposures, n_bands)
        Measured cleanly enough to fit a scale (not ``no-band``, not ``dust``).
    snr : ndarray, shape (n_exposures, n_bands)

    Returns
    -------
    SeriesMerge
        With every factor NaN past a pair of exposures no band links.
    """
    n_exposures, n_bands = volumes.shape
    scales = tuple(
        fit_scale(
            volumes[k],
            volumes[k + 1],
            usable=usable[k] & usable[k + 1] & ~saturated[k] & ~saturated[k + 1],
            snr_shorter=snr[k],
            snr_longer=snr[k + 1],
        )
        for k in range(n_exposures - 1)
    )
    # each exposure's factor to the longest: the product of the scales above it
    to_longest = np.ones(n_exposures)
    for k in range(n_exposures - 2, -1, -1):
        to_longest[k] = to_longest[k + 1] * scales[k].scale
    all_saturated = saturated.all(axis=0)
    chosen = np.zeros(n_bands, int)
    for band in range(n_bands):
        clear = np.flatnonzero(~saturated[:, band] & np.isfinite(to_longest))
        # the longest unsaturated exposure holds the band clearest of the noise
        chosen[band] = int(clear[-1]) if len(clear) else 0
    factor = to_longest[chosen]
    return SeriesMerge(chosen, factor, all_saturated, scales)


def dynamic_range(volumes: np.ndarray, clean: np.ndarray) -> float:
    """Strongest over weakest of the volumes measured cleanly (NaN with fewer than two).

    Parameters
    ----------
    volumes : ndarray, shape (n_bands,)
    clean : ndarray of bool, shape (n_bands,)
        Unsaturated and clear of the noise (``snr`` at least :data:`RANGE_MIN_SNR`).
    """
    values = volumes[clean & (volumes > 0)]
    if len(values) < 2:
        return float("nan")
    return float(values.max() / values.min())


#: Flags that keep a band out of the scale between exposures (its volume is not
#: the band's alone): saturated is dealt with on its own.
UNFIT_FLAGS = ("no-band", "dust", "edge", "bubble")


def exposure_seconds(acquisition: Mapping[str, Any]) -> float | None:
    """Read an exposure time in seconds from what an imager's file says, if it says it.

    Image Lab's ``.scn`` writes ``Exposure Time (sec)``.
    """
    for key, value in acquisition.items():
        if re.search(r"exposure", str(key), re.I) and re.search(r"\bsec", str(key), re.I):
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                continue
            if seconds > 0:
                return seconds
    return None


def merge_analysis(
    reference: ImageAnalysis,
    exposures: Sequence[tuple[BandMeasurement, ...]],
    files: Sequence[str],
    seconds: Sequence[float | None],
) -> tuple[ImageAnalysis, list[dict[str, Any]]]:
    """Merge the bands of a series, measured in the same boxes, into one analysis.

    Parameters
    ----------
    reference : ImageAnalysis
        The analysis whose boxes every exposure was measured in.
    exposures : sequence of tuple of BandMeasurement, length n_exposures
        Each exposure's bands (one per box), shortest exposure first.
    files : sequence of str
        Each exposure's file, as the config names it.
    seconds : sequence of float or None
        Each exposure's time, where known.

    Returns
    -------
    analysis : ImageAnalysis
        ``reference`` with each band from its longest unsaturated exposure,
        on the longest exposure's scale (``exposure``, ``exposure_factor``).
    rows : list of dict
        exposures.csv's rows: one per pair of neighbouring exposures.
    """
    volumes = np.array([[b.net_volume for b in bands] for bands in exposures], float)
    flags = [[set(b.flags) for b in bands] for bands in exposures]
    saturated = np.array([[bool(f & set(EXCLUDING_FLAGS)) for f in row] for row in flags])
    usable = np.array([[not (f & set(UNFIT_FLAGS)) for f in row] for row in flags])
    snr = np.array([[b.snr for b in bands] for bands in exposures], float)
    merge = merge_series(volumes, saturated, usable, snr)
    bands = []
    for j in range(volumes.shape[1]):
        k, factor = int(merge.chosen[j]), float(merge.factor[j])
        band = exposures[k][j]
        bands.append(
            replace(
                band,
                raw_volume=band.raw_volume * factor,
                background_volume=band.background_volume * factor,
                net_volume=band.net_volume * factor,
                profile=None if band.profile is None else band.profile * factor,
                background=None if band.background is None else band.background * factor,
                exposure=files[k],
                exposure_factor=factor,
            )
        )
    clean = ~saturated & (snr >= RANGE_MIN_SNR) & usable
    merged_volumes = np.array([b.net_volume for b in bands])
    merged_clean = clean[merge.chosen, np.arange(len(bands))]
    singles = [dynamic_range(volumes[k], clean[k]) for k in range(len(exposures))]
    best_single = max((r for r in singles if r == r), default=float("nan"))
    series_range = dynamic_range(merged_volumes, merged_clean & np.isfinite(merge.factor))
    rows = []
    for k, scale in enumerate(merge.scales):
        short, long = seconds[k], seconds[k + 1]
        rows.append(
            {
                "shorter": files[k],
                "longer": files[k + 1],
                "seconds_shorter": short,
                "seconds_longer": long,
                "nominal_scale": long / short if short and long else float("nan"),
                "scale": scale.scale,
                "spread": scale.spread,
                "n_bands": scale.n_bands,
                "dynamic_range": series_range,
                "best_single_range": best_single,
                "n_saturated_in_all": int(merge.saturated.sum()),
            }
        )
    return replace(reference, bands=tuple(bands), exposures=tuple(files)), rows
