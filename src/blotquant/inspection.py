"""Looking at images before writing a config: ``blotquant inspect`` and ``init``.

Lane count, polarity, lanes and bands of a single image (:func:`inspect_image`,
with a config snippet for it), and a starting config for a folder of exports
(:func:`starting_config`), from a guess at its file-name pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage

from blotquant.comb import lane_pitch
from blotquant.errors import BlotquantError
from blotquant.evidence import (
    band_columns,
    band_residual,
    band_row_groups,
    column_profile,
    rows_with_bands,
)
from blotquant.io import BlotImage, read_image
from blotquant.models import INSPECT_SUFFIX, Lane, Measurement, Membrane
from blotquant.pipeline import ImageAnalysis, analyze_image
from blotquant.polarity import detect_polarity, to_signal
from blotquant.profiles import lower_baseline
from blotquant.qc import render_qc

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".scn", ".gel")


def estimate_lane_count(pixels: np.ndarray, ceiling: float | None) -> int:
    """Guess how many lanes an image holds (ladder and empty lanes between bands included).

    The lane spacing comes from the autocorrelation of the column profile of
    the band rows; the count is the span from the first to the last lane with
    signal, in spacings, plus one: over all band rows together, and over each
    run of band rows (a strip) on its own, whichever spans more lanes (a
    strip whose end lanes are faint undercounts; so does a strip that is
    outshone by a brighter one).
    """
    signal = to_signal(pixels, detect_polarity(pixels), ceiling)
    # a speck of dust at a band row is no lane: a 5 x 5 median takes specks
    # away and leaves bands (wider and taller than that) as they are
    residual = ndimage.median_filter(band_residual(signal), size=5)
    rows = rows_with_bands(residual)
    profile = column_profile(residual, 0.0, 0.0, rows=rows)
    width = len(profile)
    profile = np.clip(profile - lower_baseline(profile, width / 4), 0, None)
    smooth = ndimage.gaussian_filter1d(profile, 2.0)
    positive = smooth[smooth > 0]
    if positive.size == 0:
        return 1
    presence = smooth / (smooth + 0.5 * float(np.percentile(positive, 75)))
    # faint lanes between strong ones make twice the pitch repeat best: take
    # the shortest spacing that clearly repeats
    pitch = lane_pitch(presence, 12.0, width / 2.0, share=0.25)
    if pitch is None:
        return 1
    strong = np.flatnonzero(smooth > 0.25 * float(np.percentile(smooth, 99)))
    if strong.size == 0:
        return 1
    span = strong[-1] - strong[0]
    # the span runs from the first lane's edge to the last one's: take off a lane's width
    together = max(1, int(round((span - 0.7 * pitch) / pitch)) + 1)
    per_strip = [
        int(round((columns[-1] - columns[0]) / pitch)) + 1
        for group in band_row_groups(residual, rows=rows)
        for columns in [band_columns(column_profile(residual, 0.0, 0.0, rows=group), pitch)[0]]
        if len(columns) >= 3
    ]
    return max([together, *per_strip])


@dataclass(frozen=True)
class NamingGuess:
    """How the files of a folder name their membrane and antibody."""

    pattern: str
    membranes: list[str]
    antibodies: list[str]


_SPLIT = re.compile(r"([_\-. ]+)")


def guess_naming(names: list[str]) -> NamingGuess | None:
    """Guess a pattern such as ``{membrane}_{antibody}.tif`` from file names.

    The names are cut at ``_``, ``-``, ``.`` and spaces. Of the parts that
    differ between files, the one with the fewest different values is the
    antibody and the one with the most is the membrane; any other differing
    part (a date, say) becomes a field of its own that blotquant ignores.

    Returns None when the names do not share one layout.
    """
    layout = _name_layout(names)
    if layout is None:
        return None
    columns, seps, suffix = layout
    varying = [k for k, col in enumerate(columns) if len(set(col)) > 1]
    if len(varying) < 2:
        return None

    def letters(k: int) -> float:
        text = "".join(columns[k])
        return sum(c.isalpha() for c in text) / max(len(text), 1)

    # ties: antibody names are words (pAKT), membrane labels often numbers (7)
    antibody = min(varying, key=lambda k: (len(set(columns[k])), -letters(k), -k))
    membrane = max((k for k in varying if k != antibody), key=lambda k: (len(set(columns[k])), k))
    fields = {antibody: "antibody", membrane: "membrane"}
    pattern = _pattern(columns, seps, fields, varying) + suffix
    return NamingGuess(pattern, sorted(set(columns[membrane])), sorted(set(columns[antibody])))


def _name_layout(names: list[str]) -> tuple[list[list[str]], list[str], str] | None:
    """Cut file names into columns of parts; None unless they share one layout.

    Returns the parts of every name by position, the separators between them
    and the common file suffix.
    """
    if not names:
        return None
    stems = [Path(n).stem for n in names]
    suffixes = {Path(n).suffix for n in names}
    pieces = [_SPLIT.split(s) for s in stems]
    if len({len(p) for p in pieces}) != 1 or len(suffixes) != 1:
        return None
    seps = pieces[0][1::2]
    if any(p[1::2] != seps for p in pieces) or len(pieces[0]) < 3:
        return None
    n_tokens = len(pieces[0][0::2])
    columns = [[p[0::2][k] for p in pieces] for k in range(n_tokens)]
    return columns, seps, suffixes.pop()


def _pattern(
    columns: list[list[str]], seps: list[str], fields: dict[int, str], varying: list[int]
) -> str:
    """Write the file-name pattern: named fields, ``{partN}`` for other varying parts."""
    parts = []
    others = 0
    for k in range(len(columns)):
        if k in fields:
            parts.append(f"{{{fields[k]}}}")
        elif k in varying:
            others += 1
            parts.append(f"{{part{others}}}")
        else:
            parts.append(re.sub(r"[{}]", lambda m: m.group(0) * 2, columns[k][0]))
        if k < len(seps):
            parts.append(seps[k])
    return "".join(parts)


def antibody_name(token: str) -> str:
    """Spell an antibody of a file name the usual way: pAKT -> p-AKT, pIGF1R -> p-IGF-1R.

    The phospho mark is ``p`` before a capital or a hyphen, or ``phospho``.
    """
    name = token
    lowered = name.lower()
    if lowered.startswith("phospho") and len(name) > 7:
        name, phospho = name[7:].lstrip("-_ "), True
    else:
        phospho = len(name) > 1 and name[0] == "p" and (name[1].isupper() or name[1] == "-")
        if phospho:
            name = name[1:].lstrip("-")
    name = re.sub(r"^IGF1R$", "IGF-1R", name, flags=re.IGNORECASE)
    return ("p-" if phospho else "") + name


def pairs_from(antibodies: list[str]) -> list[dict[str, str]]:
    """Phospho/total pairs among antibody names (p-X with X).

    A phospho antibody whose total is not among the names gets ``EDIT`` for
    its total; a name without the phospho mark never goes into ``phospho``.
    """
    names = set(antibodies)
    return [
        {"phospho": a, "total": a[2:] if a[2:] in names else "EDIT"}
        for a in sorted(names)
        if a.startswith("p-")
    ]


def image_files(folder: Path) -> list[Path]:
    """List the images of a folder (TIFF, PNG, JPEG), sorted by name.

    The pictures ``blotquant inspect`` writes (``*_inspect.png``) are not exports.
    """
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not p.name.endswith(INSPECT_SUFFIX)
    )


def placeholder_lanes(n_lanes: int) -> list[dict[str, str]]:
    """Lane entries to edit: the first a DMSO control, the others numbered treatments."""
    return [{"treatment": "DMSO" if i == 0 else f"treatment-{i + 1}"} for i in range(n_lanes)]


# --- one image: `blotquant inspect` -----------------------------------------------------


@dataclass(frozen=True)
class Inspection:
    """What blotquant sees in one image, with placeholder lanes."""

    image: BlotImage
    analysis: ImageAnalysis
    #: The QC picture (PNG).
    picture: bytes
    #: Lanes on the membrane (ladder and empty ones included) ...
    n_lanes: int
    #: ... and whether that count was guessed rather than given.
    lanes_guessed: bool


def inspect_image(
    path: str | Path,
    *,
    n_lanes: int | None = None,
    band_rows: tuple[int, int] | None = None,
    channel: int = 0,
) -> Inspection:
    """Find the polarity, lanes and bands of one image, and draw its QC picture.

    Parameters
    ----------
    path : str or Path
        TIFF, PNG or JPEG file.
    n_lanes : int, optional
        Lanes on the membrane (ladder and empty ones included); guessed if omitted.
    band_rows : (int, int), optional
        Search the band in these rows, [top, bottom).
    channel : int
        Page or channel of a multi-page file.

    Returns
    -------
    Inspection

    Raises
    ------
    BlotquantError
        If the image cannot be read or measured.
    """
    path = Path(path)
    image = read_image(path, channel)
    guessed = n_lanes is None
    if n_lanes is None:
        n_lanes = estimate_lane_count(image.pixels, image.ceiling)
    lanes = placeholder_lanes(n_lanes)
    membrane = Membrane(
        "inspect", tuple(Lane(i + 1, "sample", meta) for i, meta in enumerate(lanes))
    )
    measurement = Measurement(
        "inspect",
        path.name,
        path,
        "antibody",
        channel=channel,
        band_rows=tuple(band_rows) if band_rows else None,
        source="blotquant inspect",
    )
    analysis = analyze_image(image, measurement, membrane)
    return Inspection(image, analysis, render_qc(image, [analysis]), n_lanes, guessed)


def describe(inspection: Inspection) -> str:
    """Describe the image, its lanes and each lane's band, in lines of text."""
    image, analysis = inspection.image, inspection.analysis
    lanes = analysis.lanes
    height, width = image.pixels.shape
    guessed = " (guessed; give --lanes to set)" if inspection.lanes_guessed else ""
    lines = [
        f"{image.path}: {width} x {height} px, {image.bit_depth}-bit, channel {image.channel} "
        f"of {image.n_channels}, {analysis.polarity}",
        f"lanes: {inspection.n_lanes}{guessed}, pitch {lanes.pitch:.1f} px, box width "
        f"{lanes.width:.1f} px, tilt {np.degrees(np.arctan(lanes.slope)):.2f} deg",
        "lane  centre  band row  net volume  flags",
    ]
    for box, band in zip(analysis.boxes, analysis.bands, strict=True):
        lines.append(
            f"{box.lane:4d}  {box.lane_x:6.1f}  {box.band_row:8.1f}  "
            f"{band.net_volume:10.4g}  {band.flag_text}"
        )
    saturated = sum(b.saturated_pixels for b in analysis.bands)
    lines.append(f"saturated pixels in bands: {saturated}")
    if analysis.lane_doubts:
        lines.append(
            "lanes in doubt: " + "; ".join(analysis.lane_doubts) + ". Try another --lanes, "
            "or crop the image to the membrane (`crop` in the config)."
        )
    return "\n".join(lines)


