"""Molecular weight from a ladder lane: marks found, log10(kDa) fitted against row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal as sp_signal

from blotquant.profiles import lower_baseline


@dataclass(frozen=True)
class LadderFit:
    """Where the ladder's marks are, and size as a function of row.

    ``log10(kDa) = slope * row + intercept``: in a gel's separating range a
    protein's migration is linear in the logarithm of its size.
    """

    rows: tuple[float, ...]
    kda: tuple[float, ...]
    slope: float
    intercept: float

    def kda_at(self, row: float) -> float:
        return float(10 ** (self.slope * row + self.intercept))

    def row_at(self, kda: float) -> float:
        return float((np.log10(kda) - self.intercept) / self.slope)


def fit_ladder(profile: np.ndarray, kda: Sequence[float]) -> LadderFit | None:
    """Fit the marks of a ladder lane's profile (bands bright) to their sizes.

    The ``len(kda)`` most prominent peaks are the marks, matched top to
    bottom with ``kda`` (largest first). Returns None when fewer peaks stand
    out or the sizes do not fall with the rows.
    """
    profile = np.asarray(profile, dtype=float)
    flat = profile - lower_baseline(profile, max(15, len(profile) // 8))
    if flat.max() <= 0:
        return None
    peaks, props = sp_signal.find_peaks(flat, prominence=0.05 * flat.max(), distance=3)
    if len(peaks) < len(kda):
        return None
    strongest = peaks[np.argsort(props["prominences"])[::-1][: len(kda)]]
    rows = np.sort(strongest).astype(float)
    sizes = np.asarray(kda, dtype=float)
    slope, intercept = np.polyfit(rows, np.log10(sizes), 1)
    if slope >= 0:
        return None
    return LadderFit(tuple(rows), tuple(sizes), float(slope), float(intercept))
