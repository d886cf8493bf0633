"""Dust removal: specks (dust, hot pixels) in a band patch replaced by the band's median.

A speck is round and smaller than half a lane; across a lane a band's profile
only rises and falls. A running median along the band therefore follows the
band and not the speck, and pixels that depart from it by much more than the
noise (and by more than the signal under them) are a speck. Patches come from
:func:`blotquant.bands.band_patch`: one row per box column.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from blotquant.bands import BandBox, band_patch
from blotquant.profiles import MAD_TO_SIGMA, robust_sigma

#: Noise standard deviations, and share of the local signal (a speck at least
#: doubles it; the mottle of real bands reaches about half), by which a
#: pixel must stand out from the band to start a speck.
SPECK_CORE_SD = 8.0
SPECK_CORE_SHARE = 1.0
#: A speck's skirt: pixels joined to its core that still stand out by this
#: many noise standard deviations (a bright speck's skirt is wide).
SPECK_SKIRT_SD = 3.0
#: Largest speck core, in pixels across (a speck of 2 px radius that is 30
#: times brighter than the band under it has a core about 11 px across).
SPECK_MAX_PX = 12


def running_median(patch: np.ndarray, size: int) -> np.ndarray:
    """Take a running median along axis 0 (edge values repeated), exactly every few columns.

    Along a band the median changes slowly, so it is taken exactly at every
    ``size // 8``-th position and interpolated linearly between them: the
    same answer on the band's plateau and its straight flanks, for a few
    times less work.

    Parameters
    ----------
    patch : ndarray, shape (n_columns, n_rows)
        Band patch, columns along axis 0.
    size : int
        Window, in columns (odd).

    Returns
    -------
    ndarray, shape (n_columns, n_rows)
    """
    n = patch.shape[0]
    half = size // 2
    padded = np.pad(patch, ((half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)
    stride = max(1, size // 8)
    at = np.arange(0, n, stride)
    if at[-1] != n - 1:
        at = np.append(at, n - 1)
    sampled = np.partition(windows[at], half, axis=-1)[..., half]
    if len(at) == n:
        return sampled
    pos = np.arange(n)
    j = np.clip(np.searchsorted(at, pos, side="right") - 1, 0, len(at) - 2)
    w = ((pos - at[j]) / (at[j + 1] - at[j]))[:, None]
    return sampled[j] * (1.0 - w) + sampled[j + 1] * w


def _may_hold_specks(patch: np.ndarray, pixel_noise: float) -> bool:
    """Tell quickly whether a pixel stands out from both neighbours a speck's width away.

    A speck core (at most ``SPECK_MAX_PX`` across) is higher (or lower) than
    the band on both sides of it along the band; a band's own profile across
    the lane only rises, stays and falls. Most patches hold no speck, and
    this spares them the running median.
    """
    d = SPECK_MAX_PX // 2 + 1
    n = patch.shape[0]
    if n <= 2 * d:
        return True
    # neighbours a speck's width to the left and right (at the ends of the
    # box, where one of them is missing, the other one counts twice)
    index = np.arange(n)
    left = patch[np.where(index >= d, index - d, index + d)]
    right = patch[np.where(index < n - d, index + d, index - d)]
    # each line along the band with its own noise (as in despeckle), from
    # neighbouring differences; a little below the speck threshold, so that
    # no speck is missed for noise on its neighbours
    steps = np.abs(np.diff(patch, axis=0))
    middle = steps.shape[0] // 2
    typical_step = np.partition(steps, middle, axis=0)[middle]
    # (the constant is scaled first, not the median: robust_sigma's order of
    # operations would move the threshold by a rounding step)
    line_noise = np.maximum(pixel_noise, MAD_TO_SIGMA / np.sqrt(2.0) * typical_step)
    threshold = 0.75 * SPECK_CORE_SD * line_noise[None, :]
    higher = patch - np.maximum(left, right) > threshold
    # (at the ends a band's flank falls towards the box edge: a dip there is
    # only judged against both sides)
    lower = (np.minimum(left, right) - patch > threshold)[d : n - d]
    return bool(higher.any() or lower.any())


def despeckle(
    patch: np.ndarray, pixel_noise: float, size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace specks (dust, hot pixels) in a band patch by their neighbours' median.

    Parameters
    ----------
    patch : ndarray, shape (n_columns, n_rows)
        Band patch, columns along axis 0 (see :func:`blotquant.bands.band_patch`).
    pixel_noise : float
        The image's pixel noise (standard deviation).
    size : int, optional
        Columns of the running median; by default half the patch's columns
        (at most 31).

    Returns
    -------
    clean : ndarray, shape (n_columns, n_rows)
        ``patch`` itself when it holds no speck.
    specks : ndarray of bool, shape (n_columns, n_rows)
        The pixels that started a speck.

    Notes
    -----
    The median runs along the band (``patch`` axis 0) over half the box's
    width: across a lane a band's profile only rises and falls, so the median
    follows it, even at the band's corners, while a speck, round and smaller
    than half a lane, stands out. A speck starts where a pixel departs from
    that median by more than ``SPECK_CORE_SD`` noise standard deviations and
    by more than ``SPECK_CORE_SHARE`` of the local signal, and takes in the
    pixels joined to it that still depart by ``SPECK_SKIRT_SD`` (hysteresis,
    as in edge detection): a bright speck's skirt is faint pixel by pixel but
    adds up. Speck and skirt, one pixel wider, are replaced by the median.
    """
    size = min(31, patch.shape[0] // 2 if size is None else size) | 1
    if size < 5 or not _may_hold_specks(patch, pixel_noise):
        return patch, np.zeros(patch.shape, bool)
    median = running_median(patch, size)
    floor = float(np.percentile(median, 5))
    deviation = np.abs(patch - median)
    # shot noise grows with the signal: on a bright band the noise is larger
    # than the image's (mostly background) pixel noise, so each row along the
    # band gets its own robust noise level
    noise = np.maximum(pixel_noise, robust_sigma(deviation, axis=0, centred=False))[None, :]
    specks = (deviation > SPECK_CORE_SD * noise) & (
        deviation > SPECK_CORE_SHARE * np.abs(median - floor)
    )
    if not specks.any():
        return patch, specks
    # a speck is small and wholly seen: a larger object standing out from the
    # running median is the band's own shape (a band that bulges into the
    # margin, a lane that smiles), and one that runs into the ends of the
    # strip may be a neighbouring lane's flank; those are measured, never
    # replaced
    cores, _ = ndimage.label(specks)
    n = patch.shape[0]
    small = [
        k + 1
        for k, where in enumerate(ndimage.find_objects(cores))
        if where is not None
        and max(sl.stop - sl.start for sl in where) <= SPECK_MAX_PX
        and where[0].start > 0
        and where[0].stop < n
    ]
    specks = np.isin(cores, small)
    if not specks.any():
        return patch, specks
    # the skirt: joined to a core, and no farther from it than half a speck
    near_core = ndimage.binary_dilation(specks, iterations=SPECK_MAX_PX // 2)
    labels, _ = ndimage.label(specks | (near_core & (deviation > SPECK_SKIRT_SD * noise)))
    replaced = ndimage.binary_dilation(np.isin(labels, np.unique(labels[specks])))
    return np.where(replaced, median, patch), specks


#: Columns beyond each side of the box that the speck test also looks at.
SPECK_OVERHANG = SPECK_MAX_PX // 2


def despeckle_box(
    signal: np.ndarray, box: BandBox, margin: int, pixel_noise: float, patch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`despeckle` of a box's patch, judged with a few columns beyond the box.

    At the ends of a patch the running median repeats the end column, so a
    speck cut by the box's edge would be its own median. Half a speck's
    width more on each side puts such a speck inside what is judged, while a
    neighbour's flank entering the box keeps rising beyond it and is not
    taken for one.

    Parameters
    ----------
    signal : ndarray, shape (n_image_rows, n_image_columns)
        The image the box lies in, bands bright.
    box : BandBox
        The band's box.
    margin : int
        Rows of membrane above and below the box in ``patch``.
    pixel_noise : float
        The image's pixel noise (standard deviation).
    patch : ndarray of float64, shape (x_right - x_left, margin + box.height + margin)
        The box's patch (:func:`blotquant.bands.band_patch` of ``signal``).

    Returns
    -------
    clean : ndarray, shape of ``patch``
    specks : ndarray of bool, shape of ``patch``
    """
    if not _may_hold_specks(patch, pixel_noise):
        return patch, np.zeros(patch.shape, bool)
    left = max(0, box.x_left - SPECK_OVERHANG)
    right = min(signal.shape[1], box.x_right + SPECK_OVERHANG)
    if (left, right) == (box.x_left, box.x_right):
        return despeckle(patch, pixel_noise, size=(box.x_right - box.x_left) // 2)
    wide, _ = band_patch(signal, replace(box, x_left=left, x_right=right), margin)
    clean, specks = despeckle(
        wide.astype(np.float64, copy=False), pixel_noise, size=(box.x_right - box.x_left) // 2
    )
    keep = slice(box.x_left - left, box.x_left - left + (box.x_right - box.x_left))
    return clean[keep], specks[keep]
