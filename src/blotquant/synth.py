"""Synthetic Western blots with exactly known band volumes.

Used for the demo in ``sample_images/``, the ground-truth tests and the
benchmarks. A blot is drawn in the membrane's own frame (lanes vertical,
bands horizontal, a smile bending bands down towards the edges), then rotated
into the image, over an uneven background with smear, dust, a nonspecific
band and signal-dependent noise, and finally clipped and quantised like a
detector would. Flaws of real membranes can be switched on: lanes that fan
out down the membrane (``splay``), a membrane smaller than the imager's field
(``margins``), lane-long streaks of uneven transfer (``streaks``), bands
wide enough to merge across lanes (``StripSpec.band_half_width``) and typed
or handwritten annotations above the bands (``annotations``), the
membrane's own grain (``grain``), blotches right under the bands
(``StripSpec.blotches_under_bands``), doublet bands (``StripSpec.doublet``),
bubbles where no protein transferred (``bubbles``) and an 8-bit export
stretched by an imager's auto-contrast (``stretch``). Every one is off by
default and draws no random numbers when off, so a spec without them renders
exactly as before at a given seed.

The true volume of a band is the sum, over all pixels, of that band's own
contribution before noise, clipping and rounding (times a stretched export's
gain): what a perfect tool would measure after perfect background removal. A
bubble takes protein off the membrane, not out of the lane: the band's true
volume stays what was loaded, and the truth says the band is under a bubble.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from blotquant.saturation import MIN_PLATEAU

#: Share of the nonspecific background a bubble also takes away (the blocking
#: protein did not reach the membrane there either; the membrane's own glow did).
BUBBLE_BACKGROUND_LOSS = 0.3
#: A band is under a bubble when the bubble takes at least this share of its signal.
BUBBLE_BAND_SHARE = 0.02


@dataclass
class StripSpec:
    """One antibody's strip of membrane (or the whole image).

    Attributes
    ----------
    antibody : str
    height : int
        Rows of the strip.
    band_row : float
        Band centre row inside the strip, at the membrane's centre column.
    volumes : sequence of float
        True band volume per lane (0 for ladder and empty lanes).
    sigma : float
        Band half-thickness (Gaussian sigma, rows).
    background : float
        Membrane level under the strip, in signal units.
    gradient : (float, float)
        Background slope per column and per row.
    blotches : int
        Smooth background blotches (uneven blocking or washing).
    smear : float
        Fraction of each band's volume trailing below it along the lane.
    nonspecific : (float, float) or None
        (rows below the band, volume as a fraction of the band's) of a
        nonspecific band in every sample lane; negative rows put it above.
    ladder_rows : sequence of float
        Rows of ladder marks in ladder lanes.
    ladder_volume : float
        Volume of each ladder mark.
    band_half_width : float, optional
        This strip's band half-width as a fraction of the pitch, instead of
        the blot's (e.g. 0.55: a saturated loading control whose bands touch
        across lanes, with no valley between them).
    edge_softness : float, optional
        This strip's band edge width (columns), instead of the blot's: merged
        bands need soft edges, or where two overlap they add up to a ridge
        brighter than either band.
    blotches_under_bands : int
        Smooth blotches centred on the band row at random sample lanes, 0.4-1.2
        pitch in size (Gaussian sigma: one to three lanes across) and 10-35 %
        of ``background`` high: the background bends right under the bands.
    doublet : (float, float), optional
        (rows below, volume as a fraction of the first's) of a second band
        under every sample band: each lane's volume is the doublet's total,
        shared ``1 : fraction`` between its two bands. The truth's row is the
        stronger band's (the first, for a fraction up to 1).
    stain_bands : sequence of (float, float), optional
        A total-protein stain: each loaded lane's volume is spread over bands
        at these (row inside the strip, share of the volume) instead of one
        band at ``band_row``; the truth's row is their middle.
    response : (float, float), optional
        (toe, knee) of a detector or substrate that is not linear in protein:
        a band of true volume ``v`` is drawn with ``v * v / (v + toe) / (1 +
        v / knee)`` (see :func:`response`); the truth stays ``v``.
    """

    antibody: str
    height: int
    band_row: float
    volumes: list[float]
    sigma: float = 5.0
    background: float = 1000.0
    gradient: tuple[float, float] = (0.0, 0.0)
    blotches: int = 0
    smear: float = 0.0
    nonspecific: tuple[float, float] | None = None
    ladder_rows: list[float] = field(default_factory=list)
    ladder_volume: float = 0.0
    band_half_width: float | None = None
    edge_softness: float | None = None
    blotches_under_bands: int = 0
    doublet: tuple[float, float] | None = None
    stain_bands: list[tuple[float, float]] | None = None
    response: tuple[float, float] | None = None


def response(volume: np.ndarray | float, toe: float, knee: float) -> np.ndarray | float:
    """Drawn volume of a band of true volume ``volume`` through a non-linear response.

    ``volume * volume / (volume + toe) / (1 + volume / knee)``: at low volumes
    the detector (or film) gives less than its share (the toe), at high
    volumes it saturates (the knee); in between it is proportional.
    """
    return volume * volume / (volume + toe) / (1.0 + volume / knee)


def linear_range(toe: float, knee: float, *, tolerance: float = 0.1) -> tuple[float, float]:
    """Give the true volumes whose response is within ``tolerance`` of proportional.

    Returns
    -------
    (float, float)
        Lowest and highest true volume where ``response(v) / v`` is at least
        ``1 - tolerance`` of its largest value.
    """
    grid = np.geomspace(toe * 1e-3 + 1e-12, knee * 1e3, 200_001)
    gain = response(grid, toe, knee) / grid
    inside = grid[gain >= (1.0 - tolerance) * gain.max()]
    return float(inside[0]), float(inside[-1])


@dataclass
class BlotSpec:
    """Geometry, detector and flaws of one image (one or more strips stacked).

    Attributes
    ----------
    width : int
    strips : list of StripSpec
        Stacked top to bottom; the image is as tall as their heights add up.
    n_lanes, pitch, first_lane : int, float, float
        Lane layout in the membrane frame (centre column of lane 1).
    lane_jitter : sequence of float, optional
        Per-lane offsets from even spacing, in columns.
    band_half_width : float
        Half-width of each band, as a fraction of the pitch.
    edge_softness : float
        Width (columns) of a band's soft edge.
    roles : list of str
        ``sample``, ``ladder`` or ``empty`` per lane.
    polarity : {'light-bands', 'dark-bands'}
        Light bands on dark (chemiluminescence, fluorescence), or dark bands
        on light (film, colorimetric): rendered as ``white - signal``.
    bit_depth : {8, 16}
    white : float
        Membrane level of a dark-band image before the bands (dtype units).
    rotation_deg : float
        Membrane tilt, counter-clockwise, about the image centre.
    smile : float
        Rows the band drops at the outermost lanes relative to the centre.
    read_noise : float
        Additive noise SD (dtype units).
    shot_noise : float
        Signal-dependent noise: SD = sqrt(read^2 + shot_noise * signal).
    dust : int
        Number of dust specks.
    ceiling : float, optional
        Detector saturation level (dtype units); default the dtype maximum.
    splay : float
        Lanes fanning out down the membrane: a lane's centre column at
        membrane row ``y`` is ``x0 + splay * (x0 - mid) * (y - splay_row) /
        height``, with ``x0`` its centre from ``lane_centers`` and ``mid``
        halfway between the outer lanes.
    splay_row : float
        Membrane row at which the lanes sit at ``lane_centers`` (the wells).
    margins : (int, int, int, int)
        Columns left, rows above, columns right and rows below the membrane
        that the image shows beyond it (an imager's field larger than the
        membrane). The membrane, ``width`` by ``height``, keeps its own frame;
        the image grows by the margins.
    outside_level : float
        Signal level of the image outside the membrane (the imager's tray),
        in signal units; the membrane's edge is sharp.
    streaks : sequence of (int, float), optional
        Lanes (1-based) that carry a streak of extra background along their
        whole length (uneven transfer), with its level as a fraction of each
        strip's ``background``; as wide as the lane's bands.
    annotations : int
        Typed or handwritten marks (rows of text-like blocks, pen strokes)
        drawn bright in the membrane's top margin, well above the first
        strip's bands (clear of their boxes and baseline rows).
    grain : float
        The membrane's own texture: a smooth random field (white noise
        blurred with a Gaussian of ``grain_size`` pixels) added to the
        background, its standard deviation this share of each strip's
        ``background``. It is the membrane's: the bands are not grainy.
    grain_size : float
        Correlation length of the grain (Gaussian sigma, pixels).
    bubbles : int
        Round voids where no protein transferred, each over a random sample
        lane's band (random strip): a disk 0.15-0.35 pitch in radius with a
        1-pixel soft edge, centred within 0.2 pitch and one band sigma of the
        band's centre, where the lane's protein (bands, smear, nonspecific
        band) is gone and the background is lower by
        :data:`BUBBLE_BACKGROUND_LOSS`.
    stretch : bool
        Export stretched by an imager's auto-contrast: the image's range
        (``stretch_range``, by default its own minimum and maximum) is mapped
        linearly onto ``0`` to the dtype's top value and truncated to whole
        counts, so the brightest pixel alone reaches the top (no clipping).
    stretch_range : (float, float), optional
        Fixed range a stretched export maps onto the dtype's range (pixel
        values before the export), instead of the image's own: to draw a
        band-free twin exported exactly like its image (see
        ``BandTruth.export_range``).
    """

    width: int
    strips: list[StripSpec]
    n_lanes: int
    pitch: float
    first_lane: float
    lane_jitter: list[float] | None = None
    band_half_width: float = 0.36
    edge_softness: float = 2.0
    roles: list[str] | None = None
    polarity: str = "light-bands"
    bit_depth: int = 16
    white: float = 0.0
    rotation_deg: float = 0.0
    smile: float = 0.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    dust: int = 0
    ceiling: float | None = None
    splay: float = 0.0
    splay_row: float = 0.0
    margins: tuple[int, int, int, int] = (0, 0, 0, 0)
    outside_level: float = 0.0
    streaks: list[tuple[int, float]] | None = None
    annotations: int = 0
    grain: float = 0.0
    grain_size: float = 2.0
    bubbles: int = 0
    stretch: bool = False
    stretch_range: tuple[float, float] | None = None

    @property
    def height(self) -> int:
        """Rows of the membrane: its strips stacked (the image adds ``margins``)."""
        return int(sum(s.height for s in self.strips))

    @property
    def image_shape(self) -> tuple[int, int]:
        """Rows and columns of the image: the membrane and its margins."""
        left, top, right, bottom = self.margins
        return self.height + top + bottom, self.width + left + right

    def lane_centers(self) -> np.ndarray:
        """Give the true lane centre columns, jitter included."""
        jitter = np.zeros(self.n_lanes) if self.lane_jitter is None else self.lane_jitter
        return self.first_lane + self.pitch * np.arange(self.n_lanes) + np.asarray(jitter)

    def lane_roles(self) -> list[str]:
        """Role of every lane (sample unless the spec says otherwise)."""
        return self.roles or ["sample"] * self.n_lanes


@dataclass(frozen=True)
class BandTruth:
    """What a perfect tool would report for one band.

    A band is saturated when a plateau of at least
    :data:`blotquant.saturation.MIN_PLATEAU` touching (8-connected) pixels of
    its own signal (dust left out) is clipped; ``plateau`` is the largest.
    """

    strip: int
    antibody: str
    lane: int
    true_volume: float
    band_row: float  # image row of the band centre (a doublet's middle) at the lane centre
    lane_x: float  # image column of the lane centre at the band row
    saturated: bool
    plateau: int = 0  # pixels in the band's largest clipped plateau
    bubble: bool = False  # under a bubble: part of its protein never reached the membrane
    #: (low, high) pixel values a stretched export mapped onto its dtype's range
    export_range: tuple[float, float] | None = None


def _frame(spec: BlotSpec) -> tuple[np.ndarray, np.ndarray]:
    """Membrane-frame coordinates (x, y) of every image pixel."""
    yy, xx = np.mgrid[0 : spec.image_shape[0], 0 : spec.image_shape[1]].astype(np.float64)
    left, top = spec.margins[:2]
    if left or top:
        xx, yy = xx - left, yy - top
    angle = np.radians(spec.rotation_deg)
    # the membrane turns about its own centre, wherever it lies in the image
    xc, yc = (spec.width - 1) / 2.0, (spec.height - 1) / 2.0
    xr = (xx - xc) * np.cos(angle) + (yy - yc) * np.sin(angle) + xc
    yr = -(xx - xc) * np.sin(angle) + (yy - yc) * np.cos(angle) + yc
    return xr, yr


def _to_image(spec: BlotSpec, x: float, y: float) -> tuple[float, float]:
    """Image position of a membrane-frame point."""
    angle = np.radians(spec.rotation_deg)
    xc, yc = (spec.width - 1) / 2.0, (spec.height - 1) / 2.0
    dx, dy = x - xc, y - yc
    left, top = spec.margins[:2]
    return (
        xc + dx * np.cos(angle) - dy * np.sin(angle) + left,
        yc + dx * np.sin(angle) + dy * np.cos(angle) + top,
    )


def _lane_x(spec: BlotSpec, cx: float, mid: float, y: np.ndarray | float) -> np.ndarray | float:
    """Membrane-frame centre column of the lane starting at ``cx``, at row(s) ``y``."""
    if spec.splay == 0:
        return cx
    return cx + spec.splay * (cx - mid) * (np.asarray(y) - spec.splay_row) / spec.height


def _smile_offset(spec: BlotSpec, x: np.ndarray | float) -> np.ndarray | float:
    centers = spec.lane_centers()
    mid = (centers[0] + centers[-1]) / 2.0
    span = max((centers[-1] - centers[0]) / 2.0, 1.0)
    return spec.smile * ((np.asarray(x) - mid) / span) ** 2


def _across(xr, cx, half: float, soft: float) -> np.ndarray:
    """Profile across a lane: 1 inside ``half`` columns of its centre, edges ``soft`` wide."""
    return 1.0 / (1.0 + np.exp(np.clip((np.abs(xr - cx) - half) / soft, -60, 60)))


def _band_shape(
    spec: BlotSpec,
    xr,
    yr,
    cx,
    row: float,
    sigma: float,
    half: float | None = None,
    soft: float | None = None,
) -> np.ndarray:
    half = spec.band_half_width * spec.pitch if half is None else half
    across = _across(xr, cx, half, spec.edge_softness if soft is None else soft)
    centre = row + _smile_offset(spec, xr)
    return across * np.exp(-0.5 * ((yr - centre) / sigma) ** 2)


def _near(spec: BlotSpec, x: float, y: float, reach: float) -> tuple[slice, slice]:
    """Image rows and columns within ``reach`` of a membrane-frame point."""
    xi, yi = _to_image(spec, x, y)
    rows, cols = spec.image_shape
    return (
        slice(max(int(yi - reach), 0), min(int(yi + reach) + 2, rows)),
        slice(max(int(xi - reach), 0), min(int(xi + reach) + 2, cols)),
    )


def _annotations(
    spec: BlotSpec, xr: np.ndarray, yr: np.ndarray, level: float, rng: np.random.Generator
) -> np.ndarray:
    """Typed text and pen strokes in the membrane's top margin, above the first bands.

    Each mark is either a line of character-sized blocks (a typed label) or a
    wandering stroke 1-2.5 px thick (handwriting), as bright as 0.5-1.2 times
    ``level`` (the signal's 99.9th percentile: about the bands' peak).
    """
    first = spec.strips[0]
    # well clear of the band's box and the margin rows its baseline is read from:
    # what is tested is finding lanes past them, not a mark inside a box
    low, high = 0.04 * first.height, first.band_row - 7.0 * first.sigma - 10.0
    marks = np.zeros_like(xr)
    if high - low < 8:
        return marks  # no room above the bands
    for _ in range(spec.annotations):
        bright = rng.uniform(0.5, 1.2) * level
        if rng.random() < 0.5:
            size = rng.uniform(6.0, min(12.0, high - low))
            x, y = rng.uniform(0.02, 0.75) * spec.width, rng.uniform(low, high - size)
            for _ in range(int(rng.integers(3, 10))):
                wide = rng.uniform(0.4, 0.8) * size
                win = _near(spec, x + wide / 2, y + size / 2, size)
                bx, by = xr[win], yr[win]
                block = (bx >= x) & (bx < x + wide) & (by >= y) & (by < y + size)
                marks[win] = np.maximum(marks[win], bright * rng.uniform(0.7, 1.0) * block)
                x += wide + rng.uniform(0.2, 0.5) * size
        else:
            x, y = rng.uniform(0.05, 0.9) * spec.width, rng.uniform(low, high)
            heading, radius = rng.uniform(-np.pi, np.pi), rng.uniform(0.6, 1.2)
            for _ in range(int(rng.integers(25, 70))):
                win = _near(spec, x, y, 4 * radius)
                dot = np.exp(-0.5 * ((xr[win] - x) ** 2 + (yr[win] - y) ** 2) / radius**2)
                marks[win] = np.maximum(marks[win], bright * dot)
                heading += rng.normal(0.0, 0.6)
                x, y = (
                    x + 1.2 * np.cos(heading),
                    float(np.clip(y + 1.2 * np.sin(heading), low, high)),
                )
    return marks


def _largest_plateau(mask: np.ndarray) -> int:
    """Pixels in the largest 8-connected patch of ``mask`` (0 if none)."""
    if not mask.any():
        return 0
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return int(np.bincount(labels.ravel())[1:].max())


def render_blot(spec: BlotSpec, rng: np.random.Generator) -> tuple[np.ndarray, list[BandTruth]]:
    """Draw a blot and return it with the truth of every sample-lane band.

    Parameters
    ----------
    spec : BlotSpec
    rng : numpy.random.Generator

    Returns
    -------
    image : ndarray of uint8 or uint16, shape ``spec.image_shape``
    truth : list of BandTruth
        One per strip and sample lane.
    """
    xr, yr = _frame(spec)
    # blotches and dust are placed on the membrane, in its own frame
    h, w = spec.height, spec.width
    centers = spec.lane_centers()
    mid = (centers[0] + centers[-1]) / 2.0
    roles = spec.lane_roles()
    samples = [i for i, role in enumerate(roles) if role == "sample"]
    signal = np.zeros(spec.image_shape)
    on_membrane = None
    if any(spec.margins):
        # the membrane's edge: sharp, and tilted with the membrane
        on_membrane = (xr > -0.5) & (xr < w - 0.5) & (yr > -0.5) & (yr < h - 0.5)
    grain = None
    if spec.grain > 0:
        # one texture for the whole membrane, scaled to unit SD
        grain = ndimage.gaussian_filter(rng.standard_normal(spec.image_shape), spec.grain_size)
        grain /= grain.std()
    # the lanes' protein apart from the background, which a bubble takes away
    protein = np.zeros(spec.image_shape) if spec.bubbles else None

    def add(part: np.ndarray) -> None:
        nonlocal signal
        signal += part
        if protein is not None:
            protein[...] += part

    truths: list[tuple[int, str, int, float, float, float, np.ndarray]] = []
    tops = np.concatenate([[0], np.cumsum([s.height for s in spec.strips])])
    top = 0
    last = len(spec.strips) - 1
    for k, strip in enumerate(spec.strips):
        # the outer strips' membrane reaches the image edges (a tilted membrane
        # leaves no empty corners inside the imager's field)
        in_strip = ((yr >= top) | (k == 0)) & ((yr < top + strip.height) | (k == last))
        if on_membrane is not None:
            in_strip = in_strip & on_membrane
        half = (
            spec.band_half_width if strip.band_half_width is None else strip.band_half_width
        ) * spec.pitch
        soft = spec.edge_softness if strip.edge_softness is None else strip.edge_softness
        # background: level, gradient, blotches (only on this strip's membrane)
        bg = strip.background + strip.gradient[0] * xr + strip.gradient[1] * (yr - top)
        for _ in range(strip.blotches):
            bx, by = rng.uniform(0, w), rng.uniform(top, top + strip.height)
            size = rng.uniform(0.1, 0.3) * min(w, strip.height * 2)
            bg = bg + rng.uniform(0.1, 0.35) * strip.background * np.exp(
                -0.5 * ((xr - bx) ** 2 + (yr - by) ** 2) / size**2
            )
        if grain is not None:
            bg = bg + spec.grain * strip.background * grain
        row = top + strip.band_row
        for _ in range(strip.blotches_under_bands if samples else 0):
            # centred on the band (smile included) near a sample lane's centre
            at_row = float(_lane_x(spec, centers[int(rng.choice(samples))], mid, row))
            bx = at_row + rng.uniform(-0.3, 0.3) * spec.pitch
            by = row + float(_smile_offset(spec, bx))
            size = rng.uniform(0.4, 1.2) * spec.pitch
            bg = bg + rng.uniform(0.1, 0.35) * strip.background * np.exp(
                -0.5 * ((xr - bx) ** 2 + (yr - by) ** 2) / size**2
            )
        for lane, fraction in spec.streaks or ():
            # uneven transfer: the whole lane sits on more background, not just its band
            lane_x = _lane_x(spec, centers[lane - 1], mid, yr)
            bg = bg + fraction * strip.background * _across(xr, lane_x, half, soft)
        signal += np.where(in_strip, bg, 0.0)
        for lane, (cx, role) in enumerate(zip(centers, roles, strict=True), start=1):
            # a splaying lane's centre follows the row; otherwise lane_x is cx
            lane_x = _lane_x(spec, cx, mid, yr)
            if role == "ladder":
                for mark in strip.ladder_rows:
                    shape = _band_shape(spec, xr, yr, lane_x, top + mark, 0.7 * strip.sigma)
                    add(strip.ladder_volume * shape / shape.sum())
                continue
            if role not in ("sample", "calibrator", "standard"):
                continue  # (a calibrator or a standard is a lysate like a sample)
            volume = float(strip.volumes[lane - 1])
            drawn = volume if strip.response is None else float(response(volume, *strip.response))
            shape = _band_shape(spec, xr, yr, lane_x, row, strip.sigma, half, soft) * in_strip
            centre = row
            if strip.stain_bands is not None:
                # every protein of the lane: many bands, each its share of the lane's volume
                band = np.zeros(spec.image_shape)
                for at, share in strip.stain_bands:
                    one = _band_shape(spec, xr, yr, lane_x, top + at, strip.sigma, half, soft)
                    one = one * in_strip
                    if one.sum() > 0:
                        band += share * drawn * one / one.sum()
                centre = top + float(np.mean([at for at, _ in strip.stain_bands]))
            elif strip.doublet is None:
                band = drawn * shape / shape.sum() if shape.sum() > 0 else shape
            else:
                # the lane's volume is the pair's: shared 1 : fraction
                offset, fraction = strip.doublet
                first = drawn / (1.0 + fraction)
                second = _band_shape(spec, xr, yr, lane_x, row + offset, strip.sigma, half, soft)
                second = second * in_strip
                band = first * shape / shape.sum() if shape.sum() > 0 else 0.0 * shape
                if second.sum() > 0:
                    band = band + fraction * first * second / second.sum()
                # the pair's row is the middle of its two bands, where its box is centred
                centre = row + offset / 2
            add(band)
            if strip.smear > 0:
                below = np.clip(yr - (row + _smile_offset(spec, xr)), 0, None)
                tail = np.exp(-below / (6 * strip.sigma)) * (below > 0) * shape.max(axis=0)
                tail *= (np.abs(xr - lane_x) < half) * in_strip
                if tail.sum() > 0:
                    add(strip.smear * drawn * tail / tail.sum())
            if strip.nonspecific is not None:
                offset, fraction = strip.nonspecific
                extra = _band_shape(spec, xr, yr, lane_x, row + offset, strip.sigma, half, soft)
                extra = extra * in_strip
                if extra.sum() > 0:
                    add(fraction * drawn * extra / extra.sum())
            at_row = float(_lane_x(spec, cx, mid, row))
            x_img, y_img = _to_image(spec, at_row, centre + float(_smile_offset(spec, at_row)))
            truths.append((k, strip.antibody, lane, volume, y_img, x_img, band))
        top += strip.height
    hole = None
    if protein is not None and samples:
        hole = np.zeros(spec.image_shape)
        for _ in range(spec.bubbles):
            k = int(rng.integers(len(spec.strips)))
            row = tops[k] + spec.strips[k].band_row
            at_row = float(_lane_x(spec, centers[int(rng.choice(samples))], mid, row))
            bx = at_row + rng.uniform(-0.2, 0.2) * spec.pitch
            by = row + float(_smile_offset(spec, bx)) + rng.uniform(-1, 1) * spec.strips[k].sigma
            radius = rng.uniform(0.15, 0.35) * spec.pitch
            # a disk with a 1-pixel soft edge
            disk = np.clip(radius + 0.5 - np.hypot(xr - bx, yr - by), 0.0, 1.0)
            hole = np.maximum(hole, disk)
        # no protein under a bubble, and less of the nonspecific background
        signal = signal - hole * (protein + BUBBLE_BACKGROUND_LOSS * (signal - protein))
    if on_membrane is not None:
        # beyond the membrane: the imager's tray or lid, at its own level
        signal = np.where(on_membrane, signal, spec.outside_level)
    dust = np.zeros_like(signal)
    for _ in range(spec.dust):
        # dust specks: tiny, sharp and bright in the signal
        dx, dy = rng.uniform(0, w), rng.uniform(0, h)
        radius = rng.uniform(0.7, 2.0)
        level = rng.uniform(0.3, 1.0) * float(np.percentile(signal + dust, 99.9))
        dust += level * np.exp(-0.5 * ((xr - dx) ** 2 + (yr - dy) ** 2) / radius**2)
    if spec.annotations:
        # marks are not band signal: like dust, their clipping is not the band's
        dust += _annotations(spec, xr, yr, float(np.percentile(signal, 99.9)), rng)

    top_value = 255.0 if spec.bit_depth == 8 else 65535.0
    ceiling = spec.ceiling if spec.ceiling is not None else top_value
    noise = rng.normal(0.0, 1.0, signal.shape) * np.sqrt(
        spec.read_noise**2 + spec.shot_noise * np.clip(signal + dust, 0, None)
    )
    noisy = signal + dust + noise
    # a band is saturated when its own signal is clipped; a speck of dust that
    # clips on top of it is the speck's saturation, not the band's
    without_dust = signal + noise
    dark = spec.polarity == "dark-bands"
    if dark:
        white = spec.white or 0.9 * top_value
        pixels, own = white - noisy, white - without_dust
    else:
        pixels, own = noisy, without_dust
    export_range = None
    if spec.stretch:
        low, high = spec.stretch_range or (float(pixels.min()), float(pixels.max()))
        export_range = (low, high)
        # x / x is exactly 1: the extreme pixel lands on the top value itself
        pixels = (pixels - low) / (high - low) * top_value
        own = (own - low) / (high - low) * top_value
    if dark:
        clipped = own <= 0
        pixels = np.clip(pixels, 0, top_value)
    else:
        clipped = own >= ceiling
        pixels = np.clip(pixels, 0, ceiling)
    if spec.stretch:
        # whole counts towards the membrane: only the extreme pixel reaches the bands' limit
        pixels = np.ceil(pixels) if dark else np.floor(pixels)
    dtype = np.uint8 if spec.bit_depth == 8 else np.uint16
    image = np.rint(pixels).astype(dtype)
    gain = 1.0 if export_range is None else top_value / (export_range[1] - export_range[0])
    result = []
    for k, antibody, lane, volume, y_img, x_img, band in truths:
        footprint = band > 0.02 * band.max() if band.max() > 0 else band > 0
        plateau = _largest_plateau(clipped & footprint)
        lost = 0.0
        if hole is not None and band.sum() > 0:
            lost = float((band * hole).sum() / band.sum())
        result.append(
            BandTruth(
                k,
                antibody,
                lane,
                volume * gain if export_range is not None else volume,
                float(y_img),
                float(x_img),
                plateau >= MIN_PLATEAU,
                plateau,
                lost >= BUBBLE_BAND_SHARE,
                export_range,
            )
        )
    return image, result


def truth_table(truth: list[BandTruth], **columns: object) -> pd.DataFrame:
    """Truth as a DataFrame, with extra constant columns (membrane, image, ...)."""
    rows = [
        {
            **columns,
            "strip": t.strip,
            "antibody": t.antibody,
            "lane": t.lane,
            "true_volume": t.true_volume,
            "band_row": round(t.band_row, 3),
            "lane_x": round(t.lane_x, 3),
            "saturated": t.saturated,
        }
        for t in truth
    ]
    return pd.DataFrame(rows)
