"""How config problems are told: the problem, the error, and the words they share.

Everything here is about wording. A :class:`Problem` is one line of a
:class:`ConfigError`; the tables say what to write when a key is missing,
misplaced or mistyped.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blotquant.errors import BlotquantError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem in a config.

    Attributes
    ----------
    loc : tuple
        Key path as a tuple, e.g. ``("membranes", 1, "images", 0, "band_rows")``.
    message : str
        What is wrong and what to do.
    line : int or None
        Line in the YAML file (from 1), None if unknown.
    """

    loc: Loc
    message: str
    line: int | None = None

    @property
    def key(self) -> str:
        """The key path as written in messages, e.g. ``membranes[1].images[0].band_rows``."""
        return keypath(self.loc)


class ConfigError(BlotquantError):
    """Every problem found in one config, in one error.

    The message's first line says how many problems there are; each problem
    follows on its own line. :attr:`problems` holds them as :class:`Problem`.
    """

    def __init__(self, config_path: Path, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        self.config_path = config_path
        count = len(self.problems)
        lines = [f"Config {config_path} has {count} problem{'s' if count != 1 else ''}:"]
        for p in self.problems:
            where = config_path.name
            if p.line is not None:
                where += f", line {p.line}"
            if p.loc:
                where += f", {p.key}"
            lines.append(f"  - {where}: {p.message}")
        super().__init__(
            "\n".join(lines),
            file=str(config_path),
            key=self.problems[0].key if count == 1 and self.problems[0].loc else None,
        )


def keypath(loc: Iterable[str | int]) -> str:
    """Write a key path tuple as ``membranes[1].images[0].band_rows``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(value: Any) -> str:
    """Describe a value in plain words, e.g. "the text 'abc'" or "a list of 5 items"."""
    if value is None:
        return "nothing (no value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (YAML reads yes/no/on/off/true/false as true or false)"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f"the text {text!r}"
    if isinstance(value, list | tuple):
        if len(repr(value)) <= 40:
            return f"the list {list(value)!r}"
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:4])
        return f"a mapping (with keys {keys})" if value else "an empty mapping {}"
    return f"a value of type {type(value).__name__}"


def _norm(word: str) -> str:
    return word.strip().lower().replace("-", "_").replace(" ", "_")


def closest(word: Any, options: Iterable[Any]) -> str | None:
    """Return the option that ``word`` most likely misspells, or None."""
    if not isinstance(word, str):
        return None
    by_norm: dict[str, str] = {}
    for option in options:
        if isinstance(option, str):
            by_norm.setdefault(_norm(option), option)
    key = _norm(word)
    if not key:
        return None
    if key in by_norm:
        return by_norm[key]
    match = difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.6)
    if match:
        return by_norm[match[0]]
    starts = [o for n, o in by_norm.items() if len(key) >= 3 and n.startswith(key)]
    return starts[0] if len(starts) == 1 else None


def did_you_mean(word: Any, options: Iterable[Any]) -> str:
    """Return `` Did you mean `x`?`` for a likely misspelling, or an empty text."""
    guess = closest(word, options)
    return f" Did you mean `{guess}`?" if guess is not None and guess != word else ""


# --- what to write -----------------------------------------------------------------------

EMPTY = (
    "the config is empty. Start from the example: experiment, pairs, control, and membranes "
    "(each with lanes and images) or batches."
)

#: Each kind of mapping, as messages name it.
KIND_NAMES = {
    "top": "the top level of the config",
    "analysis": "`analysis`",
    "membrane": "a membrane (an entry of `membranes`)",
    "image": "an image (an entry of a membrane's `images`)",
    "region": "a region (an entry of an image's `regions`)",
    "exposure": "an exposure (an entry of an image's `exposures`)",
    "batch": "a batch (an entry of `batches`)",
    "pair": "a pair (an entry of `pairs`)",
    "lane": "a lane",
}

#: A key written out, for messages about a missing or mistyped key.
EXAMPLES = {
    "pairs": "pairs: [{phospho: p-AKT, total: AKT}]",
    "lanes": "lanes: [{treatment: DMSO}, {treatment: linsitinib}, {role: ladder}]",
    "images": "images: [{file: rep1_AKT.tif, antibody: AKT}]",
    "regions": "regions: [{antibody: p-AKT, rows: [0, 300]}, {antibody: AKT, rows: [300, 600]}]",
    "membranes": "membranes: [{name: rep1, lanes: [...], images: [...]}]",
    "batches": 'batches: [{files: exports/*.tif, pattern: "{membrane}_{antibody}.tif", '
    "lanes: [...]}]",
    "control": "control: {treatment: DMSO}",
    "antibody_aliases": "antibody_aliases: {pAKT: p-AKT}",
    "analysis": "analysis: {polarity: auto, background: profile-baseline}",
}

#: One entry of a list, written out.
ITEM_EXAMPLES = {
    "pairs": "{phospho: p-AKT, total: AKT} or {target: AXL, loading: GAPDH}",
    "lanes": "{treatment: DMSO, cell_line: parental}",
    "images": "{file: rep1_AKT.tif, antibody: AKT}",
    "regions": "{antibody: AKT, rows: [300, 600]}",
    "exposures": "{file: rep1_pAKT_30s.tif, seconds: 30}",
    "membranes": "{name: rep1, lanes: [...], images: [...]}",
    "batches": '{files: exports/*.tif, pattern: "{membrane}_{antibody}.tif", lanes: [...]}',
}

#: What to write when a required key is missing.
MISSING = {
    "pairs": "`pairs` is missing: list the ratios to report, phospho over total, e.g. "
    + EXAMPLES["pairs"]
    + ".",
    "file": "`file` is missing: name the image file (relative to the config's folder).",
    "antibody": "`antibody` is missing: say which antibody this region shows.",
    "rows": "`rows` is missing: give the region's image rows as [top, bottom], e.g. [0, 300].",
    "name": "`name` is missing: give the membrane a name, e.g. name: rep1.",
    "lanes": "`lanes` is missing: list every lane on the membrane, left to right, e.g. "
    + EXAMPLES["lanes"]
    + ".",
    "images": "`images` is missing: list the membrane's images, e.g. " + EXAMPLES["images"] + ".",
    "files": "`files` is missing: give a glob of the exported files, e.g. files: exports/*.tif.",
    "pattern": "`pattern` is missing: say how the file names read, e.g. "
    'pattern: "{membrane}_{antibody}.tif".',
    "phospho": "`phospho` is missing: name the phospho antibody of this pair, e.g. p-AKT.",
    "total": "`total` is missing: name the total antibody of this pair, e.g. AKT.",
}

#: Keys people put on the wrong kind of mapping, by (kind, key): where they belong.
MISPLACED = {
    ("batch", "antibody"): "a batch reads each file's antibody from the file name through "
    "`pattern` ({antibody}); to rename one, use antibody_aliases: {pAKT: p-AKT}.",
    ("batch", "membrane"): "a batch reads each file's membrane from the file name through "
    "`pattern` ({membrane}).",
    ("batch", "name"): "a batch reads each file's membrane from the file name through "
    "`pattern` ({membrane}).",
    ("batch", "images"): "a batch finds its images with `files` (a glob) and `pattern`.",
}
