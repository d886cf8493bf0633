"""Shared fixtures: tiny synthetic blots whose band volumes are known exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class TinyBlot:
    image: np.ndarray  # float, bands bright, no noise unless asked
    centers: np.ndarray  # true lane centres (columns)
    rows: np.ndarray  # true band centre row per lane (at the lane centre)
    volumes: np.ndarray  # exact band volume per lane


def make_blot(
    *,
    n_lanes: int = 6,
    pitch: float = 40.0,
    first: float | None = None,
    height: int = 120,
    band_row: float = 60.0,
    sigma: float = 3.0,
    half_width: float | None = None,
    amplitudes: list[float] | np.ndarray | None = None,
    jitter: np.ndarray | None = None,
    smile: float = 0.0,
    tilt_deg: float = 0.0,
    background: float = 100.0,
    gradient: tuple[float, float] = (0.0, 0.0),
    noise: float = 0.0,
    seed: int = 0,
    width: int | None = None,
) -> TinyBlot:
    """A blot with Gaussian (in y), soft-edged (in x) bands on a planar background.

    ``smile`` moves the band down by that many rows at the outermost lanes
    relative to the middle; ``tilt_deg`` rotates band and lane geometry.
    """
    first = pitch if first is None else first
    width = int(width or round(first * 2 + pitch * (n_lanes - 1)))
    half_width = 0.35 * pitch if half_width is None else half_width
    amplitudes = np.ones(n_lanes) * 1000 if amplitudes is None else np.asarray(amplitudes, float)
    jitter = np.zeros(n_lanes) if jitter is None else np.asarray(jitter, float)
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    angle = np.radians(tilt_deg)
    xc, yc = width / 2.0, height / 2.0
    # coordinates in the membrane's own frame
    xr = (xx - xc) * np.cos(angle) + (yy - yc) * np.sin(angle) + xc
    yr = -(xx - xc) * np.sin(angle) + (yy - yc) * np.cos(angle) + yc
    image = background + gradient[0] * xx + gradient[1] * yy
    centers, rows, volumes = [], [], []
    span = max(abs(first - xc), 1.0)
    for i in range(n_lanes):
        cx = first + i * pitch + jitter[i]
        cy = band_row + smile * ((cx - xc) / span) ** 2
        shape_x = 1.0 / (1.0 + np.exp(np.clip(np.abs(xr - cx) - half_width, -50, 50)))
        band = amplitudes[i] * np.exp(-0.5 * ((yr - cy) / sigma) ** 2) * shape_x
        image = image + band
        volumes.append(band.sum())
        # the lane centre and band row in image coordinates
        dx, dy = cx - xc, cy - yc
        centers.append(xc + dx * np.cos(angle) - dy * np.sin(angle))
        rows.append(yc + dx * np.sin(angle) + dy * np.cos(angle))
    if noise:
        image = image + np.random.default_rng(seed).normal(0, noise, image.shape)
    return TinyBlot(image, np.array(centers), np.array(rows), np.array(volumes))


@pytest.fixture
def blot_factory():
    return make_blot