def config_snippet(inspection: Inspection) -> str:
    """Write out the lanes and image entry of a config for the inspected image, to edit.

    The band rows are those of the boxes found, with 10 rows to spare.
    """
    image, boxes = inspection.image, inspection.analysis.boxes
    rows = [b.band_top for b in boxes] + [b.band_bottom for b in boxes]
    height = image.pixels.shape[0]
    channel = f", channel: {image.channel}" if image.channel else ""
    lines = ["  lanes:"]
    lines += [
        f"    - {{treatment: {lane['treatment']}}}"
        for lane in placeholder_lanes(inspection.n_lanes)
    ]
    lines += [
        "  images:",
        f"    - {{file: {image.path.name}, antibody: ANTIBODY{channel}, band_rows: "
        f"[{max(0, min(rows) - 10)}, {min(height, max(rows) + 10)}]}}",
    ]
    return "\n".join(lines)


# --- a folder of exports: `blotquant init` ----------------------------------------------

#: Images whose lanes are counted for a starting config (the first ones by name).
IMAGES_COUNTED = 3

_HEADER = (
    "# Starting config written by `blotquant init`. Edit before trusting the numbers:\n"
    "#  - lanes: one entry per lane, left to right, with its treatment (and dose_nM,\n"
    "#    cell_line, ...); mark the ladder {{role: ladder}} and empty lanes {{role: empty}}\n"
    "#  - pairs: which phospho antibody goes over which total\n"
    "# Lanes counted: {n_lanes} (from {n_images} image(s)).\n"
)


