"""Background under a band: what is removed from the raw volume.

All methods work on a *band patch*: the band box straightened along the band
(one row per box column, see :func:`blotquant.bands.band_patch`) with
``margin`` rows of membrane kept above and below it.

Methods
-------
profile-baseline
    ImageJ Gel Analyzer's way: the lane profile (the patch summed across the
    lane) gets a straight baseline from the membrane just above the band to
    the membrane just below it; the area under that line is the background.
    A straight baseline removes any linear background gradient exactly, in
    both directions, because sums of planes are planes.
lane-edges
    LI-COR Image Studio's "median" background: the median of the border
    pixels just above and below the box, times the box area.
rolling-ball
    ImageJ's Process > Subtract Background at the configured radius (see
    :mod:`blotquant.rollingball`); the background image is summed over the box.
none
    Raw volumes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blotquant.bands import BandBox
from blotquant.rollingball import rolling_ball_rows

#: Methods that take the background from the membrane margins above and below
#: each box (a QC picture draws those margins).
DRAWS_MARGINS = ("profile-baseline", "lane-edges")


def background_image(
    method: str, signal: np.ndarray, boxes: Sequence[BandBox], radius: float
) -> tuple[np.ndarray | None, int]:
    """Compute the background image a method needs before measuring, if any.

    Only ``rolling-ball`` needs one; it is computed only over the rows the
    boxes and their margins read (the ball is the slow part of a run).

    Parameters
    ----------
    method : str
        Background method.
    signal : ndarray, shape (n_rows, n_columns)
        Image, bands bright.
    boxes : sequence of BandBox
        The boxes that will be measured.
    radius : float
        Rolling-ball radius, in pixels.

    Returns
    -------
    image : ndarray of float32, shape (last_row - first_row, n_columns), or None
        The background of rows ``first_row`` to ``last_row`` of ``signal``;
        None for the other methods, or when there is no box.
    first_row : int
        The row of ``signal`` that ``image[0]`` holds (0 without an image).
    """
    if method != "rolling-ball" or not boxes:
        return None, 0
    # only the rows the boxes and their margins read
    tops = [int(b.column_tops()[1].min()) - b.margin for b in boxes]
    bottoms = [int(b.column_tops()[1].max()) + b.height + b.margin for b in boxes]
    first, last = max(0, min(tops)), min(signal.shape[0], max(bottoms) + 1)
    return rolling_ball_rows(signal, radius, (first, last)), first


def profile_baseline(patch: np.ndarray, margin: int, height: int) -> np.ndarray:
    """Straight baseline of the lane profile, per box row.

    The baseline runs from the membrane just above the box to the membrane
    just below it, like the line a Gel Analyzer user draws under a peak.

    Parameters
    ----------
    patch : ndarray, shape (n_columns, margin + height + margin)
        Straightened band with membrane margins.
    margin : int
        Rows of membrane above and below the box.
    height : int
        Rows of the box.

    Returns
    -------
    ndarray, shape (height,)
        Background of each box row, summed across the lane.
    """
    # each margin's level is the mean of its rows summed across the lane, as
    # the profile under the band is a sum across the lane: a trimmed mean
    # would be biased wherever the margin is not flat across the lane (the
    # tail of a nonspecific band, a blotch). Dust in the margins was replaced
    # beforehand (see blotquant.dust.despeckle).
    above = float(patch[:, :margin].sum(axis=0).mean())
    below = float(patch[:, margin + height :].sum(axis=0).mean())
    # the margins' means sit at their centre rows; the line runs between them
    x_above = (margin - 1) / 2.0
    x_below = margin + height + (margin - 1) / 2.0
    rows = np.arange(margin, margin + height)
    return above + (below - above) * (rows - x_above) / (x_below - x_above)


def lane_edges(patch: np.ndarray, margin: int, height: int) -> np.ndarray:
    """Median of the border pixels above and below the box, per box row.

    Parameters
    ----------
    patch : ndarray, shape (n_columns, margin + height + margin)
        Straightened band with membrane margins.
    margin : int
        Rows of membrane above and below the box.
    height : int
        Rows of the box.

    Returns
    -------
    ndarray, shape (height,)
        The median times the box's columns, the same in every row.
    """
    border = np.concatenate([patch[:, :margin].ravel(), patch[:, margin + height :].ravel()])
    return np.full(height, float(np.median(border)) * patch.shape[0])


def background_profile(
    method: str,
    patch: np.ndarray,
    margin: int,
    height: int,
    background_patch: np.ndarray | None = None,
) -> np.ndarray:
    """Background of each box row (summed across the lane) by ``method``.

    Parameters
    ----------
    method : str
        One of :data:`blotquant.models.BACKGROUND_METHODS`.
    patch : ndarray, shape (n_columns, margin + height + margin)
        Straightened band with membrane margins.
    margin : int
        Rows of membrane above and below the box.
    height : int
        Rows of the box.
    background_patch : ndarray, shape (n_columns, margin + height + margin), optional
        The background image cut like ``patch``; ``rolling-ball`` needs it.

    Returns
    -------
    ndarray, shape (height,)
        Its sum is the band's background volume.

    Raises
    ------
    ValueError
        For an unknown method, or ``rolling-ball`` without its patch.
    """
    if method == "profile-baseline":
        return profile_baseline(patch, margin, height)
    if method == "lane-edges":
        return lane_edges(patch, margin, height)
    if method == "rolling-ball":
        if background_patch is None:
            raise ValueError("rolling-ball needs the background image")
        return background_patch[:, margin : margin + height].sum(axis=0)
    if method == "none":
        return np.zeros(height)
    raise ValueError(f"unknown background method {method!r}")


def background_uncertainty(
    method: str, noise_sigma: float, n_columns: int, margin: int, height: int
) -> float:
    """One standard deviation of the background volume due to pixel noise.

    The baseline or median is estimated from ``2 * margin * n_columns``
    pixels and multiplied by the box area, so its noise is scaled up with it.
    The rolling ball's estimate comes from many more pixels; its noise is
    treated as that of a margin of the same size.

    Parameters
    ----------
    method : str
        Background method.
    noise_sigma : float
        Noise standard deviation of one pixel.
    n_columns, margin, height : int
        The band patch's columns, margin rows (each side) and box rows.

    Returns
    -------
    float
        0.0 for ``none`` and for boxes without margins.
    """
    if method == "none" or margin <= 0:
        return 0.0
    n_border = 2 * margin * n_columns
    per_pixel = noise_sigma / np.sqrt(n_border)
    if method == "lane-edges":
        per_pixel *= np.sqrt(np.pi / 2.0)  # a median is noisier than a mean
    return float(per_pixel * n_columns * height)
