"""Molecular weight from a ladder lane: marks found, log10(kDa) fitted against row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blotquant.bands import lane_profiles
from blotquant.lanes import LaneGeometry
from blotquant.profiles import find_peaks, lower_baseline


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
        """Size of a protein that migrated to ``row``.

        Parameters
        ----------
        row : float
            Row of the analysed image or region.

        Returns
        -------
        float
            Size in kDa.
        """
        return float(10 ** (self.slope * row + self.intercept))

    def row_at(self, kda: float) -> float:
        """Row a protein of a given size migrates to.

        Parameters
        ----------
        kda : float
            Size in kDa.

        Returns
        -------
        float
            Row (sub-pixel) of the analysed image or region.
        """
        return float((np.log10(kda) - self.intercept) / self.slope)


def fit_ladder(profile: np.ndarray, kda: Sequence[float]) -> LadderFit | None:
    """Fit the marks of a ladder lane's profile (bands bright) to their sizes.

    The ``len(kda)`` most prominent peaks are the marks, matched top to
    bottom with ``kda`` (largest first).

    Parameters
    ----------
    profile : ndarray, shape (n_rows,)
        The ladder lane's profile, bands bright.
    kda : sequence of float
        The marks' sizes, top to bottom.

    Returns
    -------
    LadderFit or None
        None when fewer peaks stand out or the sizes do not fall with the rows.
    """
    profile = np.asarray(profile, dtype=float)
    flat = profile - lower_baseline(profile, max(15, len(profile) // 8))
    if flat.max() <= 0:
        return None
    peaks, prominences = find_peaks(flat, distance=3, min_prominence=0.05 * flat.max())
    if len(peaks) < len(kda):
        return None
    strongest = peaks[np.argsort(prominences)[::-1][: len(kda)]]
    rows = np.sort(strongest).astype(float)
    sizes = np.asarray(kda, dtype=float)
    slope, intercept = np.polyfit(rows, np.log10(sizes), 1)
    if slope >= 0:
        return None
    return LadderFit(tuple(rows), tuple(sizes), float(slope), float(intercept))


def fit_ladder_lane(
    signal: np.ndarray, lanes: LaneGeometry, lane: int, kda: Sequence[float]
) -> LadderFit | None:
    """Fit the marks of the ladder in lane number ``lane`` of an image.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Image, bands bright.
    lanes : LaneGeometry
        Lanes of that image.
    lane : int
        The ladder's lane, numbered from 1.
    kda : sequence of float
        The marks' sizes, top to bottom.

    Returns
    -------
    LadderFit or None
        None when the marks are not found (see :func:`fit_ladder`).
    """
    return fit_ladder(lane_profiles(signal, lanes)[lane - 1], kda)


def band_window(ladder: LadderFit, kda: float, tolerance: float, n_rows: int) -> tuple[int, int]:
    """Rows where a protein of ``kda`` may run, within a relative ``tolerance``.

    Parameters
    ----------
    ladder : LadderFit
        The image's ladder.
    kda : float
        The protein's size.
    tolerance : float
        Relative size tolerance (0.15: 15 % either way).
    n_rows : int
        Rows of the image or region; the window stays inside them.

    Returns
    -------
    (int, int)
        [top, bottom) rows, larger proteins higher up.
    """
    top = ladder.row_at(kda * (1 + tolerance))
    bottom = ladder.row_at(kda * (1 - tolerance))
    return max(0, int(np.floor(top))), min(n_rows, int(np.ceil(bottom)) + 1)