@dataclass(frozen=True)
class StartingConfig:
    """A config for a folder of exports that runs as it is, to edit before trusting it."""

    #: The config, as YAML would hold it.
    config: dict[str, Any]
    #: What was guessed, in one line.
    description: str
    n_lanes: int
    #: Images the lane count came from.
    images_counted: int

    def text(self) -> str:
        """Give the config as YAML, under comments that say what to edit."""
        header = _HEADER.format(n_lanes=self.n_lanes, n_images=self.images_counted)
        return header + yaml.safe_dump(self.config, sort_keys=False, width=100)


def starting_config(folder: Path) -> StartingConfig:
    """Guess a config for a folder of exports: naming pattern, antibodies, pairs, lanes.

    Files named alike (``{membrane}_{antibody}.tif``) become one batch with that
    pattern; otherwise each file becomes one antibody of a single membrane.
    The lanes are placeholders, as many as the first images show at most.

    Parameters
    ----------
    folder : Path
        The folder of image exports.

    Returns
    -------
    StartingConfig

    Raises
    ------
    BlotquantError
        If ``folder`` is not a folder, holds no images, or an image cannot be read.
    """
    if not folder.is_dir():
        raise BlotquantError(f"{folder} is not a folder. Name the folder of image exports.")
    files = image_files(folder)
    if not files:
        raise BlotquantError(f"{folder} holds no images (TIFF, PNG, JPEG, Image Lab .scn, GEL).")
    counts = []
    for file in files[:IMAGES_COUNTED]:
        image = read_image(file)
        counts.append(estimate_lane_count(image.pixels, image.ceiling))
    # the image whose lanes span most holds them all (a total stain, a loading
    # control); phospho blots with faint lanes undercount
    n_lanes = max(counts)
    lanes = placeholder_lanes(n_lanes)
    guess = guess_naming([f.name for f in files])
    if guess is None:
        entries, described = _one_membrane(files, lanes)
    else:
        entries, described = _one_batch(files, lanes, guess)
    config = {"experiment": f"{folder.name} (edit me)", **entries}
    return StartingConfig(config, f"{described}; {n_lanes} lanes.", n_lanes, len(counts))


