"""Where the membrane is in the image: frames, trays and scanner bars at its edges.

An export often holds more than the membrane: the imager's tray or a scanner
lid around it, black bars where a scan was padded, white paper past the
membrane's edge. Their edges are sharp steps that the lane and band finders
would take for lanes and bands. A *frame* is told apart from the membrane by
four things together:

* it starts at the image's edge and is flat (one level, unlike a lane or a
  band, which rise and fall again);
* its level differs from the membrane's by far more than the membrane's own
  noise and than the spread of its lanes;
* its inner edge is sharp (a gradient or vignetting is not);
* it runs along the whole side (in every block of rows, or of columns), so a
  band row or a label near the edge is not one.

Only such frames are cut; anything less clear is left for the lane check
(:mod:`blotquant.lanecheck`) to flag, and ``crop`` in the config always wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blotquant.profiles import robust_sigma

#: Largest share of the image, per side, that a frame may take.
MAX_FRAME_SHARE = 0.3
#: A frame's step from the membrane, in units of the membrane's pixel noise
#: and of the spread of its column (or row) levels.
MIN_STEP = 8.0
#: Blocks along a side in which the frame must be found (it runs the whole side).
N_BLOCKS = 6
#: Pixels kept clear of a found edge (its blurred transition).
EDGE_CLEARANCE = 3
SIDES = ("left", "top", "right", "bottom")


@dataclass(frozen=True)
class MembraneBox:
    """The part of an image that is membrane, as a crop box.

    Attributes
    ----------
    left, top, right, bottom : int
        The box in image pixels (right and bottom exclusive), as ``crop`` in
        the config writes it.
    cut : tuple of str
        The sides on which a frame was found ("left", "top", "right",
        "bottom"); empty when the membrane fills the image.
    """

    left: int
    top: int
    right: int
    bottom: int
    cut: tuple[str, ...] = ()

    @property
    def crop(self) -> tuple[int, int, int, int]:
        """The box as ``(left, top, right, bottom)``."""
        return (self.left, self.top, self.right, self.bottom)


def find_membrane(pixels: np.ndarray, *, max_frame_share: float = MAX_FRAME_SHARE) -> MembraneBox:
    """Find the membrane inside frame borders at the image's edges.

    Parameters
    ----------
    pixels : ndarray, shape (n_rows, n_columns)
        The image as exported (either polarity).
    max_frame_share : float
        Largest share of the image's width (or height) a frame may take on
        one side.

    Returns
    -------
    MembraneBox
        The whole image when no frame is found.
    """
    image = np.asarray(pixels)
    height, width = image.shape
    # first along the middle of each side (clear of frames across it), then
    # along the membrane found, so frames across keep out of the blocks
    rows = (height // 5, height - height // 5)
    columns = (width // 5, width - width // 5)
    for _ in range(2):
        left, right = _frame_depths(image[rows[0] : rows[1]], max_frame_share)
        top, bottom = _frame_depths(image[:, columns[0] : columns[1]].T, max_frame_share)
        if not (left or right or top or bottom):
            break  # a frame runs along the whole side: none in the middle, none at all
        columns = (left, width - right)
        rows = (top, height - bottom)
    depths = dict(zip(SIDES, (left, top, right, bottom), strict=True))
    cut = tuple(side for side in SIDES if depths[side] > 0)
    return MembraneBox(left, top, width - right, height - bottom, cut)


def _frame_depths(image: np.ndarray, max_frame_share: float) -> tuple[int, int]:
    """Depth in columns of a frame at the left and at the right of ``image``."""
    n_lines, length = image.shape
    if length < 20 or n_lines < 2 * N_BLOCKS:
        return 0, 0
    step = max(1, n_lines // 120)  # a hundred lines or so are plenty for a median
    lines = image[::step].astype(np.float32)
    middle = lines[:: max(1, lines.shape[0] // 40), length // 4 : 3 * length // 4]
    noise = robust_sigma(np.diff(middle, axis=1), differences=True, upper_median=True)
    blocks = np.array_split(lines, N_BLOCKS, axis=0)
    profiles = np.stack([_upper_median(block) for block in blocks])
    whole = _upper_median(lines)
    spread = robust_sigma(whole[length // 4 : 3 * length // 4])
    contrast = MIN_STEP * max(float(noise), float(spread), 1e-6 * float(np.abs(whole).max()))
    limit = int(max_frame_share * length)
    left = _frame_depth(whole, profiles, contrast, limit)
    right = _frame_depth(whole[::-1], profiles[:, ::-1], contrast, limit)
    return left, right


def _upper_median(lines: np.ndarray) -> np.ndarray:
    """Median of each column of ``lines`` (the upper middle value: one partial sort)."""
    middle = lines.shape[0] // 2
    return np.partition(lines, middle, axis=0)[middle]


def _frame_depth(whole: np.ndarray, profiles: np.ndarray, contrast: float, limit: int) -> int:
    """Depth of a frame at the start of a profile, or 0 for none.

    ``whole`` is the profile of the side's whole length, ``profiles`` that of
    each block along it.
    """
    length = whole.size
    membrane = float(np.median(whole[length // 4 : 3 * length // 4]))
    frame = float(np.median(whole[:3]))
    jump = frame - membrane
    if abs(jump) < contrast:
        return 0
    depths = []
    for profile in profiles:
        depth = _block_depth(profile, frame, jump, limit)
        if depth is None:
            return 0
        depths.append(depth)
    return max(depths) + EDGE_CLEARANCE  # the innermost edge, for a tilted membrane


def _block_depth(profile: np.ndarray, frame: float, jump: float, limit: int) -> int | None:
    """Where a block's profile leaves the frame for the membrane, if it does so cleanly."""
    length = profile.size
    if abs(float(np.median(profile[:3])) - frame) > 0.3 * abs(jump):
        return None  # the frame's level changes along the side: not one frame
    # the block's own membrane level (a band row may fill much of a block)
    block_jump = frame - float(np.median(profile[length // 4 : 3 * length // 4]))
    if block_jump / jump < 0.5:
        return None
    # distance from the frame's level, in units of the step: 0 on the frame, 1 on the membrane
    progress = (frame - profile) / block_jump
    beyond = np.flatnonzero(progress > 0.5)
    if beyond.size == 0:
        return None
    edge = int(beyond[0])
    if edge < 2 or edge > limit:
        return None
    # flat from the image's edge up to the last pixels of the transition
    if np.any(np.abs(progress[: max(1, edge - 2)]) > 0.3):
        return None
    # sharp: on the membrane's level within a few pixels, and it stays there
    sharp = max(4, length // 100)
    inside = progress[edge + sharp : edge + sharp + max(8, length // 8)]
    if inside.size == 0 or abs(float(np.median(inside)) - 1.0) > 0.3:
        return None
    if np.any(progress[edge : edge + sharp + 1] < 0.25):
        return None
    return edge
