"""Looking at one image before writing a config: ``blotquant inspect`` and ``init``.

Lane count, polarity, lanes and bands of a single image, and a guess at the
file-name pattern of a folder of exports.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from blotquant.lanes import band_residual, column_profile, lane_pitch, rows_with_bands
from blotquant.polarity import detect_polarity, to_signal
from blotquant.profiles import lower_baseline

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def estimate_lane_count(pixels: np.ndarray, ceiling: float | None) -> int:
    """Guess how many lanes an image holds (ladder and empty lanes between bands included).

    The lane spacing comes from the autocorrelation of the column profile of
    the band rows; the count is the span from the first to the last lane with
    signal, in spacings, plus one.
    """
    signal = to_signal(pixels, detect_polarity(pixels), ceiling)
    residual = band_residual(signal)
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
    return max(1, int(round((span - 0.7 * pitch) / pitch)) + 1)


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
    varying = [k for k, col in enumerate(columns) if len(set(col)) > 1]
    if len(varying) < 2:
        return None

    def letters(k: int) -> float:
        text = "".join(columns[k])
        return sum(c.isalpha() for c in text) / max(len(text), 1)

    # ties: antibody names are words (pAKT), membrane labels often numbers (7)
    antibody = min(varying, key=lambda k: (len(set(columns[k])), -letters(k), -k))
    membrane = max((k for k in varying if k != antibody), key=lambda k: (len(set(columns[k])), k))
    parts = []
    others = 0
    for k in range(n_tokens):
        if k == antibody:
            parts.append("{antibody}")
        elif k == membrane:
            parts.append("{membrane}")
        elif k in varying:
            others += 1
            parts.append(f"{{part{others}}}")
        else:
            parts.append(re.sub(r"[{}]", lambda m: m.group(0) * 2, columns[k][0]))
        if k < len(seps):
            parts.append(seps[k])
    return NamingGuess(
        "".join(parts) + suffixes.pop(),
        sorted(set(columns[membrane])),
        sorted(set(columns[antibody])),
    )


def antibody_name(token: str) -> str:
    """A file-name spelling to the usual antibody name: pAKT -> p-AKT, pIGF1R -> p-IGF-1R."""
    name = token
    phospho = len(name) > 1 and name[0] == "p" and (name[1].isupper() or name[1] == "-")
    if phospho:
        name = name[1:].lstrip("-")
    name = re.sub(r"^IGF1R$", "IGF-1R", name, flags=re.IGNORECASE)
    return ("p-" if phospho else "") + name


def pairs_from(antibodies: list[str]) -> list[dict[str, str]]:
    """Phospho/total pairs among antibody names (p-X with X)."""
    names = set(antibodies)
    return [
        {"phospho": a, "total": a[2:]}
        for a in sorted(names)
        if a.startswith("p-") and a[2:] in names
    ]


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def most_common(values: list[int]) -> int:
    return Counter(values).most_common(1)[0][0]