def _one_batch(
    files: list[Path], lanes: list[dict[str, str]], guess: NamingGuess
) -> tuple[dict[str, Any], str]:
    """Config entries for one batch of files named as ``guess`` says, and what was found."""
    names = {token: antibody_name(token) for token in guess.antibodies}
    pairs = pairs_from(list(names.values()))
    batch: dict[str, Any] = {
        "files": f"*{Path(files[0].name).suffix}",
        "pattern": guess.pattern,
        "lanes": lanes,
    }
    aliases = {k: v for k, v in names.items() if k != v}
    if aliases:
        batch["antibody_aliases"] = aliases
    entries = {
        "pairs": pairs or [{"phospho": "EDIT", "total": "EDIT"}],
        "control": {"treatment": "DMSO"},
        "summary_by": ["treatment"],
        "batches": [batch],
    }
    return entries, (
        f"{len(files)} files as pattern {guess.pattern!r}: {len(guess.membranes)} "
        f"membrane(s), antibodies {', '.join(sorted(names.values()))}"
    )


def _one_membrane(files: list[Path], lanes: list[dict[str, str]]) -> tuple[dict[str, Any], str]:
    """Config entries for one membrane holding every file as its own antibody.

    Each antibody is named by what its file name does not share with the
    others (WB0-pAKT.png and WB0-AKT.png: p-AKT and AKT).
    """
    stems = [f.stem for f in files]
    shared, parts = _distinct_parts(stems)
    antibodies = [antibody_name(token) for token in parts]
    if len(set(antibodies)) != len(antibodies):
        antibodies = stems
    # the part every name starts with (WB1 of WB1_pAKT, WB1_AKT) names the membrane
    name = shared if re.fullmatch(r"[A-Za-z0-9][\w.-]*", shared) else "membrane1"
    entries = {
        "pairs": pairs_from(antibodies) or [{"phospho": "EDIT", "total": "EDIT"}],
        "control": {"treatment": "DMSO"},
        "summary_by": ["treatment"],
        "membranes": [
            {
                "name": name,
                "lanes": lanes,
                "images": [
                    {"file": f.name, "antibody": a} for f, a in zip(files, antibodies, strict=True)
                ],
            }
        ],
    }
    return entries, (
        f"{len(files)} files of one membrane, one antibody each: {', '.join(antibodies)}"
    )


def _distinct_parts(stems: list[str]) -> tuple[str, list[str]]:
    """Cut the parts every name shares at its start and its end (whole tokens).

    Returns the shared start (separators stripped) and what is left of each name.
    """
    if len(stems) < 2:
        return "", stems
    pieces = [_SPLIT.split(s) for s in stems]
    first = 0
    while all(len(p) > first + 1 for p in pieces) and len({p[first] for p in pieces}) == 1:
        first += 1
    last = 0
    while (
        all(len(p) > first + last + 1 for p in pieces) and len({p[-1 - last] for p in pieces}) == 1
    ):
        last += 1
    # keep whole tokens: a cut always falls on a separator
    first -= first % 2
    last -= last % 2
    parts = ["".join(p[first : len(p) - last]) for p in pieces]
    shared = "".join(pieces[0][:first]).rstrip("_-. ")
    return (shared, parts) if all(parts) else (shared, stems)
