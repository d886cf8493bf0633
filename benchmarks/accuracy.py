"""Accuracy benchmark: blotquant against ground truth, and against ImageJ.

    python benchmarks/accuracy.py                 # new random membranes every run
    python benchmarks/accuracy.py --seed 2026     # the committed set (ImageJ rows included)
    python benchmarks/accuracy.py --seed 2026 --imagej   # re-measure with ImageJ (needs it)
    python benchmarks/accuracy.py --seed 2026 --write-readme

Generates a varied set of synthetic membranes with blotquant's generator
(each flaw alone, twice, and everything together; then each flaw of real
membranes alone, twice; then each flaw at the bands alone, twice), runs the
real ``blotquant run`` CLI on them for every background method, and prints
one table row per flaw and method. See benchmarks/README.md for the metrics.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml
from PIL import Image
from scipy.stats import norm

from blotquant.bands import BandBox
from blotquant.models import BACKGROUND_METHODS, DEFAULT_BACKGROUND
from blotquant.polarity import to_signal
from blotquant.quantify import image_noise, measure_band
from blotquant.synth import BandTruth, BlotSpec, StripSpec, render_blot
from blotquant.tables import LANES_UNCERTAIN

HERE = Path(__file__).resolve().parent
IMAGEJ_DATA = HERE / "data"
IMAGEJ_SEED = 2026
#: The default first, raw volumes ("none") last, the others by name: the
#: order of the README's tables.
METHODS = tuple(sorted(BACKGROUND_METHODS, key=lambda m: (m != DEFAULT_BACKGROUND, m == "none", m)))
IMAGEJ_RADII = (10, 25, 50, 100)
#: A camera whose full well ends at 30 000 counts (16-bit saturation flaws).
SATURATION_CEILING = 30000.0
TREATMENTS = ["DMSO", "DMSO", "A", "A", "B", "B", "C", "C", "D", "D"]
#: true phospho/total fold change of each treatment (D: the faint case, 5 %)
EFFECT = {"DMSO": 1.0, "A": 0.6, "B": 0.25, "C": 1.2, "D": 0.05}

FLAWS: dict[str, dict] = {
    "clean": {},
    "dark bands": {"polarity": "dark-bands"},
    "8-bit": {"bits": 8},
    "PNG": {"png": True},
    "rotation +2 deg": {"rotation": 2.0},
    "rotation -2 deg": {"rotation": -2.0},
    "smile 10 px": {"smile": 10.0},
    "gradient": {"gradient": (1.5, -2.0)},
    "blotches": {"blotches": 5},
    "smear": {"smear": 0.05},
    "nonspecific band": {"nonspecific": (22.0, 0.4)},
    "dust": {"dust": 12},
    "low noise": {"noise": 0.3},
    "high noise": {"noise": 4.0},
    "saturated bands": {"saturate": True},
    "faint phospho 5%": {"faint": True},
    "ladder + empty lanes": {"ladder": True},
    "two-channel": {"two_channel": True},
    "strips (regions)": {"strips": True},
    "pitch 35 px": {"pitch": 35.0},
    "pitch 120 px": {"pitch": 120.0},
    "thin bands": {"sigma": 2.0},
    "fat bands": {"sigma": 9.0},
}
#: Flaws of real membranes, each alone, drawn after the membranes above (and
#: from the same random stream), so those stay identical at a given seed and
#: ImageJ's committed numbers stay valid for them.
REAL_FLAWS: dict[str, dict] = {
    "uneven spacing": {"uneven": 0.2},
    "tilt +3 deg": {"rotation": 3.0},
    "tilt -3 deg": {"rotation": -3.0},
    "splaying lanes": {"splay": 0.06, "strips": True},
    "membrane edge inside the image": {"field": (0.05, 0.10)},
    "lane-wide streaks": {"streaks": (3, 0.10, 0.20)},
    "marker-only ladder": {"marker_ladder": (1.6, 2.0)},
    "extra unlisted lane": {"unlisted_lane": True},
    "merged loading control": {"strips": True, "merged_total": (0.5, 0.1)},
    "annotations": {"annotations": 5},
    # the total imaged again after the membrane moved on the tray; the
    # phospho shows bands in the DMSO and C lanes only (A, B and D at 3 %, a
    # strong inhibitor): its other lanes can only come from the total's
    "reprobe moved on the tray": {
        "field": (0.06, 0.10),
        "moved": (0.02, 0.05),
        "inhibited": ("A", "B", "D"),
    },
}
#: Flaws at the bands, each alone, drawn after all of the above (same stream),
#: so every membrane above stays identical at a given seed.
BAND_FLAWS: dict[str, dict] = {
    # texture of the membrane: 3-6 % of the background, 1.5-3 px correlation
    "membrane grain": {"grain": (0.03, 0.06), "grain_size": (1.5, 3.0)},
    # three blotches per image right under the bands, 1-3 lanes wide
    "blotches under bands": {"blotches_under_bands": 3},
    # a second band 2.5-3.5 sigma below each band, 0.5-1 times its volume
    "doublets": {"doublet": ((2.5, 3.5), (0.5, 1.0))},
    # 1-2 bubbles per image over random sample lanes' bands
    "bubbles": {"bubbles": (1, 2)},
    # the phospho bands of 4 treated lanes at a true signal-to-noise of 1-30
    # (log-uniform, one in each quarter of the range)
    "weak bands near the noise": {"weak": (4, 1.0, 30.0)},
    "contrast-stretched 8-bit": {"bits": 8, "stretch": True},
    # dark bands on paper white: 90-98 % of the background at 255
    "paper-white background": {"bits": 8, "polarity": "dark-bands", "paper_white": (0.90, 0.98)},
    # five treated lanes' total bands from grazing the ceiling to far over it
    "graded saturation": {"graded_saturation": True},
}
#: Overshoot of the graded-saturation bands' noiseless peak: in pixel noise SDs
#: over the ceiling (a plateau of about 2-10 and 10-50 pixels), then as a
#: multiple of the ceiling (about 90, 250 and 450 pixels at sigma 5).
GRADED_SDS = ((-0.5, 0.5), (1.0, 4.0))
GRADED_TIMES = ((1.03, 1.1), (1.2, 1.5), (1.6, 2.5))
#: Bands of true signal-to-noise below this are weak, above STRONG_SNR strong.
WEAK_SNR = 8.0
STRONG_SNR = 20.0
WEAK_FLAGS = ("no-band", "low-snr")
#: Columns of the flags at the bands (after the older ones, which stay as they were).
FLAG_COLUMNS = ["weak_flagged", "strong_flagged_weak", "bubble_flagged"]
#: The config is wrong on purpose here: its fold changes are not expected to
#: be right, its bands are expected to be flagged lanes-uncertain, and it is
#: left out of "all membranes".
WRONG_CONFIG = ("extra unlisted lane",)
EVERYTHING = {
    "polarity": "light-bands",
    "rotation": 1.2,
    "smile": 6.0,
    "gradient": (1.0, 1.0),
    "blotches": 4,
    "smear": 0.03,
    "nonspecific": (24.0, 0.3),
    "dust": 8,
    "noise": 1.5,
    "saturate": True,
    "faint": True,
    "ladder": True,
    "strips": True,
}


@dataclass
class Membrane:
    name: str
    flaw: str
    config: dict
    truth: list[dict] = field(default_factory=list)  # one row per image/antibody/lane
    rectangles: list[dict] = field(default_factory=list)  # for ImageJ


def _write_image(folder: Path, name: str, image: np.ndarray) -> None:
    if name.endswith(".png"):
        Image.fromarray(image).save(folder / name)
    else:
        tifffile.imwrite(folder / name, image, compression="zlib")


def make_membrane(
    name: str, flaw: str, flaws: dict, rng: np.random.Generator, folder: Path
) -> Membrane:
    """One membrane: phospho and total images with known volumes, and its config."""
    ladder = flaws.get("ladder", False)
    roles = (["ladder"] if ladder else []) + ["sample"] * len(TREATMENTS)
    if ladder:
        roles.insert(6, "empty")
    treatments = iter(TREATMENTS)
    lanes = [{"role": r} if r != "sample" else {"treatment": next(treatments)} for r in roles]
    # real-blot flaws that change the lanes (none of them draws a number otherwise)
    marker_end = None
    if flaws.get("marker_ladder"):
        # a marker lane at one end, off the samples' pitch
        marker_end = int(rng.integers(2))
        lanes.insert(0 if marker_end == 0 else len(lanes), {"role": "ladder"})
        roles = [lane.get("role", "sample") for lane in lanes]
    listed = lanes  # what the config says
    unlisted = None  # index on the membrane of a loaded lane the config forgets
    if flaws.get("unlisted_lane"):
        unlisted = 0 if rng.random() < 0.5 else len(lanes)
        forgotten = {"treatment": str(rng.choice(TREATMENTS))}
        lanes = [*lanes[:unlisted], forgotten, *lanes[unlisted:]]
        roles = [*roles[:unlisted], "sample", *roles[unlisted:]]
    n_lanes = len(lanes)
    pitch = flaws.get("pitch", float(rng.uniform(50, 75)))
    sigma = flaws.get("sigma", float(rng.uniform(3.5, 6.0)))
    bits = flaws.get("bits", 16)
    # an 8-bit export is stretched by the imager: bands reach about 100 of 255
    scale = 1.0 if bits == 16 else 1 / 50
    total = rng.uniform(0.8, 1.2, n_lanes) * 2.2e6 * (pitch / 60) * (sigma / 5) * scale
    fold = np.array([EFFECT[lane.get("treatment", "DMSO")] for lane in lanes])
    fold = fold * rng.lognormal(0, 0.05, n_lanes)
    if not flaws.get("faint"):
        fold = np.where(fold < 0.1, 0.15 * rng.lognormal(0, 0.05, n_lanes), fold)
    if flaws.get("inhibited"):
        gone = np.array([lane.get("treatment") in flaws["inhibited"] for lane in lanes])
        fold = np.where(gone, 0.03 * rng.lognormal(0, 0.05, n_lanes), fold)
    phospho = total * 0.6 * fold
    sample = np.array([r == "sample" for r in roles])
    total, phospho = np.where(sample, total, 0.0), np.where(sample, phospho, 0.0)
    if flaws.get("saturate"):
        # one treated lane's total band far over the detector's range
        hot = [i for i, lane in enumerate(lanes) if lane.get("treatment") == "C"][0]
        total[hot] *= 10.0
    noise = flaws.get("noise", 1.0)
    # flaws at the bands (none of them draws a number otherwise)
    treated = [i for i, lane in enumerate(lanes) if lane.get("treatment") not in (None, "DMSO")]
    weak: dict[int, float] = {}  # lane index: true signal-to-noise of its phospho band
    if flaws.get("weak"):
        count, lo, hi = flaws["weak"]
        chosen = rng.choice(treated, count, replace=False)
        # log-uniform, one in each of `count` equal log-steps: the range is spanned
        steps = np.linspace(np.log(lo), np.log(hi), count + 1)
        snrs = np.exp(rng.uniform(steps[:-1], steps[1:]))
        weak = {int(i): float(v) for i, v in zip(chosen, snrs, strict=True)}
    if flaws.get("graded_saturation"):
        # noiseless peak = background + volume / (sqrt(2 pi) sigma x band width)
        over = rng.choice(treated, len(GRADED_SDS) + len(GRADED_TIMES), replace=False)
        pixel_sd = np.sqrt((15 * noise) ** 2 + 0.8 * noise * SATURATION_CEILING)
        peaks = [SATURATION_CEILING + rng.uniform(*k) * pixel_sd for k in GRADED_SDS]
        peaks += [SATURATION_CEILING * rng.uniform(*k) for k in GRADED_TIMES]
        per_pixel = np.sqrt(2 * np.pi) * sigma * 2 * 0.36 * pitch
        for i, peak in zip(over, peaks, strict=True):
            total[i] = (peak - 1400) * per_pixel
    jitter = list(rng.uniform(-2.5, 2.5, n_lanes))
    margin = max(40.0, 0.8 * pitch)
    first_lane = margin
    extra_width = 0.0
    if flaws.get("uneven"):
        # offsets from even spacing up to the given share of the pitch
        jitter = list(rng.uniform(-1, 1, n_lanes) * flaws["uneven"] * pitch)
    if marker_end is not None:
        # the marker lane 1.6-2 pitches beyond the nearest sample instead of 1
        beyond = (float(rng.uniform(*flaws["marker_ladder"])) - 1) * pitch
        extra_width = beyond
        if marker_end == 0:
            first_lane += beyond
            jitter[0] -= beyond
        else:
            jitter[-1] += beyond
    width = int(round(2 * margin + pitch * (n_lanes - 1) + extra_width))
    height = 240 if sigma < 7 else 300
    real: dict = {}  # BlotSpec settings of real-blot flaws; empty leaves the defaults
    if flaws.get("splay"):
        real["splay"] = flaws["splay"]
    if flaws.get("field"):
        lo, hi = flaws["field"]
        rows = 2 * height if flaws.get("strips") else height
        real["margins"] = tuple(
            int(round(rng.uniform(lo, hi) * size)) for size in (width, rows, width, rows)
        )
        # the imager's tray: darker than the membrane, or a brighter lid or tray
        real["outside_level"] = (
            1400
            * scale
            * float(rng.uniform(0.2, 0.5) if rng.random() < 0.5 else rng.uniform(1.8, 2.5))
        )
    if flaws.get("streaks"):
        count, lo, hi = flaws["streaks"]
        chosen = rng.choice([i for i, r in enumerate(roles) if r == "sample"], count, replace=False)
        real["streaks"] = [(int(i) + 1, float(rng.uniform(lo, hi))) for i in sorted(chosen)]
    if flaws.get("annotations"):
        real["annotations"] = flaws["annotations"]
    if flaws.get("grain"):
        real["grain"] = float(rng.uniform(*flaws["grain"]))
        real["grain_size"] = float(rng.uniform(*flaws["grain_size"]))
    if flaws.get("stretch"):
        real["stretch"] = True
    white = 50000 if bits == 16 else 230
    if flaws.get("paper_white"):
        # white just above the top value: this share of the background rounds to 255
        share = float(rng.uniform(*flaws["paper_white"]))
        level = 1400 * scale
        pixel_sd = np.sqrt((15 * noise * scale) ** 2 + 0.8 * noise * scale * level)
        white = 254.5 + level + float(norm.ppf(share)) * pixel_sd
    doublet = None
    if flaws.get("doublet"):
        offsets, fractions = flaws["doublet"]
        doublet = (float(rng.uniform(*offsets)) * sigma, float(rng.uniform(*fractions)))
    common = dict(
        width=width,
        n_lanes=n_lanes,
        pitch=pitch,
        first_lane=first_lane,
        lane_jitter=jitter,
        roles=roles,
        polarity=flaws.get("polarity", "light-bands"),
        bit_depth=bits,
        rotation_deg=flaws.get("rotation", 0.0),
        smile=flaws.get("smile", 0.0),
        read_noise=15 * noise * scale,
        shot_noise=0.8 * noise * scale,
        dust=flaws.get("dust", 0),
        white=white,
        # saturation: a camera whose full well ends at 30 000 counts, the hot
        # band about 1.4 x over it
        ceiling=(
            SATURATION_CEILING
            if (flaws.get("saturate") or flaws.get("graded_saturation")) and bits == 16
            else None
        ),
        **real,
    )

    marks = [0.2 * height, 0.35 * height, 0.75 * height]
    if marker_end is not None:
        # a marker lane with 2-3 marks, none near the sample band (mid-strip)
        spots = [0.12, 0.22, 0.32, 0.72, 0.84]
        count = int(rng.integers(2, 4))
        marks = sorted(float(f) * height for f in rng.choice(spots, count, replace=False))

    def strip(antibody: str, volumes: np.ndarray) -> StripSpec:
        # a merged loading control: the total (X) strip's bands touch across lanes
        # (half-width and edge width as shares of the pitch: neighbours meet at
        # half height midway, so their sum has no valley and no ridge there)
        merged = flaws.get("merged_total") if antibody == "X" else None
        return StripSpec(
            antibody,
            height,
            height / 2,
            list(volumes),
            sigma=sigma,
            background=1400 * scale,
            gradient=tuple(g * scale for g in flaws.get("gradient", (0.0, 0.0))),
            blotches=flaws.get("blotches", 0),
            smear=flaws.get("smear", 0.0),
            nonspecific=flaws.get("nonspecific"),
            ladder_rows=marks,
            ladder_volume=float(np.max(total)) * 0.5,
            band_half_width=merged[0] if merged else None,
            edge_softness=merged[1] * pitch if merged else None,
            blotches_under_bands=flaws.get("blotches_under_bands", 0),
            doublet=doublet,
        )

    def blot(strips: list[StripSpec], settings: dict) -> BlotSpec:
        if flaws.get("bubbles"):
            lo, hi = flaws["bubbles"]
            settings = {**settings, "bubbles": int(rng.integers(lo, hi + 1))}
        return BlotSpec(strips=strips, **settings)

    # the box ImageJ is given, and the band-free boxes of the signal-to-noise truth;
    # a doublet's box holds both bands (its truth row is the middle of the pair)
    half_w = 0.36 * pitch + 3
    half_h, shift = 3.2 * sigma, 0.0
    if doublet:
        half_h += doublet[0] / 2
    box = {"half_w": half_w, "half_h": half_h, "shift": shift}

    def render(spec: BlotSpec) -> tuple[np.ndarray, list[BandTruth], dict[int, float]]:
        return render_with_noise(spec, rng, **box)

    membrane = Membrane(name, flaw, {"name": name, "lanes": listed, "images": []})
    ext = ".png" if flaws.get("png") else ".tif"
    band_window = None
    if flaws.get("nonspecific"):
        offset = flaws["nonspecific"][0]
        band_window = (height / 2 - 0.55 * offset, height / 2 + 0.55 * offset)

    # a user's band_rows cover the band in every lane: tilt moves it both ways,
    # a smile only down
    tilt = abs(np.tan(np.radians(common["rotation_deg"]))) * width / 2

    def window(row_offset: int) -> list[int]:
        assert band_window is not None
        return [
            max(int(row_offset + band_window[0] - tilt - 2), row_offset),
            int(row_offset + band_window[1] + tilt + common["smile"] + 2),
        ]

    def record(
        file: str,
        antibody: str,
        truth,
        row_offset: int = 0,
        image_entry: dict | None = None,
        rows: tuple[int, int] | None = None,
        noise: dict[int, float] | None = None,
    ) -> None:
        entry = dict(image_entry or {"file": file, "antibody": antibody})
        if band_window is not None:
            entry["band_rows"] = window(row_offset)
        if image_entry is None:
            membrane.config["images"].append(entry)
        for t in truth:
            if unlisted is not None:
                # the config's numbering skips the forgotten lane, which has no truth row
                if t.lane - 1 == unlisted:
                    continue
                t = replace(t, lane=t.lane - (1 if t.lane - 1 > unlisted else 0))
            membrane.truth.append(
                {
                    "membrane": name,
                    "flaw": flaw,
                    "file": file,
                    "antibody": antibody,
                    "lane": t.lane,
                    "true_volume": t.true_volume,
                    "band_row": t.band_row,
                    "lane_x": t.lane_x,
                    "saturated": t.saturated,
                    "pitch": pitch,
                    "sigma": sigma,
                    # a doublet's box may centre anywhere between its two bands
                    "span": doublet[0] / 2 if doublet else 0.0,
                    "plateau": t.plateau,
                    "bubble": t.bubble,
                    "true_snr": (t.true_volume / noise[t.strip]) if noise else np.nan,
                }
            )
            membrane.rectangles.append(
                {
                    "file": file,
                    "antibody": antibody,
                    "lane": t.lane,
                    "channel": (image_entry or {}).get("channel", 0),
                    "x": int(round(t.lane_x - half_w)),
                    "y": int(round(t.band_row + shift - half_h)),
                    "w": int(round(2 * half_w)),
                    "h": int(round(2 * half_h)),
                    "dark": common["polarity"] == "dark-bands",
                }
            )

    if flaws.get("strips"):
        for kind, (top_ab, bottom_ab) in (("phospho", ("p-X", "p-Y")), ("total", ("X", "Y"))):
            vols = {
                "p-X": phospho,
                "p-Y": phospho * rng.lognormal(0, 0.05, n_lanes),
                "X": total,
                "Y": total,
            }
            spec = blot([strip(top_ab, vols[top_ab]), strip(bottom_ab, vols[bottom_ab])], common)
            image, truth, noise_of = render(spec)
            file = f"{name}_{kind}{ext}"
            _write_image(folder, file, image)
            regions = []
            for k, ab in enumerate((top_ab, bottom_ab)):
                region = {"antibody": ab, "rows": [k * height, (k + 1) * height]}
                if band_window is not None:
                    region["band_rows"] = window(k * height)
                regions.append(region)
                for t in [t for t in truth if t.strip == k]:
                    record(
                        file,
                        ab,
                        [t],
                        image_entry={"file": file, "regions": regions},
                        noise=noise_of,
                    )
            membrane.config["images"].append({"file": file, "regions": regions})
        return membrane
    if flaws.get("two_channel"):
        chans = []
        for channel, (ab, vols) in enumerate((("X", total), ("p-X", phospho))):
            spec = blot([strip(ab, vols)], common)
            image, truth, noise_of = render(spec)
            chans.append(image)
            file = f"{name}_2ch.tif"
            entry = {"file": file, "channel": channel, "antibody": ab}
            membrane.config["images"].append(entry)
            record(file, ab, truth, image_entry=entry, noise=noise_of)
        tifffile.imwrite(folder / f"{name}_2ch.tif", np.stack(chans), compression="zlib")
        return membrane
    for ab, vols in (("p-X", phospho), ("X", total)):
        settings = common
        if ab == "X" and flaws.get("moved"):
            size = (width, height)
            settings = {**common, "margins": _moved(real["margins"], size, flaws["moved"], rng)}
        if ab == "p-X" and weak:
            # the weak bands' volumes from the noise of the band-free twin
            # (drawn from a copy of the stream: the same twin as below)
            spec = BlotSpec(strips=[strip(ab, vols)], **settings)
            twin, twin_truth = render_blot(band_free(spec, []), copy.deepcopy(rng))
            sd = box_noise(twin, twin_truth, spec, **box)[0]
            vols = vols.copy()
            for i, snr in weak.items():
                vols[i] = snr * sd
        spec = blot([strip(ab, vols)], settings)
        image, truth, noise_of = render(spec)
        file = f"{name}_{ab}{ext}"
        _write_image(folder, file, image)
        record(file, ab, truth, noise=noise_of)
    return membrane


def band_free(spec: BlotSpec, truth: list[BandTruth]) -> BlotSpec:
    """The same blot with no sample band, exported as ``truth`` says the image was.

    Drawn from the same random state as the image, it takes the same random
    numbers: noise, grain, blotches, bubbles and dust are the image's.
    """
    strips = [replace(s, volumes=[0.0] * len(s.volumes)) for s in spec.strips]
    export = truth[0].export_range if truth else None
    return replace(spec, strips=strips, stretch_range=export)


def box_noise(
    image: np.ndarray,
    truth: list[BandTruth],
    spec: BlotSpec,
    *,
    half_w: float,
    half_h: float,
    shift: float = 0.0,
) -> dict[int, float]:
    """Robust SD of the default measurement of band-sized boxes along each strip's band row.

    Boxes as ImageJ is given (``2 half_w`` by ``2 half_h``) every quarter
    pitch from half a pitch before the first band to half a pitch after the
    last, following the bands' rows (moved by ``shift``: a doublet's box is
    centred on the pair, not its truth row); measured as blotquant measures a band
    (profile-baseline, its default margin for the strip's sigma, dust removal).
    """
    top = float(np.iinfo(image.dtype).max)
    polarity = "dark-bands" if spec.polarity == "dark-bands" else "light-bands"
    signal = to_signal(image, polarity, top, np.float64)
    pixel_noise = image_noise(signal, whole_counts=True)
    w, h = int(round(2 * half_w)), int(round(2 * half_h))
    out = {}
    for k, strip in enumerate(spec.strips):
        bands = sorted((t for t in truth if t.strip == k), key=lambda t: t.lane_x)
        if not bands:
            continue
        xs = np.array([t.lane_x for t in bands])
        rows = np.array([t.band_row for t in bands]) + shift
        # blotquant's margin for a band of this sigma (bands.find_bands: 0.8 FWHM)
        margin = int(np.clip(round(0.8 * 2.3548 * strip.sigma), 3, 20))
        volumes = []
        for x in np.arange(xs[0] - spec.pitch / 2, xs[-1] + spec.pitch / 2, spec.pitch / 4):
            left = int(round(x - half_w))
            y = int(round(np.interp(x, xs, rows) - half_h))
            if left < 0 or left + w > image.shape[1] or y - margin < 0:
                continue
            if y + h + margin > image.shape[0]:
                continue
            box = BandBox(
                lane=0,
                lane_x=float(x),
                x_left=left,
                x_right=left + w,
                center_row=y + (h - 1) / 2,
                slope=0.0,
                half_top=(h - 1) / 2,
                half_bottom=(h - 1) / 2,
                detected=True,
                margin=margin,
            )
            band = measure_band(
                signal, box, method=DEFAULT_BACKGROUND, margin=margin, pixel_noise=pixel_noise
            )
            volumes.append(band.net_volume)
        v = np.asarray(volumes)
        out[k] = float(1.4826 * np.median(np.abs(v - np.median(v)))) if len(v) else np.nan
    return out


def render_with_noise(
    spec: BlotSpec, rng: np.random.Generator, *, half_w: float, half_h: float, shift: float
) -> tuple[np.ndarray, list[BandTruth], dict[int, float]]:
    """Render a blot, and the noise of a band's box measured on its band-free twin.

    The twin is drawn from a copy of the stream taken just before the image,
    so the main stream moves on exactly as it did before twins existed.
    """
    state = copy.deepcopy(rng)
    image, truth = render_blot(spec, rng)
    twin, _ = render_blot(band_free(spec, truth), state)
    return image, truth, box_noise(twin, truth, spec, half_w=half_w, half_h=half_h, shift=shift)


def _moved(
    margins: tuple[int, int, int, int],
    size: tuple[int, int],
    share: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[int, int, int, int]:
    """Move a membrane inside its image (kept the same size), by a share of the size, either way."""
    left, top, right, bottom = margins
    dx = min(int(round(rng.uniform(*share) * size[0])), left, right)
    dy = min(int(round(rng.uniform(*share) * size[1])), top, bottom)
    dx, dy = dx * int(rng.choice([-1, 1])), dy * int(rng.choice([-1, 1]))
    return left + dx, top + dy, right - dx, bottom - dy


def _file_name(flaw: str, copy: int) -> str:
    return f"{flaw.replace(' ', '_').replace('%', 'pct').replace('+', 'p')}_{copy}"


def build_set(seed: int, folder: Path) -> list[Membrane]:
    rng = np.random.default_rng(seed)
    membranes = []
    for flaw, flaws in FLAWS.items():
        for n in (1, 2):
            membranes.append(make_membrane(_file_name(flaw, n), flaw, flaws, rng, folder))
    for n in range(1, 7):
        flaws = dict(EVERYTHING)
        flaws["polarity"] = "dark-bands" if n % 2 else "light-bands"
        flaws["rotation"] = float(rng.uniform(-2, 2))
        membranes.append(
            make_membrane(f"everything_{n}", "everything together", flaws, rng, folder)
        )
    # last, so that every membrane above is drawn as it was before these existed
    for flaw, flaws in REAL_FLAWS.items():
        for n in (1, 2):
            membranes.append(make_membrane(_file_name(flaw, n), flaw, flaws, rng, folder))
    for flaw, flaws in BAND_FLAWS.items():
        for n in (1, 2):
            membranes.append(make_membrane(_file_name(flaw, n), flaw, flaws, rng, folder))
    return membranes


def run_blotquant(membranes: list[Membrane], folder: Path, method: str) -> dict[str, pd.DataFrame]:
    config = {
        "experiment": f"accuracy benchmark ({method})",
        "analysis": {"background": method, "rolling_ball_radius": 50},
        "pairs": [{"phospho": "p-X", "total": "X"}, {"phospho": "p-Y", "total": "Y"}],
        "control": {"treatment": "DMSO"},
        "summary_by": ["treatment"],
        "membranes": [m.config for m in membranes],
    }
    path = folder / f"config_{method}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = folder / f"out_{method}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "blotquant",
            "run",
            str(path),
            "--out",
            str(out),
            "--quiet",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"blotquant failed ({method}): {result.stderr[-2000:]}")
    return {
        name: pd.read_csv(out / f"{name}.csv", keep_default_na=False)
        for name in ("bands", "ratios")
    }


def _pairs_of(antibody: str) -> str:
    return {"p-X": "p-X/X", "X": "p-X/X", "p-Y": "p-Y/Y", "Y": "p-Y/Y"}[antibody]


def truth_fold_changes(truth: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (membrane, pair), group in truth.groupby(["membrane", truth["antibody"].map(_pairs_of)]):
        phospho, total = pair.split("/")
        p = group[group.antibody == phospho].set_index("lane")
        t = group[group.antibody == total].set_index("lane")
        ratio = p["true_volume"] / t["true_volume"]
        saturated = p["saturated"] | t["saturated"]
        bubble = p["bubble"] | t["bubble"] if "bubble" in group else saturated & False
        lanes = ratio.index
        rows.append(
            pd.DataFrame(
                {
                    "membrane": membrane,
                    "pair": pair,
                    "lane": lanes,
                    "true_ratio": ratio.values,
                    "saturated": saturated.values,
                    "bubble": bubble.values,
                    "flaw": group["flaw"].iloc[0],
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    return out


def fold_change_errors(
    truth: pd.DataFrame, ratios: pd.DataFrame, lanes_meta: dict[str, list[dict]]
) -> pd.DataFrame:
    """One row per membrane, pair and lane: true and measured fold change, and whether it counts."""
    fc_truth = truth_fold_changes(truth)
    control = fc_truth.apply(
        lambda r: lanes_meta[r.membrane][r.lane - 1].get("treatment") == "DMSO", axis=1
    )
    fc_truth["control"] = control
    # control of a membrane and pair: mean of the unsaturated control ratios
    ref = (
        fc_truth[fc_truth.control & ~fc_truth.saturated]
        .groupby(["membrane", "pair"])["true_ratio"]
        .mean()
        .rename("ref")
    )
    ctrl_sat = (
        fc_truth[fc_truth.control]
        .groupby(["membrane", "pair"])["saturated"]
        .any()
        .rename("control_saturated")
    )
    # a bubble over a control band takes the pair's every fold change with it
    ctrl_bubble = (
        fc_truth[fc_truth.control]
        .groupby(["membrane", "pair"])["bubble"]
        .any()
        .rename("control_bubble")
    )
    fc_truth = (
        fc_truth.join(ref, on=["membrane", "pair"])
        .join(ctrl_sat, on=["membrane", "pair"])
        .join(ctrl_bubble, on=["membrane", "pair"])
    )
    fc_truth["true_fc"] = fc_truth["true_ratio"] / fc_truth["ref"]
    merged = fc_truth.merge(
        ratios[["membrane", "pair", "lane", "fold_change"]],
        on=["membrane", "pair", "lane"],
        how="left",
    )
    use = ~merged.saturated & ~merged.control_saturated.fillna(False)
    # bubbled bands are necessarily low: their flag is what counts, not their fold change
    use = use & ~merged.bubble & ~merged.control_bubble.fillna(False)
    merged["fc_error"] = (pd.to_numeric(merged.fold_change, errors="coerce") - merged.true_fc).abs()
    merged["counted"] = use
    return merged


def metrics(
    truth: pd.DataFrame,
    bands: pd.DataFrame,
    ratios: pd.DataFrame,
    lanes_meta: dict[str, list[dict]],
) -> pd.DataFrame:
    """One row per flaw (and 'all'): the benchmark's metrics."""
    merged = fold_change_errors(truth, ratios, lanes_meta)
    use = merged["counted"]
    # volumes after one scale per image and antibody
    b = truth.merge(
        bands[
            ["membrane", "antibody", "lane", "net_volume", "flags", "lane_center", "band_row"]
        ].rename(columns={"band_row": "found_row"}),
        on=["membrane", "antibody", "lane"],
        how="left",
    )
    b["ratio"] = pd.to_numeric(b.net_volume, errors="coerce") / b.true_volume
    vol_rows = []
    for _, g in b.groupby(["membrane", "file", "antibody"]):
        g = g[~g.saturated & ~g.bubble]
        strong = g[g.true_volume >= 0.25 * g.true_volume.max()]
        if len(strong):
            scale = strong.ratio.median()
            vol_rows.append(strong.assign(vol_error=(strong.ratio / scale - 1).abs()))
    volumes = pd.concat(vol_rows, ignore_index=True)
    b["flagged_sat"] = b["flags"].astype(str).str.contains("saturated")
    b["flagged_lanes"] = b["flags"].astype(str).str.contains(LANES_UNCERTAIN)
    lane_off = (pd.to_numeric(b.lane_center, errors="coerce") - b.lane_x).abs()
    row_off = (pd.to_numeric(b.found_row, errors="coerce") - b.band_row).abs()
    b["lane_found"] = lane_off <= b.pitch / 4
    b["band_found"] = row_off <= np.maximum(2.0, b.sigma) + b.span
    flags = b["flags"].astype(str).str.split(";")
    b["flagged_weak"] = flags.map(lambda f: any(x in WEAK_FLAGS for x in f))
    b["flagged_bubble"] = flags.map(lambda f: "bubble" in f)

    def row(flaw: str, m: pd.DataFrame, v: pd.DataFrame, bb: pd.DataFrame) -> dict:
        e = m.loc[use.loc[m.index], "fc_error"].dropna()
        sat = bb[bb.saturated]
        # a bubbled band's signal is weak indeed: its own flag is what counts
        weak = bb[(bb.true_snr < WEAK_SNR) & ~bb.bubble]
        strong = bb[(bb.true_snr > STRONG_SNR) & ~bb.bubble]
        bubbled = bb[bb.bubble]
        return {
            "flaw": flaw,
            "fc_median": e.median(),
            "fc_p95": e.quantile(0.95),
            "fc_worst": e.max(),
            "vol_median_pct": 100 * v.vol_error.median(),
            "vol_p95_pct": 100 * v.vol_error.quantile(0.95),
            "sat_recall": (sat.flagged_sat.mean() if len(sat) else np.nan),
            "sat_false": int((bb.flagged_sat & ~bb.saturated).sum()),
            "lanes_found": bb.lane_found.mean(),
            "bands_found": bb.band_found.mean(),
            "lanes_flagged": bb.flagged_lanes.mean(),
            "weak_flagged": (weak.flagged_weak.mean() if len(weak) else np.nan),
            "strong_flagged_weak": int(strong.flagged_weak.sum()),
            "bubble_flagged": (bubbled.flagged_bubble.mean() if len(bubbled) else np.nan),
        }

    out = [
        row(flaw, merged[merged.flaw == flaw], volumes[volumes.flaw == flaw], b[b.flaw == flaw])
        for flaw in [*FLAWS, "everything together", *REAL_FLAWS, *BAND_FLAWS]
        if (merged.flaw == flaw).any()
    ]
    # membranes whose config is right: a forgotten lane is judged by its flag alone
    frames = (merged, volumes, b)
    right = [~frame.flaw.isin(WRONG_CONFIG) for frame in frames]
    # "all membranes" stays the set it was before the flaws at the bands existed
    before = [r & ~f.flaw.isin(BAND_FLAWS) for r, f in zip(right, frames, strict=True)]
    out.append(row("all membranes", *(f[k] for f, k in zip(frames, before, strict=True))))
    if merged.flaw.isin(BAND_FLAWS).any():
        label = "all, with flaws at the bands"
        out.append(row(label, *(f[k] for f, k in zip(frames, right, strict=True))))
    return pd.DataFrame(out)


# --- ImageJ ------------------------------------------------------------------------------------


def imagej_macro(membranes: list[Membrane], folder: Path, results: Path) -> str:
    """Per image: Subtract Background at each radius + RawIntDen of each rectangle, and the
    Gel Analyzer way (vertical profile of each rectangle, straight baseline top to bottom)."""
    lines = [
        "setBatchMode(true);",
        f'f = File.open("{results}");',
        'print(f, "file,channel,antibody,lane,method,volume");',
    ]
    by_image: dict[tuple[str, int], list[dict]] = {}
    for m in membranes:
        for r in m.rectangles:
            by_image.setdefault((r["file"], r["channel"]), []).append(r)
    for (file, channel), rects in by_image.items():
        opener = [f'open("{folder / file}");']
        if channel:
            opener.append(f'setSlice({channel + 1}); run("Duplicate...", "title=ch");')
        if rects[0]["dark"]:
            opener.append('run("Invert");')  # a careful user makes bands bright first
        for method in [f"rb{r}" for r in IMAGEJ_RADII] + ["gel"]:
            lines += opener
            if method.startswith("rb"):
                lines.append(f'run("Subtract Background...", "rolling={method[2:]}");')
            for r in rects:
                lines.append(f"makeRectangle({r['x']}, {r['y']}, {r['w']}, {r['h']});")
                if method == "gel":
                    lines += [
                        'setKeyDown("alt"); p = getProfile(); setKeyDown("none");',
                        "n = p.length; s = 0;",
                        "for (i = 0; i < n; i++)",
                        "  s += p[i] - (p[0] + (p[n-1] - p[0]) * i / (n-1));",
                        f"v = s * {r['w']};",
                    ]
                else:
                    lines.append('v = getValue("RawIntDen");')
                lines.append(
                    f'print(f, "{file},{channel},{r["antibody"]},{r["lane"]},{method},"'
                    " + d2s(v, 3));"
                )
            lines.append('run("Close All");')
    lines += ["File.close(f);", 'print("done");']
    return "\n".join(lines) + "\n"


def run_imagej(membranes: list[Membrane], folder: Path) -> pd.DataFrame:
    results = folder / "imagej_results.csv"
    macro = folder / "accuracy.ijm"
    macro.write_text(imagej_macro(membranes, folder, results))
    proc = subprocess.run(
        ["xvfb-run", "-a", "java", "-jar", "/usr/share/java/ij.jar", "-batch", str(macro)],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    if "done" not in proc.stdout or not results.exists():
        raise SystemExit(f"ImageJ failed: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")
    return pd.read_csv(results)


def imagej_metrics(
    truth: pd.DataFrame, imagej: pd.DataFrame, lanes_meta: dict[str, list[dict]]
) -> pd.DataFrame:
    rows = []
    # ImageJ measured the membranes it was given (the committed set predates the
    # flaws at the bands)
    truth = truth[truth.file.isin(imagej.file)]
    lanes_meta = {m: lanes_meta[m] for m in truth.membrane.unique()}
    file_to_membrane = truth.drop_duplicates("file").set_index("file")["membrane"].to_dict()
    for method, g in imagej.groupby("method"):
        bands = g.assign(
            membrane=g.file.map(file_to_membrane),
            net_volume=g.volume,
            flags="",
            lane_center=np.nan,
            band_row=np.nan,
        )
        ratios = []
        for (membrane, pair), _ in truth.groupby(["membrane", truth.antibody.map(_pairs_of)]):
            phospho, total = pair.split("/")
            p = bands[(bands.membrane == membrane) & (bands.antibody == phospho)].set_index("lane")
            t = bands[(bands.membrane == membrane) & (bands.antibody == total)].set_index("lane")
            ratio = p.net_volume / t.net_volume
            ctrl = [
                lane
                for lane in ratio.index
                if lanes_meta[membrane][lane - 1].get("treatment") == "DMSO"
            ]
            ratios.append(
                pd.DataFrame(
                    {
                        "membrane": membrane,
                        "pair": pair,
                        "lane": ratio.index,
                        "fold_change": (ratio / ratio[ctrl].mean()).values,
                    }
                )
            )
        table = metrics(truth, bands, pd.concat(ratios), lanes_meta)
        label = {"gel": "ImageJ Gel Analyzer (baseline top-bottom)"}.get(
            method, f"ImageJ rolling ball r={method[2:]}"
        )
        # ImageJ is handed the true boxes: finding lanes, bands and saturation is not its part
        found = ["sat_recall", "sat_false", "lanes_found", "bands_found", "lanes_flagged"]
        table[[*found, *FLAG_COLUMNS]] = np.nan
        rows.append(table.assign(method=label))
    return pd.concat(rows, ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    cols = [
        "method",
        "flaw",
        "fc_median",
        "fc_p95",
        "fc_worst",
        "vol_median_pct",
        "vol_p95_pct",
        "sat_recall",
        "sat_false",
        "lanes_found",
        "bands_found",
        "lanes_flagged",
        *FLAG_COLUMNS,
    ]
    head = (
        "| method | flaw | FC median | FC p95 | FC worst | vol median % | vol p95 % | "
        "sat recall | false sat | lanes found | bands found | lanes flagged | "
        "weak flagged | strong flagged weak | bubble flagged |"
    )
    lines = [head, "|" + "---|" * len(cols)]
    for r in table[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, r, strict=True):
            if isinstance(v, str):
                cells.append(v)
            elif pd.isna(v):
                cells.append("-")
            elif c in ("sat_false", "strong_flagged_weak"):
                cells.append(str(int(v)))
            elif c in (
                "sat_recall",
                "lanes_found",
                "bands_found",
                "lanes_flagged",
                "weak_flagged",
                "bubble_flagged",
            ):
                cells.append(f"{100 * v:.0f}%")
            elif c.startswith("vol"):
                cells.append(f"{v:.2f}")
            else:
                cells.append(f"{v:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"fix the membranes (ImageJ numbers are committed for {IMAGEJ_SEED})",
    )
    parser.add_argument("--imagej", action="store_true", help="measure with ImageJ (installed)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--keep", type=Path, default=None, help="keep the images in this folder")
    parser.add_argument(
        "--write-readme", action="store_true", help="put the table into benchmarks/README.md"
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 10**6)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="blotquant-accuracy-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    membranes = build_set(seed, folder)
    truth = pd.DataFrame([row for m in membranes for row in m.truth])
    truth.to_csv(folder / "truth.csv", index=False)
    lanes_meta = {m.name: m.config["lanes"] for m in membranes}
    n_images = truth.file.nunique()
    print(
        f"seed {seed}: {len(membranes)} membranes, {n_images} image files, "
        f"{len(truth)} bands ({time.time() - t0:.0f} s to draw)",
        flush=True,
    )
    tables = []
    for method in args.methods.split(","):
        t1 = time.time()
        out = run_blotquant(membranes, folder, method)
        label = f"blotquant {method}" + (" (default)" if method == "profile-baseline" else "")
        tables.append(metrics(truth, out["bands"], out["ratios"], lanes_meta).assign(method=label))
        print(f"  blotquant {method}: {time.time() - t1:.0f} s", flush=True)
    committed = IMAGEJ_DATA / f"imagej_seed{IMAGEJ_SEED}.csv"
    imagej = None
    if args.imagej:
        imagej = run_imagej(membranes, folder)
        if seed == IMAGEJ_SEED:
            IMAGEJ_DATA.mkdir(exist_ok=True)
            imagej.to_csv(committed, index=False)
            shutil.copy(folder / "accuracy.ijm", IMAGEJ_DATA / "accuracy.ijm")
    elif seed == IMAGEJ_SEED and committed.exists():
        imagej = pd.read_csv(committed)
    if imagej is not None:
        tables.append(imagej_metrics(truth, imagej, lanes_meta))
    else:
        print(f"(ImageJ rows: run with --seed {IMAGEJ_SEED}, or --imagej with ImageJ installed)")
    table = pd.concat(tables, ignore_index=True)
    text = format_table(table)
    summary = format_table(table[table.flaw.isin(["everything together", "all membranes"])])
    print(text)
    print("\nEverything together / all membranes:\n" + summary)
    (folder / "accuracy.json").write_text(table.to_json(orient="records", indent=1))
    if args.write_readme:
        readme = HERE / "README.md"
        body = readme.read_text()
        start, end = "<!-- accuracy-table -->", "<!-- /accuracy-table -->"
        block = (
            f"{start}\nSeed {seed}, {len(membranes)} membranes, {n_images} image files, "
            f"{len(truth)} bands.\n\n{text}\n{end}"
        )
        if start in body:
            body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
        else:
            body += "\n" + block + "\n"
        readme.write_text(body)
    print(f"\n{time.time() - t0:.0f} s in all; images in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
