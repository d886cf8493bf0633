"""Check lanes against the membrane: does the listed lane count fit what is there.

Lanes are placed from the number of lanes the config lists. When that number
is wrong (a forgotten ladder, one lane too many), or the comb slid by a lane,
every box still lands somewhere plausible and nothing looks wrong in the
numbers. This stage looks at the evidence independently of the fit: the
columns that hold bands, across every band row of the image. Two signs that
the lanes do not fit:

* **a band column outside every lane**: signal the lanes leave unmeasured
  (a sample beside the first or last lane, a lane compressed between two);
* **band signal outside the boxes**: a large share of the membrane's band
  signal falls between or beyond the boxes (lanes squeezed onto part of a
  merged band, or shifted off their bands).

A third sign needs every image of a membrane: a sample lane that is bare in
all of them (the total or loading-control band too) was most likely never
loaded, i.e. the config lists more lanes than the membrane has
(:func:`bare_lanes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from blotquant.evidence import (
    band_columns,
    band_residual,
    band_row_groups,
    cleaned_profile,
    column_profile,
    peak_smoothing,
    rows_with_bands,
)
from blotquant.lanes import LaneGeometry

#: A band column farther than this share of a pitch from every lane centre
#: lies outside the lanes (a correct lane is within a quarter pitch).
STRAY_PITCH = 0.35
#: Band rows whose strongest band is below this share of the strongest row's are not used.
ROW_LEVEL = 0.25
#: Share of the band signal outside every box above which the lanes are doubted.
OUTSIDE_SHARE = 0.25
#: A lane whose own signal is below this share of a typical lane is bare.
BARE_LEVEL = 0.08


@dataclass(frozen=True)
class LaneEvidence:
    """What the membrane shows about the lanes of one image or region.

    Attributes
    ----------
    columns : ndarray, shape (n_columns,)
        Centres of the columns that hold bands, at the lanes' ``ref_row``.
    stray : ndarray, shape (n_stray,)
        Those of ``columns`` that lie outside every lane.
    presence : ndarray, shape (n_lanes,)
        Each lane's own band signal over that of a typical lane with bands
        (about 1 for a loaded lane, about 0 for bare membrane).
    outside_share : float
        Share of the band signal that falls outside every lane's box.
    off_image : ndarray of int, shape (n_off,)
        1-based numbers of lanes whose centre lies beyond the image's edge
        (the comb made room for a lane the membrane does not have).
    """

    columns: np.ndarray
    stray: np.ndarray
    presence: np.ndarray
    outside_share: float
    off_image: np.ndarray

    def doubts(self) -> list[str]:
        """Say, in words, why these lanes may not be where the membrane has them."""
        found: list[str] = []
        if len(self.stray):
            where = ", ".join(f"x = {x:.0f}" for x in self.stray[:5])
            if len(self.stray) > 5:
                where += ", ..."
            found.append(
                f"{len(self.columns)} band columns, {len(self.stray)} of them outside "
                f"every lane ({where})"
            )
        if len(self.off_image):
            lanes = ", ".join(str(k) for k in self.off_image)
            found.append(f"lane {lanes} lies beyond the image's edge")
        if self.outside_share > OUTSIDE_SHARE:
            share = f"{100 * self.outside_share:.0f} %"
            found.append(f"{share} of the band signal lies outside the boxes")
        return found


def lane_evidence(
    signal: np.ndarray,
    lanes: LaneGeometry,
    *,
    residual: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> LaneEvidence:
    """Compare lanes with the columns of the membrane that hold bands.

    Every run of band rows is looked at on its own, so a ladder's marks or one
    strip's bands count as much as the strongest strip's.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        The analysed image or region, bands bright.
    lanes : LaneGeometry
        The lanes placed in it.
    residual : ndarray, shape (n_rows, n_columns), optional
        :func:`blotquant.lanes.band_residual` of ``signal``, when the caller has it.
    rows : ndarray of bool, shape (n_rows,), optional
        :func:`blotquant.evidence.rows_with_bands` of that residual, likewise.

    Returns
    -------
    LaneEvidence
    """
    centers = lanes.centers
    pitch = max(lanes.pitch, 1.0)
    off_image = np.flatnonzero((centers < 0) | (centers > signal.shape[1] - 1)) + 1
    residual = band_residual(signal) if residual is None else residual
    x = np.arange(signal.shape[1])
    rows = rows_with_bands(residual) if rows is None else rows
    per_row = [
        band_columns(column_profile(residual, lanes.slope, lanes.ref_row, rows=group), pitch)
        for group in band_row_groups(residual, rows=rows)
    ]
    strongest = max((top for _, top in per_row), default=0.0)
    # rows whose strongest band is faint next to the membrane's strongest say little
    columns = [c for cols, top in per_row if top >= ROW_LEVEL * strongest for c in cols]
    found = np.unique(np.round(columns, 0)) if columns else np.empty(0)
    reach = max(STRAY_PITCH * pitch, lanes.width / 2.0)
    gap = np.min(np.abs(found[:, None] - centers[None, :]), axis=1) if len(found) else found
    stray = found[gap > reach]
    # presence and the share outside the boxes: every band row together
    profile = cleaned_profile(
        column_profile(residual, lanes.slope, lanes.ref_row, rows=rows), pitch
    )
    smooth = ndimage.gaussian_filter1d(profile, peak_smoothing(pitch))
    near = np.abs(x[:, None] - centers[None, :]) <= 0.2 * pitch
    own = np.array([np.median(smooth[near[:, i]]) if near[:, i].any() else 0.0
                    for i in range(len(centers))])  # fmt: skip
    ranked = np.sort(own)[::-1]
    typical = float(np.median(ranked[: max(1, len(own) // 2)])) if len(own) else 0.0
    presence = own / typical if typical > 0 else np.zeros(len(centers))
    inside = np.any(np.abs(x[:, None] - centers[None, :]) <= lanes.width / 2.0, axis=1)
    total = float(profile.sum())
    outside = float(profile[~inside].sum()) / total if total > 0 else 0.0
    return LaneEvidence(found, stray, presence, outside, off_image)


def bare_lanes(presences: list[np.ndarray], sample: np.ndarray) -> np.ndarray:
    """Sample lanes bare in every image of one membrane.

    Parameters
    ----------
    presences : list of ndarray, each shape (n_lanes,)
        :attr:`LaneEvidence.presence` of each image of the membrane.
    sample : ndarray of bool, shape (n_lanes,)
        True for sample lanes (ladder and empty lanes may be bare).

    Returns
    -------
    ndarray of int
        1-based numbers of the sample lanes that hold no band in any image.
    """
    if not presences:
        return np.empty(0, int)
    most = np.max(np.vstack(presences), axis=0)
    return np.flatnonzero(sample & (most < BARE_LEVEL)) + 1
