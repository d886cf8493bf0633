"""Synthetic Western blots with exactly known band volumes.

Used for the demo in ``sample_images/``, the ground-truth tests and the
benchmarks. A blot is drawn in the membrane's own frame (lanes vertical,
bands horizontal, a smile bending bands down towards the edges), then rotated
into the image, over an uneven background with smear, dust, a nonspecific
band and signal-dependent noise, and finally clipped and quantised like a
detector would.

The true volume of a band is the sum, over all pixels, of that band's own
contribution before noise, clipping and rounding: what a perfect tool would
measure after perfect background removal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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

    @property
    def height(self) -> int:
        """Rows of the whole image: its strips stacked."""
        return int(sum(s.height for s in self.strips))

    def lane_centers(self) -> np.ndarray:
        """Give the true lane centre columns, jitter included."""
        jitter = np.zeros(self.n_lanes) if self.lane_jitter is None else self.lane_jitter
        return self.first_lane + self.pitch * np.arange(self.n_lanes) + np.asarray(jitter)

    def lane_roles(self) -> list[str]:
        """Role of every lane (sample unless the spec says otherwise)."""
        return self.roles or ["sample"] * self.n_lanes


@dataclass(frozen=True)
class BandTruth:
    """What a perfect tool would report for one band."""

    strip: int
    antibody: str
    lane: int
    true_volume: float
    band_row: float  # image row of the band centre at the lane centre
    lane_x: float  # image column of the lane centre at the band row
    saturated: bool


def _frame(spec: BlotSpec) -> tuple[np.ndarray, np.ndarray]:
    """Membrane-frame coordinates (x, y) of every image pixel."""
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = np.radians(spec.rotation_deg)
    xc, yc = (w - 1) / 2.0, (h - 1) / 2.0
    xr = (xx - xc) * np.cos(angle) + (yy - yc) * np.sin(angle) + xc
    yr = -(xx - xc) * np.sin(angle) + (yy - yc) * np.cos(angle) + yc
    return xr, yr


def _to_image(spec: BlotSpec, x: float, y: float) -> tuple[float, float]:
    """Image position of a membrane-frame point."""
    angle = np.radians(spec.rotation_deg)
    xc, yc = (spec.width - 1) / 2.0, (spec.height - 1) / 2.0
    dx, dy = x - xc, y - yc
    return (
        xc + dx * np.cos(angle) - dy * np.sin(angle),
        yc + dx * np.sin(angle) + dy * np.cos(angle),
    )


def _smile_offset(spec: BlotSpec, x: np.ndarray | float) -> np.ndarray | float:
    centers = spec.lane_centers()
    mid = (centers[0] + centers[-1]) / 2.0
    span = max((centers[-1] - centers[0]) / 2.0, 1.0)
    return spec.smile * ((np.asarray(x) - mid) / span) ** 2


def _band_shape(spec: BlotSpec, xr, yr, cx: float, row: float, sigma: float) -> np.ndarray:
    half = spec.band_half_width * spec.pitch
    across = 1.0 / (1.0 + np.exp(np.clip((np.abs(xr - cx) - half) / spec.edge_softness, -60, 60)))
    centre = row + _smile_offset(spec, xr)
    return across * np.exp(-0.5 * ((yr - centre) / sigma) ** 2)


def render_blot(spec: BlotSpec, rng: np.random.Generator) -> tuple[np.ndarray, list[BandTruth]]:
    """Draw a blot and return it with the truth of every sample-lane band.

    Parameters
    ----------
    spec : BlotSpec
    rng : numpy.random.Generator

    Returns
    -------
    image : ndarray of uint8 or uint16, shape (height, width)
    truth : list of BandTruth
        One per strip and sample lane.
    """
    xr, yr = _frame(spec)
    h, w = spec.height, spec.width
    centers = spec.lane_centers()
    roles = spec.lane_roles()
    signal = np.zeros((h, w))
    truths: list[tuple[int, str, int, float, float, float, np.ndarray]] = []
    top = 0
    last = len(spec.strips) - 1
    for k, strip in enumerate(spec.strips):
        # the outer strips' membrane reaches the image edges (a tilted membrane
        # leaves no empty corners inside the imager's field)
        in_strip = ((yr >= top) | (k == 0)) & ((yr < top + strip.height) | (k == last))
        # background: level, gradient, blotches (only on this strip's membrane)
        bg = strip.background + strip.gradient[0] * xr + strip.gradient[1] * (yr - top)
        for _ in range(strip.blotches):
            bx, by = rng.uniform(0, w), rng.uniform(top, top + strip.height)
            size = rng.uniform(0.1, 0.3) * min(w, strip.height * 2)
            bg = bg + rng.uniform(0.1, 0.35) * strip.background * np.exp(
                -0.5 * ((xr - bx) ** 2 + (yr - by) ** 2) / size**2
            )
        signal += np.where(in_strip, bg, 0.0)
        row = top + strip.band_row
        for lane, (cx, role) in enumerate(zip(centers, roles, strict=True), start=1):
            if role == "ladder":
                for mark in strip.ladder_rows:
                    shape = _band_shape(spec, xr, yr, cx, top + mark, 0.7 * strip.sigma)
                    signal += strip.ladder_volume * shape / shape.sum()
                continue
            if role != "sample":
                continue
            volume = float(strip.volumes[lane - 1])
            shape = _band_shape(spec, xr, yr, cx, row, strip.sigma) * in_strip
            band = volume * shape / shape.sum() if shape.sum() > 0 else shape
            signal += band
            if strip.smear > 0:
                below = np.clip(yr - (row + _smile_offset(spec, xr)), 0, None)
                tail = np.exp(-below / (6 * strip.sigma)) * (below > 0) * shape.max(axis=0)
                tail *= (np.abs(xr - cx) < spec.band_half_width * spec.pitch) * in_strip
                if tail.sum() > 0:
                    signal += strip.smear * volume * tail / tail.sum()
            if strip.nonspecific is not None:
                offset, fraction = strip.nonspecific
                extra = _band_shape(spec, xr, yr, cx, row + offset, strip.sigma) * in_strip
                if extra.sum() > 0:
                    signal += fraction * volume * extra / extra.sum()
            x_img, y_img = _to_image(spec, cx, row + float(_smile_offset(spec, cx)))
            truths.append((k, strip.antibody, lane, volume, y_img, x_img, band))
        top += strip.height
    dust = np.zeros_like(signal)
    for _ in range(spec.dust):
        # dust specks: tiny, sharp and bright in the signal
        dx, dy = rng.uniform(0, w), rng.uniform(0, h)
        radius = rng.uniform(0.7, 2.0)
        level = rng.uniform(0.3, 1.0) * float(np.percentile(signal + dust, 99.9))
        dust += level * np.exp(-0.5 * ((xr - dx) ** 2 + (yr - dy) ** 2) / radius**2)

    top_value = 255.0 if spec.bit_depth == 8 else 65535.0
    ceiling = spec.ceiling if spec.ceiling is not None else top_value
    noise = rng.normal(0.0, 1.0, signal.shape) * np.sqrt(
        spec.read_noise**2 + spec.shot_noise * np.clip(signal + dust, 0, None)
    )
    noisy = signal + dust + noise
    # a band is saturated when its own signal is clipped; a speck of dust that
    # clips on top of it is the speck's saturation, not the band's
    without_dust = signal + noise
    if spec.polarity == "dark-bands":
        white = spec.white or 0.9 * top_value
        pixels = white - noisy
        clipped = white - without_dust <= 0
        pixels = np.clip(pixels, 0, top_value)
    else:
        pixels = noisy
        clipped = without_dust >= ceiling
        pixels = np.clip(pixels, 0, ceiling)
    dtype = np.uint8 if spec.bit_depth == 8 else np.uint16
    image = np.rint(pixels).astype(dtype)
    result = []
    for k, antibody, lane, volume, y_img, x_img, band in truths:
        footprint = band > 0.02 * band.max() if band.max() > 0 else band > 0
        result.append(
            BandTruth(
                k,
                antibody,
                lane,
                volume,
                float(y_img),
                float(x_img),
                bool(np.any(clipped & footprint)),
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
