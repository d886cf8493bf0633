"""Bands that touch across lanes: where the box edge between them goes.

Wide bands of neighbouring lanes (an overloaded loading control, lanes loaded
close together) run into each other with no valley between them. Each band's
flank then reaches past the midpoint into its neighbour's box, and a box edge
at the midpoint gives every lane part of its neighbours' bands and takes part
of its own: several per cent of a volume, more next to a much brighter lane.

Between two bands that touch, the box edge is put where each band gives the
other as much as it takes, so each box holds its own band's volume. To know
the flanks, every band of the touching lanes is given one lateral shape: a
flat top as wide as the comb's tooth, with soft edges (a box blurred by a
Gaussian), scaled per lane and centred on its lane. The shape is fitted to
the band's net signal, column by column, across the touching lanes. Where the
fit is poor (the bands are not alike in shape), the boxes are left as they
were. A touching run's free ends are widened to hold the band's whole flank.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import optimize, special

from blotquant.bands import BandBox, box_heights, column_volumes
from blotquant.profiles import bands_touch

#: Smallest share of the run's signal (sum of squares) the shape must explain.
MIN_FIT = 0.97
#: Flanks of the fitted shape are followed this many edge widths (sigma) out.
FLANK_SIGMAS = 3.0


def lateral_shape(x: np.ndarray, half_width: float, softness: float) -> np.ndarray:
    """Give a flat-topped band's lateral profile: a box ``2 * half_width`` wide, blurred.

    Parameters
    ----------
    x : ndarray
        Columns from the lane's centre.
    half_width : float
        Half the width of the flat top (the tooth), in columns.
    softness : float
        Gaussian sigma of the edges, in columns.

    Returns
    -------
    ndarray, shape of ``x``
        1 on the top; its integral is ``2 * half_width``.
    """
    return special.ndtr((x + half_width) / softness) - special.ndtr((x - half_width) / softness)


def flank_beyond(distance: float, half_width: float, softness: float) -> float:
    """Integral of :func:`lateral_shape` from ``distance`` to infinity (one flank)."""

    def tail(z: float) -> float:
        # integral of the upper normal tail from z to infinity
        return float(np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) - z * special.ndtr(-z))

    return softness * (
        tail((distance - half_width) / softness) - tail((distance + half_width) / softness)
    )


def fit_lateral_shape(
    columns: np.ndarray, profile: np.ndarray, centers: np.ndarray, pitch: float
) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Fit one lateral shape, scaled per lane, to a row of touching bands.

    Parameters
    ----------
    columns : ndarray, shape (n,)
        Column of each profile value.
    profile : ndarray, shape (n,)
        Net band signal per column (:func:`column_volumes`).
    centers : ndarray, shape (n_lanes,)
        The lanes' centre columns at the band; each may move by a tenth of a
        pitch (a faint lane is placed only roughly by the lanes' comb).
    pitch : float
        Lane spacing, which bounds the shape.

    Returns
    -------
    half_width, softness : float
        The shape (see :func:`lateral_shape`).
    heights : ndarray, shape (n_lanes,)
        Each lane's height (its band's volume is ``2 * half_width * height``).
    fitted_centers : ndarray, shape (n_lanes,)
        The lanes' centres as fitted.
    explained : float
        Share of the profile's sum of squares the fit explains.
    """
    n = len(centers)

    def solve(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offsets = columns[:, None] - (centers + params[2:])[None, :]
        design = lateral_shape(offsets, params[0], params[1])
        heights, _ = optimize.nnls(design, profile)
        return heights, profile - design @ heights

    shift = 0.1 * pitch
    start = np.concatenate([[0.35 * pitch, max(1.0, 0.05 * pitch)], np.zeros(n)])
    lower = np.concatenate([[0.1 * pitch, 0.5], np.full(n, -shift)])
    upper = np.concatenate([[0.75 * pitch, max(1.0, 0.3 * pitch)], np.full(n, shift)])
    fit = optimize.least_squares(
        lambda p: solve(p)[1], start, bounds=(lower, upper), x_scale=np.full(n + 2, 1.0)
    )
    heights, residual = solve(fit.x)
    total = float(profile @ profile)
    explained = 1.0 - float(residual @ residual) / total if total > 0 else 0.0
    return float(fit.x[0]), float(fit.x[1]), heights, centers + fit.x[2:], explained


def balanced_edge(
    heights: np.ndarray, centers: np.ndarray, *, half_width: float, softness: float
) -> float:
    """Column between two touching bands where each one's flank past it is the same.

    Parameters
    ----------
    heights, centers : ndarray, shape (2,)
        The left and right band's height and centre (:func:`fit_lateral_shape`).
    half_width, softness : float
        Their lateral shape (:func:`lateral_shape`).

    Returns
    -------
    float
        The edge, between the centres; nearer the weaker band.
    """
    (h0, h1), (c0, c1) = heights, centers

    def give_and_take(x: float) -> float:
        gives = h0 * flank_beyond(x - c0, half_width, softness)
        return gives - h1 * flank_beyond(c1 - x, half_width, softness)

    return float(optimize.brentq(give_and_take, c0, c1, xtol=1e-4))


def _touching_runs(
    signal: np.ndarray, boxes: list[BandBox], typical: np.ndarray, pitch: float
) -> list[list[int]]:
    """Find runs of neighbouring boxes (indices) whose bands touch between them."""
    runs: list[list[int]] = []
    for k in range(len(boxes) - 1):
        a, b = boxes[k], boxes[k + 1]
        if b.lane != a.lane + 1 or b.x_left - a.x_right > 0.25 * pitch:
            continue
        if min(typical[k], typical[k + 1]) <= 0:
            continue
        # the lowest point from the end of one box to the start of the next
        between = column_volumes(signal, a, a.x_right - 2, max(b.x_left + 2, a.x_right))
        if not bands_touch(float(between.min()), typical[k], typical[k + 1]):
            continue
        if runs and runs[-1][-1] == k:
            runs[-1].append(k + 1)
        else:
            runs.append([k, k + 1])
    return runs


def balance_touching(
    signal: np.ndarray,
    boxes: list[BandBox],
    *,
    pitch: float,
    heights: np.ndarray | None = None,
) -> list[BandBox]:
    """Put the box edges between touching bands where each gives as much as it takes.

    Parameters
    ----------
    signal : ndarray, shape (n_rows, n_columns)
        Float image, bands bright.
    boxes : list of BandBox
        The boxes of one image or region, left to right
        (:func:`blotquant.bands.find_bands`).
    pitch : float
        Lane spacing, in columns.
    heights : ndarray, shape (n_boxes,), optional
        :func:`blotquant.bands.box_heights` of the boxes, when the caller has it.

    Returns
    -------
    list of BandBox
        The same boxes; those of touching bands marked ``touching``, with
        moved column edges.
    """
    if len(boxes) < 2 or pitch <= 0:
        return boxes
    out = list(boxes)
    width = signal.shape[1]
    heights = box_heights(signal, boxes) if heights is None else heights
    for run in _touching_runs(signal, boxes, heights, pitch):
        first, last = boxes[run[0]], boxes[run[-1]]
        # the run's free ends, as far as the boxes beside it allow
        reach = int(round(0.5 * pitch))
        left_limit = boxes[run[0] - 1].x_right if run[0] > 0 else 0
        right_limit = boxes[run[-1] + 1].x_left if run[-1] + 1 < len(boxes) else width
        x_from = max(first.x_left - reach, left_limit, 0)
        x_to = min(last.x_right + reach, right_limit, width)
        centers = np.array([boxes[k].lane_x for k in run])
        # every column along the band rows of the box of the nearest lane
        cuts = np.concatenate(
            [[x_from], np.ceil(0.5 * (centers[:-1] + centers[1:])).astype(int), [x_to]]
        )
        profile = np.concatenate(
            [
                column_volumes(signal, boxes[k], int(lo), int(hi))
                for k, lo, hi in zip(run, cuts[:-1], cuts[1:], strict=True)
            ]
        )
        columns = np.arange(x_from, x_to)
        half_width, softness, heights, centers, explained = fit_lateral_shape(
            columns.astype(float), profile, centers, pitch
        )
        if explained < MIN_FIT or np.any(heights <= 0):
            continue
        # each shared edge: where the left band's flank past it equals the right one's
        for j in range(len(run) - 1):
            edge = balanced_edge(
                heights[j : j + 2], centers[j : j + 2], half_width=half_width, softness=softness
            )
            # a box holds whole columns: the edge between columns x - 1 and x is x - 0.5
            column = int(np.clip(round(edge + 0.5), centers[j] + 1, centers[j + 1]))
            out[run[j]] = replace(out[run[j]], x_right=column)
            out[run[j + 1]] = replace(out[run[j + 1]], x_left=column)
        for k in run:
            out[k] = replace(out[k], touching=True)
        # a run's end beside no loaded lane holds its band's whole flank (beside
        # a lane with a band, the valley to it already bounds the box)
        flank = half_width + FLANK_SIGMAS * softness
        if run[0] == 0 or boxes[run[0] - 1].lane != first.lane - 1:
            start = max(x_from, int(centers[0] - flank))
            out[run[0]] = replace(out[run[0]], x_left=min(out[run[0]].x_left, start))
        if run[-1] + 1 == len(boxes) or boxes[run[-1] + 1].lane != last.lane + 1:
            stop = min(x_to, int(np.ceil(centers[-1] + flank)) + 1)
            out[run[-1]] = replace(out[run[-1]], x_right=max(out[run[-1]].x_right, stop))
    return out
