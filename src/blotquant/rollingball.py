"""ImageJ's Process > Subtract Background (rolling ball), as a background image.

Users compare blotquant's numbers with ImageJ's, so this follows what ImageJ
1.x's ``BackgroundSubtracter`` does at a given radius, step by step:

1. Presmoothing (unless "disable smoothing"): the image used to *find* the
   background is filtered with a 3 x 3 mean (edge pixels repeated). The
   subtraction itself uses the unsmoothed image.
2. Light background: the image is negated, so the ball always rolls under
   the bright-background-free side.
3. Shrinking: for radius > 10 the image is reduced by a factor 2, 4 or 8
   (radius <= 30, <= 100, larger) to the minimum of each block; the ball is
   shrunk by the same factor and trimmed at its rim (24, 24, 32 or 40 % of its
   radius), as ImageJ does.
4. Rolling: a grey-scale opening of the (shrunken) image with the ball's
   heights as a non-flat structuring element; the ball may hang over the
   image edges.
5. Enlarging: the shrunken background is interpolated back to full size
   with ImageJ's bilinear weights.

The result is the "Create background" output of ImageJ, in floating point.
Parity with ImageJ 1.53t is tested in ``tests/test_rollingball.py`` against
backgrounds ImageJ itself produced (``tests/data/imagej/``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def ball_for_radius(radius: float) -> tuple[int, np.ndarray]:
    """Shrink factor and ball patch (heights) ImageJ uses for ``radius``.

    Parameters
    ----------
    radius : float
        Rolling-ball radius, in pixels of the full image.

    Returns
    -------
    shrink : int
    patch : ndarray, shape (2h+1, 2h+1)
        Ball heights above its rim plane; 0 outside the ball.
    """
    if radius <= 10:
        shrink, trim = 1, 24
    elif radius <= 30:
        shrink, trim = 2, 24
    elif radius <= 100:
        shrink, trim = 4, 32
    else:
        shrink, trim = 8, 40
    small = max(radius / shrink, 1.0)
    rim = int(trim * small) // 100
    half = int(math.floor(small - rim + 0.5))  # Java's Math.round
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    height = small * small - x * x - y * y
    ball = np.where(height > 0, np.sqrt(np.clip(height, 0, None)), 0.0)
    return shrink, ball.astype(np.float32)


def _mean3x3(image: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(image, size=3, mode="nearest")


def _shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Minimum of each factor x factor block (blocks at the far edges may be smaller)."""
    h, w = image.shape
    sh, sw = -(-h // factor), -(-w // factor)
    if (sh * factor, sw * factor) == (h, w):
        padded = image
    else:
        padded = np.full((sh * factor, sw * factor), np.inf, dtype=image.dtype)
        padded[:h, :w] = image
    # (element-wise minima of strided slices: much faster than a reduction
    # over a short axis)
    columns = padded[:, 0::factor].copy()
    for k in range(1, factor):
        np.minimum(columns, padded[:, k::factor], out=columns)
    small = columns[0::factor].copy()
    for k in range(1, factor):
        np.minimum(small, columns[k::factor], out=small)
    return small


def _roll(image: np.ndarray, patch: np.ndarray, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Open the image with the ball, which may hang over the edges by its half-width.

    Erosion then dilation by the ball's heights (a non-flat structuring
    element), each done in two steps: along rows with each of the ball's
    distinct row profiles, then down columns over the ball's rows. Every
    step is one vectorised pass per offset, in the image's own precision.
    The ball is symmetric, so the dilation needs no mirroring. ``rows``
    limits the result to those rows (the erosion still sees every row).
    """
    half = patch.shape[0] // 2
    height, width = image.shape
    first, last = rows if rows is not None else (0, height)
    if half == 0:
        return image[first:last].copy()
    # the ball hangs over the edges by up to its half-width, where nothing
    # holds it up; its lowest positions are found there too
    padded = np.pad(image, 2 * half, mode="constant", constant_values=np.inf)
    lowest = _two_step(padded, patch, first, last + 2 * half, width + 2 * half, np.minimum, -1.0)
    return _two_step(lowest, patch, 0, last - first, width, np.maximum, 1.0)


def _two_step(
    image: np.ndarray,
    patch: np.ndarray,
    first: int,
    last: int,
    out_w: int,
    pick: np.ufunc,
    sign: float,
) -> np.ndarray:
    """``pick`` over the ball's offsets of ``image`` shifted, plus ``sign`` x height.

    ``image`` is the output grown by the ball's half-width on every side;
    output rows ``first`` to ``last`` are computed. The ball's rows above and
    below its centre are the same, so each distinct row is applied along the
    rows once and the results are then combined down the columns.
    """
    size = patch.shape[0]
    half = size // 2
    fill = np.inf if pick is np.minimum else -np.inf
    source = image[first : last + 2 * half]
    by_row: dict[int, np.ndarray] = {}
    for dy in range(half + 1):
        row = patch[half + dy]
        acc = np.full((source.shape[0], out_w), fill, dtype=image.dtype)
        for dx in range(size):
            pick(acc, source[:, dx : dx + out_w] + sign * row[dx], out=acc)
        by_row[dy] = acc
    out_h = last - first
    out = np.full((out_h, out_w), fill, dtype=image.dtype)
    for dy in range(-half, half + 1):
        pick(out, by_row[abs(dy)][half + dy : half + dy + out_h], out=out)
    return out


def _interpolation(
    positions: np.ndarray, small_length: int, factor: int
) -> tuple[np.ndarray, np.ndarray]:
    """ImageJ's indices and weights for enlarging one axis, at ``positions``."""
    index = np.trunc((positions - factor // 2) / factor).astype(int)
    index = np.minimum(index, small_length - 2)
    distance = (positions + 0.5) / factor - (index + 0.5)
    return index, (1.0 - distance).astype(np.float32)


def _background(work: np.ndarray, radius: float, rows: tuple[int, int]) -> np.ndarray:
    """Compute the ball's background of ``work`` (already smoothed), in rows ``rows`` only."""
    shrink, patch = ball_for_radius(radius)
    height, width = work.shape
    first, last = rows
    if not (shrink > 1 and min(work.shape) >= 2 * shrink):
        return _roll(work, patch, rows)
    small = _shrink(work, shrink)
    sh, sw = small.shape
    if sh < 2 or sw < 2:
        # too small to interpolate: ImageJ would not shrink such an image either
        hull = _roll(small, patch)
        return np.kron(hull, np.ones((shrink, shrink), dtype=hull.dtype))[first:last, :width]
    # ImageJ's bilinear enlargement, only for the rows asked for (and the
    # shrunken rows they are interpolated from)
    yi, yw = _interpolation(np.arange(first, last), sh, shrink)
    xi, xw = _interpolation(np.arange(width), sw, shrink)
    low, high = int(yi.min()), int(yi.max()) + 2
    hull = _roll(small, patch, (low, high))
    across = hull[:, xi] * xw + hull[:, xi + 1] * (1.0 - xw)
    yi = yi - low
    return across[yi] * yw[:, None] + across[yi + 1] * (1.0 - yw[:, None])


def rolling_ball_background(
    image: np.ndarray,
    radius: float,
    *,
    light_background: bool = False,
    smoothing: bool = True,
) -> np.ndarray:
    """Background that ImageJ's Subtract Background would remove.

    Parameters
    ----------
    image : ndarray, shape (n_rows, n_columns)
        2-D image (any numeric dtype; not modified).
    radius : float
        Rolling ball radius in pixels.
    light_background : bool
        Bands darker than the background (ImageJ's "Light background").
    smoothing : bool
        ImageJ's presmoothing (on unless "Disable smoothing" is checked).

    Returns
    -------
    ndarray of float32, shape (n_rows, n_columns)
        The background, same shape as ``image`` (ImageJ's precision).
    """
    return _rolling_ball(image, radius, light_background, smoothing, (0, image.shape[0]))


def _rolling_ball(
    image: np.ndarray,
    radius: float,
    light_background: bool,
    smoothing: bool,
    rows: tuple[int, int],
) -> np.ndarray:
    if radius <= 0:
        raise ValueError("radius must be positive")
    # single precision, as ImageJ computes it: the same numbers, half the work
    work = np.asarray(image, dtype=np.float32)
    if smoothing:
        work = _mean3x3(work)
    if light_background:
        work = -work
    background = _background(work, radius, rows)
    return -background if light_background else background


def rolling_ball_rows(
    image: np.ndarray,
    radius: float,
    rows: tuple[int, int],
    *,
    light_background: bool = False,
    smoothing: bool = True,
) -> np.ndarray:
    """Compute the rolling-ball background of ``image[rows[0]:rows[1]]`` only, fast.

    The background at a pixel depends only on pixels within the ball's reach,
    so it is computed on a crop of rows padded by that reach, aligned to
    ImageJ's shrink blocks: inside ``rows`` the result equals the whole
    image's background (up to floating-point rounding).

    Parameters
    ----------
    image : ndarray, shape (n_rows, n_columns)
        2-D image (any numeric dtype; not modified).
    radius : float
        Rolling ball radius in pixels.
    rows : (int, int)
        [first, last) rows wanted; clipped to the image.
    light_background, smoothing : bool
        As for :func:`rolling_ball_background`.

    Returns
    -------
    ndarray of float32, shape (last - first, n_columns)
    """
    height = image.shape[0]
    top, bottom = max(0, int(rows[0])), min(height, int(rows[1]))
    shrink, patch = ball_for_radius(radius)
    # opening (2 x half-width) + interpolation and smoothing (a block and a pixel)
    reach = (2 * (patch.shape[0] // 2) + 2) * shrink + 2
    start = max(0, (top - reach) // shrink * shrink)
    stop = min(height, bottom + reach)
    return _rolling_ball(
        image[start:stop], radius, light_background, smoothing, (top - start, bottom - start)
    )


def subtract_background(image: np.ndarray, radius: float, **kwargs: bool) -> np.ndarray:
    """Subtract the rolling-ball background, in floating point (not clipped).

    Parameters
    ----------
    image : ndarray, shape (n_rows, n_columns)
        2-D image (not modified).
    radius : float
        Rolling ball radius in pixels.
    **kwargs
        ``light_background`` and ``smoothing`` of :func:`rolling_ball_background`.

    Returns
    -------
    ndarray of float64, shape (n_rows, n_columns)
    """
    return np.asarray(image, dtype=np.float64) - rolling_ball_background(image, radius, **kwargs)
