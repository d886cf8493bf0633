"""Read and check the YAML config: a file in, an :class:`~blotquant.models.Experiment` out.

The contract is ``config-and-outputs.md`` in the project's spec (a working
example is ``configs/demo.yaml``). Two entry points:

* :func:`load_config` reads a YAML file (what ``blotquant run`` does);
* :func:`parse_config` takes the same content as Python dicts and lists
  (tests, notebooks).

Every problem in a config is collected and reported at once, in one
:class:`ConfigError` (a :class:`~blotquant.errors.BlotquantError`) whose
message has one line per problem, each naming the file, the line (for YAML
files), the key path (e.g. ``membranes[1].images[0].band_rows``) and what to
do. Checks that need the image itself (``band_rows`` beyond the image's height,
a channel the image does not have, a missing image file) are not done here:
they happen when the image is read, so that the other images still run.

How the config is read:

* Paths are relative to the config file's folder; ``~`` is the home folder.
* Analysis settings are merged in this order: the built-in defaults, the
  config's ``analysis``, the image (or batch), the region.
* A key written with no value (``lane_width:``) counts as not written: the
  default or the inherited value applies.
* ``batches``: ``files`` is a glob; ``pattern`` is matched against the file
  name, or, if it contains ``/``, against the end of the path relative to the
  config folder. Fields are written ``{name}``; ``{membrane}`` and
  ``{antibody}`` are required, other fields are read and ignored, a field
  used twice must match the same text both times, and a field never matches
  a ``/``. Every file the glob finds must match the pattern.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import glob
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints
from pydantic import ValidationError as _PydanticError
from pydantic_core import PydanticCustomError

from blotquant.errors import BlotquantError
from blotquant.models import (
    BACKGROUND_METHODS,
    AnalysisSettings,
    Experiment,
    Lane,
    Measurement,
    Membrane,
    Pair,
)
from blotquant.tables import RESERVED_LANE_KEYS, same_value

__all__ = ["ConfigError", "Problem", "load_config", "parse_config"]

POLARITIES = ("auto", "dark-bands", "light-bands")
LANE_ROLES = ("sample", "ladder", "empty")
#: Output folder, beside the config, when neither ``--out`` nor ``output`` is given.
DEFAULT_OUTPUT = "blotquant-results"
#: The control lanes when the config has no ``control``.
DEFAULT_CONTROL: dict[str, Any] = {"treatment": "DMSO"}
DEFAULT_SUMMARY_BY = ("treatment",)
#: Keys of an image that a region (or every file of a batch) may also set.
IMAGE_KEYS = ("channel", "band_rows", "lane_centers", "ladder", "band_kda", "band_kda_tolerance")
ANALYSIS_KEYS = tuple(AnalysisSettings.__dataclass_fields__)

# Guards against YAML anchors that refer to themselves or expand enormously.
_MAX_DEPTH = 32
_MAX_NODES = 200_000
# At most this many unmatched files of one batch are listed one by one.
_MAX_LISTED = 5


# --- problems and the error ------------------------------------------------------------


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

    loc: tuple[str | int, ...]
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


def _show(value: Any) -> str:
    """A value described in plain words for messages."""
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


def _closest(word: Any, options: Iterable[Any]) -> str | None:
    """The option that ``word`` most likely misspells, or None."""
    if not isinstance(word, str):
        return None

    def norm(s: str) -> str:
        return s.strip().lower().replace("-", "_").replace(" ", "_")

    by_norm: dict[str, str] = {}
    for option in options:
        if isinstance(option, str):
            by_norm.setdefault(norm(option), option)
    key = norm(word)
    if not key:
        return None
    if key in by_norm:
        return by_norm[key]
    match = difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.6)
    if match:
        return by_norm[match[0]]
    starts = [o for n, o in by_norm.items() if len(key) >= 3 and n.startswith(key)]
    return starts[0] if len(starts) == 1 else None


def _did_you_mean(word: Any, options: Iterable[Any]) -> str:
    guess = _closest(word, options)
    return f" Did you mean `{guess}`?" if guess is not None and guess != word else ""


# --- field types -------------------------------------------------------------------------


def _fail(message: str) -> PydanticCustomError:
    # the message goes through the context so braces in it are never formatted
    return PydanticCustomError("blotquant", "{message}", {"message": message})


def _as_whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _choice(options: Sequence[str]) -> PlainValidator:
    def check(value: Any) -> str:
        if isinstance(value, str) and value.strip() in options:
            return value.strip()
        raise _fail(
            f"must be one of {', '.join(options)}; got {_show(value)}."
            f"{_did_you_mean(value, options)}"
        )

    return PlainValidator(check)


def _channel(value: Any) -> int:
    number = _as_whole(value)
    if number is None:
        raise _fail(
            "expected a channel (or page) index, a whole number, 0 for the first; got "
            f"{_show(value)}."
        )
    if number < 0:
        raise _fail(f"must be 0 or more (0 is the first channel or page); got {number}.")
    return number


def _radius(value: Any) -> float:
    number = _as_number(value)
    if number is None or number <= 0:
        raise _fail(f"expected a radius in pixels, a number above 0 (e.g. 50); got {_show(value)}.")
    return number


def _lane_width(value: Any) -> float | str:
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    number = _as_number(value)
    if number is None or number <= 0:
        raise _fail(f"expected `auto` or a width in pixels above 0 (e.g. 40); got {_show(value)}.")
    return number


def _saturation(value: Any) -> float | str:
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    number = _as_number(value)
    if number is None or number < 0:
        raise _fail(
            "expected `auto` (the image type's limit: 255, 65535, or 0 for dark bands) or the "
            f"pixel value at which the detector saturates (e.g. 65000); got {_show(value)}."
        )
    return number


def _margin(value: Any) -> int | str:
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    number = _as_whole(value)
    if number is None or number < 1:
        raise _fail(
            "expected `auto` (from the band's width) or a number of rows, a whole number of 1 "
            f"or more (e.g. 3); got {_show(value)}."
        )
    return number


def _rows(value: Any) -> tuple[int, int]:
    example = "e.g. [410, 470]"
    if not isinstance(value, list | tuple):
        raise _fail(f"expected two image rows [top, bottom] ({example}); got {_show(value)}.")
    if len(value) != 2:
        raise _fail(
            f"expected exactly two image rows [top, bottom] ({example}); got {len(value)} "
            f"values: {_show(value)}."
        )
    top, bottom = (_as_whole(v) for v in value)
    if top is None or bottom is None:
        raise _fail(f"expected two whole numbers [top, bottom] ({example}); got {_show(value)}.")
    if top < 0 or bottom < 0:
        raise _fail(
            f"rows cannot be negative (got [{top}, {bottom}]); row 0 is the top of the image."
        )
    if top >= bottom:
        hint = f"write [{bottom}, {top}]" if top > bottom else "the window needs some height"
        raise _fail(
            f"[{top}, {bottom}] is upside down or empty: rows count down from the top of the "
            f"image, so the top row must be smaller than the bottom row; {hint}."
        )
    return top, bottom


def _ladder(value: Any) -> dict[str, Any]:
    example = "e.g. {lane: 1, kda: [250, 150, 100, 75, 50, 37]}"
    if not isinstance(value, dict) or set(value) != {"lane", "kda"}:
        raise _fail(
            f"expected the ladder's lane and its marks in kDa ({example}); got {_show(value)}."
        )
    lane = _as_whole(value["lane"])
    sizes = value["kda"]
    if lane is None or lane < 1:
        raise _fail(f"`lane` must be the ladder's lane number, 1 or more ({example}).")
    numbers = [_as_number(v) for v in sizes] if isinstance(sizes, list | tuple) else [None]
    if len(numbers) < 2 or any(n is None or n <= 0 for n in numbers):
        raise _fail(f"`kda` must list at least two mark sizes in kDa ({example}).")
    if any(a <= b for a, b in zip(numbers, numbers[1:], strict=False)):
        raise _fail("`kda` must run from the largest mark (top of the membrane) to the smallest.")
    return {"lane": lane, "kda": [float(n) for n in numbers]}


def _positive(value: Any) -> float:
    number = _as_number(value)
    if number is None or number <= 0:
        raise _fail(f"expected a positive number; got {_show(value)}.")
    return number


def _fraction(value: Any) -> float:
    number = _as_number(value)
    if number is None or not 0 < number < 1:
        raise _fail(f"expected a fraction between 0 and 1 (e.g. 0.15); got {_show(value)}.")
    return number


def _centers(value: Any) -> tuple[float, ...]:
    example = "one centre per lane in image columns, left to right, e.g. [40, 95, 150]"
    if not isinstance(value, list | tuple) or not value:
        raise _fail(f"expected a list of lane centres ({example}); got {_show(value)}.")
    numbers = [_as_number(v) for v in value]
    bad = [v for v, n in zip(value, numbers, strict=True) if n is None]
    if bad:
        raise _fail(f"expected numbers ({example}); got {_show(bad[0])} in the list.")
    if any(n < 0 for n in numbers):  # type: ignore[operator]
        raise _fail("lane centres cannot be negative; column 0 is the left edge of the image.")
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):  # type: ignore[operator]
        raise _fail(
            f"lane centres must increase from left to right (lane 1 first); got {list(value)}."
        )
    return tuple(float(n) for n in numbers)  # type: ignore[arg-type]


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise _fail("is empty; write the value (text or a number).")
        return value.strip()
    if isinstance(value, bool | int | float):
        return value
    raise _fail(f"expected a single value (text or a number); got {_show(value)}.")


def _meta_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.strip()
    raise _fail(
        f"expected a single value (text or a number) for this lane key; got {_show(value)}."
    )


def _key_list(value: Any) -> list[str]:
    if isinstance(value, str):  # `summary_by: treatment` means [treatment]
        value = [value]
    if not isinstance(value, list | tuple):
        raise _fail(f"expected a list of lane keys (e.g. [cell_line]); got {_show(value)}.")
    keys: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _fail(
                f"expected lane keys (names such as cell_line); got {_show(item)} in the list."
            )
        keys.append(item.strip())
    return keys


def _path_text(value: Any) -> str:
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _fail(f"expected a file or folder path (text); got {_show(value)}.")
    value = value.strip()
    if not value:
        raise _fail("is empty; write a path, relative to the config's folder.")
    if "\x00" in value:
        raise _fail("contains a NUL character, which no file name can hold.")
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
PathText = Annotated[str, PlainValidator(_path_text)]
Polarity = Annotated[str, _choice(POLARITIES)]
Background = Annotated[str, _choice(BACKGROUND_METHODS)]
Role = Annotated[str, _choice(LANE_ROLES)]
Channel = Annotated[int, PlainValidator(_channel)]
Radius = Annotated[float, PlainValidator(_radius)]
LaneWidth = Annotated[float | str, PlainValidator(_lane_width)]
Saturation = Annotated[float | str, PlainValidator(_saturation)]
Margin = Annotated[int | str, PlainValidator(_margin)]
Rows = Annotated[tuple[int, int], PlainValidator(_rows)]
Centers = Annotated[tuple[float, ...], PlainValidator(_centers)]
Scalar = Annotated[Any, PlainValidator(_scalar)]
MetaValue = Annotated[Any, PlainValidator(_meta_value)]
KeyList = Annotated[list[str], PlainValidator(_key_list)]
Items = Annotated[list[Any], Field(min_length=1)]


# --- the config's shape --------------------------------------------------------------------
# Each kind of mapping is checked on its own (nested lists are typed list[Any] and
# their entries validated one by one), so one bad entry does not hide problems in
# the others. Every field is optional to pydantic; `required` is checked by us so
# the rest of an entry is still usable when a required key is missing.


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)
    required: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = ""


class AnalysisModel(_Model):
    """``analysis``: defaults for every image."""

    kind: ClassVar[str] = "analysis"
    polarity: Polarity | None = None
    background: Background | None = None
    rolling_ball_radius: Radius | None = None
    lane_width: LaneWidth | None = None
    saturation_level: Saturation | None = None
    background_margin: Margin | None = None


class _ImageKeysModel(AnalysisModel):
    channel: Channel | None = None
    band_rows: Rows | None = None
    lane_centers: Centers | None = None
    ladder: Annotated[dict[str, Any], PlainValidator(_ladder)] | None = None
    band_kda: Annotated[float, PlainValidator(_positive)] | None = None
    band_kda_tolerance: Annotated[float, PlainValidator(_fraction)] | None = None


class RegionModel(_ImageKeysModel):
    """An entry of an image's ``regions``: one strip of the image."""

    kind: ClassVar[str] = "region"
    required: ClassVar[tuple[str, ...]] = ("antibody", "rows")
    antibody: Text | None = None
    rows: Rows | None = None


class ImageModel(_ImageKeysModel):
    """An entry of a membrane's ``images``."""

    kind: ClassVar[str] = "image"
    required: ClassVar[tuple[str, ...]] = ("file",)
    file: PathText | None = None
    antibody: Text | None = None
    regions: Items | None = None


class BatchModel(_ImageKeysModel):
    """An entry of ``batches``: many exported files read by name."""

    kind: ClassVar[str] = "batch"
    required: ClassVar[tuple[str, ...]] = ("files", "pattern", "lanes")
    files: PathText | None = None
    pattern: Text | None = None
    antibody_aliases: dict[Text, Text] | None = None
    lanes: Items | None = None
    #: strips of every file, each with its antibody (the pattern then needs no {antibody})
    regions: Items | None = None


class MembraneModel(_Model):
    """An entry of ``membranes``."""

    kind: ClassVar[str] = "membrane"
    required: ClassVar[tuple[str, ...]] = ("name", "lanes", "images")
    name: Text | None = None
    lanes: Items | None = None
    images: Items | None = None


class LaneModel(_Model):
    """An entry of ``lanes``: ``role`` and any metadata keys."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
    kind: ClassVar[str] = "lane"
    __pydantic_extra__: dict[str, MetaValue]
    role: Role | None = None


class PairModel(_Model):
    """An entry of ``pairs``."""

    kind: ClassVar[str] = "pair"
    required: ClassVar[tuple[str, ...]] = ("phospho", "total")
    phospho: Text | None = None
    total: Text | None = None


class TopModel(_Model):
    """The top level of a config."""

    kind: ClassVar[str] = "top"
    experiment: str | None = None
    output: PathText | None = None
    analysis: Any = None
    pairs: list[Any] | None = None
    control: Annotated[dict[Text, Scalar], Field(min_length=1)] | None = None
    normalize_within: KeyList | None = None
    summary_by: KeyList | None = None
    dose_key: Text | None = None
    membranes: list[Any] | None = None
    batches: list[Any] | None = None


_KINDS: dict[str, type[_Model]] = {
    m.kind: m
    for m in (
        TopModel,
        AnalysisModel,
        MembraneModel,
        ImageModel,
        RegionModel,
        BatchModel,
        PairModel,
    )
}
_KIND_NAMES = {
    "top": "the top level of the config",
    "analysis": "`analysis`",
    "membrane": "a membrane (an entry of `membranes`)",
    "image": "an image (an entry of a membrane's `images`)",
    "region": "a region (an entry of an image's `regions`)",
    "batch": "a batch (an entry of `batches`)",
    "pair": "a pair (an entry of `pairs`)",
    "lane": "a lane",
}
_OVERRIDE_KEYS = (*IMAGE_KEYS, *ANALYSIS_KEYS)

# what to write, for messages about missing or mistyped keys
_EXAMPLES = {
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
_ITEM_EXAMPLES = {
    "pairs": "{phospho: p-AKT, total: AKT}",
    "lanes": "{treatment: DMSO, cell_line: parental}",
    "images": "{file: rep1_AKT.tif, antibody: AKT}",
    "regions": "{antibody: AKT, rows: [300, 600]}",
    "membranes": "{name: rep1, lanes: [...], images: [...]}",
    "batches": '{files: exports/*.tif, pattern: "{membrane}_{antibody}.tif", lanes: [...]}',
}
_MISSING = {
    "pairs": "`pairs` is missing: list the ratios to report, phospho over total, e.g. "
    + _EXAMPLES["pairs"]
    + ".",
    "file": "`file` is missing: name the image file (relative to the config's folder).",
    "antibody": "`antibody` is missing: say which antibody this region shows.",
    "rows": "`rows` is missing: give the region's image rows as [top, bottom], e.g. [0, 300].",
    "name": "`name` is missing: give the membrane a name, e.g. name: rep1.",
    "lanes": "`lanes` is missing: list every lane on the membrane, left to right, e.g. "
    + _EXAMPLES["lanes"]
    + ".",
    "images": "`images` is missing: list the membrane's images, e.g. " + _EXAMPLES["images"] + ".",
    "files": "`files` is missing: give a glob of the exported files, e.g. files: exports/*.tif.",
    "pattern": "`pattern` is missing: say how the file names read, e.g. "
    'pattern: "{membrane}_{antibody}.tif".',
    "phospho": "`phospho` is missing: name the phospho antibody of this pair, e.g. p-AKT.",
    "total": "`total` is missing: name the total antibody of this pair, e.g. AKT.",
}


_MISPLACED = {
    ("batch", "antibody"): "a batch reads each file's antibody from the file name through "
    "`pattern` ({antibody}); to rename one, use antibody_aliases: {pAKT: p-AKT}.",
    ("batch", "membrane"): "a batch reads each file's membrane from the file name through "
    "`pattern` ({membrane}).",
    ("batch", "name"): "a batch reads each file's membrane from the file name through "
    "`pattern` ({membrane}).",
    ("batch", "images"): "a batch finds its images with `files` (a glob) and `pattern`.",
}


def _unknown_key(key: str, kind: str) -> str:
    """Message for a key that ``kind`` does not have, with a likely fix."""
    if (kind, key) in _MISPLACED:
        return f"`{key}` is not a key of {_KIND_NAMES[kind]}: {_MISPLACED[kind, key]}"
    allowed = list(_KINDS[kind].model_fields)
    guess = _closest(key, allowed)
    if guess is not None:
        return f"unknown key `{key}`; did you mean `{guess}`?"
    if key in ANALYSIS_KEYS:
        return (
            f"`{key}` is an analysis setting: put it under `analysis:` (for every image) or on "
            "an image, a region or a batch."
        )
    homes = [_KIND_NAMES[k] for k, m in _KINDS.items() if k != kind and key in m.model_fields]
    if homes:
        return (
            f"`{key}` is not a key of {_KIND_NAMES[kind]}; it belongs on "
            f"{' or '.join(homes)}. Move it there."
        )
    return (
        f"unknown key `{key}` in {_KIND_NAMES[kind]}; the keys allowed here are "
        f"{', '.join(allowed)}. Fix its spelling or remove it."
    )


def _translate(error: Mapping[str, Any], kind: str) -> str:
    """A pydantic error in plain words."""
    kind_type = error["type"]
    loc = error["loc"]
    names = [p for p in loc if isinstance(p, str)]
    name = names[-1] if names else ""
    value = error.get("input")
    if kind_type == "blotquant":
        return str(error["ctx"]["message"])
    if kind_type == "missing":
        return _MISSING.get(name, f"`{name}` is missing.")
    if kind_type == "extra_forbidden":
        return _unknown_key(str(loc[-1]), kind)
    example = f" Write it like {_EXAMPLES[name]}." if name in _EXAMPLES else ""
    if value is None:
        return f"has no value.{example or ' Write a value or remove the key.'}"
    if kind_type == "string_type":
        return f"expected text; got {_show(value)}."
    if kind_type == "string_too_short":
        return "is empty; write a value or remove the key."
    if kind_type == "list_type":
        return f"expected a list; got {_show(value)}.{example}"
    if kind_type == "too_short":
        return f"is empty; list at least one entry.{example}"
    if kind_type in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (`key: value` entries); got {_show(value)}.{example}"
    return f"{error.get('msg', 'is not valid')} (got {_show(value)})."


# --- YAML ---------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay text (`date: 2024-05-01` is a label, not a date)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_YAML_HINTS = (
    ("'\\t'", "YAML does not allow tabs: indent with spaces"),
    (
        "mapping values are not allowed",
        "check the indentation of this line, and put text that contains ': ' in quotes",
    ),
    ("could not find expected ':'", "check the indentation of this line and the line before"),
    ("expected <block end>", "check the indentation: items of one list or mapping must line up"),
    ("unhashable", "a key cannot be a list or a mapping"),
    (
        "expected a single document",
        "the file holds several YAML documents (separated by ---); keep one",
    ),
    ("quoted scalar", "a quotation mark is not closed"),
    ("flow sequence", "a [ ... ] list is not closed, or two items lack a comma between them"),
    ("flow mapping", "a { ... } mapping is not closed, or two entries lack a comma between them"),
    ("invalid literal", "a value tagged !!int or !!float is not a number"),
    ("found undefined alias", "a *name refers to an &name anchor that is not defined above it"),
    ("could not determine a constructor", "remove the !tag: blotquant reads plain YAML only"),
)


def _yaml_problem(exc: BaseException) -> Problem:
    """A YAML syntax error as a problem with its line."""
    if isinstance(exc, RecursionError):
        return Problem((), "is nested too deeply to be a blotquant config; check the brackets.")
    line = None
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line = mark.line + 1
    text = str(getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]).strip()
    context = getattr(exc, "context", None)
    start = getattr(exc, "context_mark", None)
    if context:
        text += f" ({context.strip()}"
        if start is not None and mark is not None and start.line != mark.line:
            text += f" that starts on line {start.line + 1}"
        text += ")"
    hint = next((h for needle, h in _YAML_HINTS if needle in str(exc)), "check the syntax here")
    where = f" at column {mark.column + 1}" if mark is not None else ""
    return Problem((), f"not valid YAML{where}: {text}. Fix: {hint}.", line)


def _node_lines(root: yaml.Node) -> tuple[dict[tuple[str | int, ...], int], list[Problem]]:
    """Line of every key path, and keys written twice in one mapping."""
    lines: dict[tuple[str | int, ...], int] = {}
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[tuple[str | int, ...], yaml.Node]] = [((), root)]
    while stack:
        loc, node = stack.pop()
        if id(node) in seen or len(loc) > _MAX_DEPTH:  # anchors are visited once
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in first:
                    problems.append(
                        Problem(
                            (*loc, key),
                            f"`{key}` is written twice in the same mapping (lines {first[key]} and "
                            f"{line}); YAML would keep only the last. Remove one.",
                            line,
                        )
                    )
                first[key] = line
                lines[(*loc, key)] = line
                stack.append(((*loc, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                stack.append(((*loc, i), item))
    return lines, problems


def _read_yaml(text: str) -> tuple[Any, dict[tuple[str | int, ...], int], list[Problem]]:
    """Parse YAML text; returns the data, the line of each key path, and problems."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        root = yaml.compose(text, Loader=_Loader)
    except Exception as exc:  # noqa: BLE001 - any parser failure is the user's YAML
        return None, {}, [_yaml_problem(exc)]
    except RecursionError as exc:  # pragma: no cover - RecursionError is an Exception
        return None, {}, [_yaml_problem(exc)]
    if root is None:
        return data, {}, []
    lines, problems = _node_lines(root)
    return data, lines, problems


# --- public API --------------------------------------------------------------------------


def load_config(path: str | Path, *, output: str | Path | None = None) -> Experiment:
    """Read a YAML config file and check it.

    Parameters
    ----------
    path : str or Path
        The config file. Paths inside it are relative to its folder.
    output : str or Path, optional
        Output folder (``--out``); overrides the config's ``output``.

    Returns
    -------
    Experiment
        One :class:`~blotquant.models.Measurement` per image or region.

    Raises
    ------
    ConfigError
        A :class:`~blotquant.errors.BlotquantError` listing every problem
        in the file, one per line, each with its line and key path.
    """
    try:
        config_path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    except (TypeError, ValueError) as exc:
        raise BlotquantError(f"Config path {path!r} is not a valid file name ({exc}).") from None

    def fail(message: str) -> ConfigError:
        return ConfigError(config_path, [Problem((), message)])

    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        hint = ""
        for suffix in (".yaml", ".yml"):
            candidate = config_path.with_name(config_path.name + suffix)
            if candidate.is_file():
                hint = f" Did you mean {candidate.name}?"
                break
        raise fail(
            f"the config file does not exist: {config_path}.{hint} Check the path (relative "
            f"paths start from the current folder, {Path.cwd()})."
        ) from None
    except IsADirectoryError:
        inside = sorted(p.name for p in config_path.glob("*.y*ml"))[:5]
        listing = f" It holds: {', '.join(inside)}." if inside else ""
        raise fail(
            f"{config_path} is a folder; give the YAML config file inside it.{listing}"
        ) from None
    except (OSError, ValueError) as exc:
        raise fail(f"the config file cannot be read ({exc}).") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(
            "is not a plain text (UTF-8) file. Is it an image or a word-processor document? "
            "Save the config as plain text in UTF-8."
        ) from None
    if not text.strip():
        raise fail(_EMPTY)
    data, lines, problems = _read_yaml(text)
    if problems and data is None and not lines:
        raise ConfigError(config_path, problems)
    return _parse(data, config_path, output, lines, problems)


def parse_config(data: object, *, config_path: Path, output: Path | None = None) -> Experiment:
    """Check a config given as Python data (what YAML would give) and expand it.

    Parameters
    ----------
    data : object
        The config as dicts, lists and scalars.
    config_path : Path
        Where the config (notionally) is; relative paths start from its folder
        and messages name it. The file need not exist.
    output : Path, optional
        Output folder; overrides the config's ``output``.

    Returns
    -------
    Experiment

    Raises
    ------
    ConfigError
        Every problem in the config, in one error.
    """
    try:
        path = Path(os.path.abspath(os.path.expanduser(os.fspath(config_path))))
    except (TypeError, ValueError) as exc:
        raise BlotquantError(f"config_path {config_path!r} is not a valid path ({exc}).") from None
    return _parse(data, path, output, {}, [])


_EMPTY = (
    "the config is empty. Start from the example: experiment, pairs, control, and membranes "
    "(each with lanes and images) or batches."
)


class _TooBig(Exception):
    pass


def _plain(value: Any, depth: int = 0, count: list[int] | None = None) -> Any:
    """A copy of the data with dates and paths as text and tuples as lists."""
    count = [0] if count is None else count
    count[0] += 1
    if depth > _MAX_DEPTH or count[0] > _MAX_NODES:
        raise _TooBig
    if isinstance(value, Mapping):
        return {_plain_key(k): _plain(v, depth + 1, count) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1, count) for v in value]
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return value


def _plain_key(key: Any) -> Any:
    if isinstance(key, _dt.date | _dt.time):
        return key.isoformat()
    return key


def _parse(
    data: Any,
    config_path: Path,
    output: str | Path | None,
    lines: dict[tuple[str | int, ...], int],
    early: list[Problem],
) -> Experiment:
    """Check and expand; raise one ConfigError with every problem."""
    reader = _Reader(config_path, lines)
    reader.problems.extend(early)
    try:
        if data is None:
            reader.add((), _EMPTY)
        elif not isinstance(data, Mapping):
            reader.add(
                (),
                "the top level must be a mapping of keys (experiment:, pairs:, membranes:, "
                f"...), but it is {_show(data)}. Start from the example config.",
            )
        else:
            try:
                plain = _plain(data)
            except (_TooBig, RecursionError):
                reader.add(
                    (),
                    "is nested too deeply or too large (a YAML anchor that refers to itself, or "
                    "anchors that expand enormously?). Write the lists out plainly.",
                )
            else:
                experiment = reader.read(plain, output)
                if not reader.problems:
                    return experiment
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - never let a config crash the program
        reader.add(
            (),
            f"blotquant could not read this config ({type(exc).__name__}: {exc}). This is a bug "
            "in blotquant; please report it with the config.",
        )
    raise reader.error()


# --- the reader --------------------------------------------------------------------------


@dataclass
class _Measured:
    """One antibody measured on one membrane, for the checks across the config."""

    membrane: str
    antibody: str
    loc: tuple[str | int, ...]
    label: str
    raw_antibody: str | None = None  # batch file-name spelling before aliases
    subject: str = ""  # how a message about this entry starts

    def __post_init__(self) -> None:
        self.subject = self.subject or self.label


@dataclass
class _MembraneInfo:
    name: str
    lanes: tuple[Lane, ...] | None
    origin: str  # "membranes[0]" or "batches[1]"
    templates: list[tuple[str, dict[str, Any]]] | None


class _Reader:
    """Walks a config, collects problems, builds the Experiment."""

    def __init__(self, config_path: Path, lines: dict[tuple[str | int, ...], int]):
        self.config_path = config_path
        self.folder = config_path.parent
        self.lines = lines
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        # False once something that makes measurements, or lanes, could not be read
        self.measures_known = True
        self.lanes_known = True
        self.membranes: dict[str, _MembraneInfo] = {}
        self.measured: list[_Measured] = []
        self.measurements: list[Measurement] = []
        self.global_analysis: dict[str, Any] = {}

    # -- problems

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        line = None
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                line = self.lines[loc[:n]]
                break
        problem = Problem(tuple(loc), message, line)
        if problem not in self.problems:
            self.problems.append(problem)

    def error(self) -> ConfigError:
        order = sorted(
            range(len(self.problems)),
            key=lambda i: (self.problems[i].line is None, self.problems[i].line or 0, i),
        )
        return ConfigError(self.config_path, [self.problems[i] for i in order])

    def validate(
        self, model: type[_Model], raw: Any, loc: tuple[str | int, ...], example: str = ""
    ) -> tuple[Any, set[str]]:
        """Validate one mapping; returns (model or None, keys that are unusable).

        Keys with problems are reported and dropped, so the rest of the
        mapping is still returned for the checks that do not depend on them.
        """
        if not isinstance(raw, Mapping):
            hint = f" Write it like {example}." if example else ""
            if isinstance(raw, str) and raw.strip() in ("ladder", "empty") and model is LaneModel:
                hint = f" Write it as {{role: {raw.strip()}}}."
            if isinstance(raw, str) and model is PairModel and "/" in raw:
                phospho, _, total = raw.partition("/")
                hint = f" Write it as {{phospho: {phospho.strip()}, total: {total.strip()}}}."
            self.add(loc, f"expected a mapping (`key: value` entries); got {_show(raw)}.{hint}")
            return None, set(model.model_fields)
        broken: set[str] = set()
        clean: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(key, str):
                clean[key] = value
                continue
            if isinstance(key, bool):
                why = (
                    " (YAML reads yes/no/on/off/true/false as true or false; put the key in quotes)"
                )
            else:
                why = ""
            self.add(
                loc, f"the key {_show(key)} is not a name{why}. Keys are names like `treatment`."
            )
        try:
            result = model.model_validate(clean)
        except _PydanticError as exc:
            for err in exc.errors():
                self.add(loc + tuple(err["loc"]), _translate(err, model.kind))
                if err["loc"]:
                    broken.add(str(err["loc"][0]))
            pruned = {k: v for k, v in clean.items() if k not in broken}
            try:
                result = model.model_validate(pruned)
            except _PydanticError:  # pragma: no cover - every field is optional
                return None, set(model.model_fields)
        for key in model.required:
            if key not in broken and getattr(result, key, None) is None:
                message = _MISSING.get(key, f"`{key}` is missing.")
                if key in clean:  # written, but with no value
                    message = message.replace("is missing", "has no value", 1)
                self.add(loc + (key,), message)
                broken.add(key)
        return result, broken

    # -- top level

    def read(self, data: dict[str, Any], output: str | Path | None) -> Experiment:
        top, broken = self.validate(TopModel, data, ())

        def ok(key: str) -> bool:
            return key not in broken

        if ok("analysis") and top.analysis is not None:
            analysis, bad = self.validate(
                AnalysisModel, top.analysis, ("analysis",), _EXAMPLES["analysis"]
            )
            if analysis is not None:
                self.global_analysis = _overrides(analysis, bad, ANALYSIS_KEYS)
        settings = _settings(self.global_analysis)

        pairs = self._pairs(top.pairs) if ok("pairs") else None

        membranes = top.membranes if ok("membranes") else None
        batches = top.batches if ok("batches") else None
        if not membranes and not batches:
            self.measures_known = self.lanes_known = False
        if not membranes and not batches and ok("membranes") and ok("batches"):
            self.add(
                (),
                "the config has no `membranes` and no `batches`: describe at least one "
                "membrane with its lanes and images, e.g. "
                + _EXAMPLES["membranes"]
                + ", or a batch of exported files.",
            )
        resolved_membranes = []
        for i, raw in enumerate(membranes or []):
            resolved_membranes.append(self._membrane(i, raw))
        resolved_batches = []
        for i, raw in enumerate(batches or []):
            resolved_batches.append(self._batch(i, raw))
        if not ok("membranes") or not ok("batches"):
            self.measures_known = self.lanes_known = False

        control = top.control if ok("control") else None
        control_given = control is not None
        control = dict(control) if control is not None else dict(DEFAULT_CONTROL)
        normalize = list(top.normalize_within or []) if ok("normalize_within") else None
        summary = (
            (list(top.summary_by) if top.summary_by is not None else list(DEFAULT_SUMMARY_BY))
            if ok("summary_by")
            else None
        )

        self._check_duplicates()
        self._check_pairs(pairs)
        if ok("control"):
            self._check_control(control, control_given, normalize)
        self._check_lane_keys("normalize_within", normalize, ("membrane",))
        self._check_lane_keys("summary_by", summary, ("membrane", "lane"))
        dose_key = top.dose_key if ok("dose_key") and top.dose_key else "dose_nM"
        if top.dose_key:
            self._check_lane_keys("dose_key", [dose_key], ())

        if top.output is not None and ok("output"):
            out_path = self._path(top.output)
        else:
            out_path = self.folder / DEFAULT_OUTPUT
        if output is not None:
            try:
                out_path = Path(os.path.abspath(os.path.expanduser(os.fspath(output))))
            except (TypeError, ValueError) as exc:
                self.add((), f"the output folder {output!r} is not a valid path ({exc}).")
        name = top.experiment if ok("experiment") and top.experiment else self.config_path.stem
        if self.problems:
            return None  # type: ignore[return-value] - the caller raises
        pair_objs = tuple(Pair(p.phospho, p.total) for p in pairs or [])
        resolved = {
            "experiment": name,
            "output": str(out_path),
            "analysis": _settings_dict(settings),
            "pairs": [{"phospho": p.phospho, "total": p.total} for p in pair_objs],
            "control": control,
            "normalize_within": normalize,
            "summary_by": summary,
            "dose_key": dose_key,
            "membranes": resolved_membranes,
            "batches": resolved_batches,
        }
        return Experiment(
            config_path=self.config_path,
            experiment=name,
            output=out_path,
            analysis=settings,
            pairs=pair_objs,
            control=control,
            normalize_within=tuple(normalize or ()),
            summary_by=tuple(summary or ()),
            dose_key=dose_key,
            membranes=tuple(
                Membrane(info.name, info.lanes or ()) for info in self.membranes.values()
            ),
            measurements=tuple(self.measurements),
            resolved=resolved,
            warnings=tuple(self.warnings),
        )

    def _path(self, text: str) -> Path:
        return Path(os.path.abspath(os.path.join(self.folder, os.path.expanduser(text))))

    def _pairs(self, raw: list[Any] | None) -> list[PairModel] | None:
        if raw is None:
            self.add(("pairs",), _MISSING["pairs"])
            return None
        if not raw:
            self.add(
                ("pairs",), "is empty; list at least one ratio, e.g. " + _EXAMPLES["pairs"] + "."
            )
            return None
        pairs: list[PairModel] = []
        seen: dict[tuple[str, str], int] = {}
        complete = True
        for k, item in enumerate(raw):
            pair, bad = self.validate(PairModel, item, ("pairs", k), _ITEM_EXAMPLES["pairs"])
            if pair is None or bad:
                complete = False
                continue
            if pair.phospho == pair.total:
                self.add(
                    ("pairs", k),
                    f"phospho and total are both `{pair.phospho}`; a ratio "
                    "needs two different antibodies.",
                )
            key = (pair.phospho, pair.total)
            if key in seen:
                self.add(
                    ("pairs", k),
                    f"the pair {pair.phospho}/{pair.total} is listed twice "
                    f"(also pairs[{seen[key]}]); remove one.",
                )
            seen.setdefault(key, k)
            pairs.append(pair)
        return pairs if complete else None

    # -- membranes

    def _membrane(self, i: int, raw: Any) -> dict[str, Any]:
        loc: tuple[str | int, ...] = ("membranes", i)
        model, broken = self.validate(MembraneModel, raw, loc, _ITEM_EXAMPLES["membranes"])
        if model is None:
            self.measures_known = self.lanes_known = False
            return {}
        name = model.name if "name" not in broken else None
        templates = None
        n_lanes = None
        if "lanes" not in broken:
            n_lanes = len(model.lanes)
            templates = self._lane_templates(model.lanes, (*loc, "lanes"))
        if templates is None:
            self.lanes_known = False
        lanes = _lanes(templates, name) if templates is not None and name is not None else None
        if name is not None:
            if name in self.membranes:
                self.add(
                    (*loc, "name"),
                    f"membrane name `{name}` is already used by "
                    f"{self.membranes[name].origin}; give each membrane its own name.",
                )
            else:
                self.membranes[name] = _MembraneInfo(name, lanes, f"membranes[{i}]", templates)
        else:
            self.measures_known = self.lanes_known = False
        images = []
        if "images" in broken:
            self.measures_known = False
        else:
            for j, image in enumerate(model.images):
                images.append(self._image(i, j, image, name, n_lanes, lanes))
        return {
            "name": name,
            "lanes": [_lane_dict(lane) for lane in lanes or ()],
            "images": images,
        }

    def _lane_templates(
        self, raw: list[Any], loc: tuple[str | int, ...]
    ) -> list[tuple[str, dict[str, Any]]] | None:
        """(role, metadata) of each lane, before `sample` gets its default."""
        templates: list[tuple[str, dict[str, Any]]] = []
        complete = True
        for k, item in enumerate(raw):
            lane_loc = (*loc, k)
            lane, bad = self.validate(LaneModel, item, lane_loc, _ITEM_EXAMPLES["lanes"])
            if lane is None or bad:
                complete = False
                continue
            role = lane.role or "sample"
            meta = dict(lane.model_extra or {})
            for key in meta:
                if key in RESERVED_LANE_KEYS:
                    self.add(
                        (*lane_loc, key),
                        f"`{key}` is a column blotquant writes itself; "
                        f"rename this lane key (e.g. `{key}_label`).",
                    )
                    complete = False
            treatment = meta.get("treatment")
            if role == "sample" and (treatment is None or treatment == ""):
                typo = _closest("treatment", [k for k in meta if k != "sample"])
                hint = f" Is `{typo}` meant to be `treatment`?" if typo else ""
                self.add(
                    lane_loc,
                    "a sample lane needs a `treatment` (e.g. {treatment: DMSO})."
                    f"{hint} Mark ladder and empty lanes with {{role: ladder}} or "
                    "{role: empty}.",
                )
                complete = False
            if meta.get("sample") in (None, ""):
                meta.pop("sample", None)
            templates.append((role, meta))
        return templates if complete else None

    def _image(
        self,
        i: int,
        j: int,
        raw: Any,
        membrane: str | None,
        n_lanes: int | None,
        lanes: tuple[Lane, ...] | None,
    ) -> dict[str, Any]:
        loc: tuple[str | int, ...] = ("membranes", i, "images", j)
        model, broken = self.validate(ImageModel, raw, loc, _ITEM_EXAMPLES["images"])
        if model is None:
            self.measures_known = False
            return {}
        file = model.file if "file" not in broken else None
        own = _overrides(model, broken, _OVERRIDE_KEYS)
        origins = {key: (*loc, key) for key in own}
        has_antibody = raw.get("antibody") is not None
        has_regions = raw.get("regions") is not None
        source = f"membranes[{i}] ({membrane}) > images[{j}] ({file})"
        resolved: dict[str, Any] = {"file": file}
        if has_antibody and has_regions:
            self.add(
                loc,
                "has both `antibody` and `regions`: an image shows one antibody "
                "(antibody: AKT) or is cut into strips (regions: [...], each with its own "
                "antibody); keep one.",
            )
            self.measures_known = False
        elif not has_antibody and not has_regions:
            self.add(
                loc,
                "needs `antibody` (the antibody this image shows) or `regions` (strips "
                "of one image, each with antibody and rows), e.g. "
                + _ITEM_EXAMPLES["images"]
                + ".",
            )
            self.measures_known = False
        elif has_antibody:
            if "antibody" in broken:
                self.measures_known = False
            else:
                resolved["antibody"] = model.antibody
                self._measure(
                    loc, source, membrane, n_lanes, file, model.antibody, own, origins, None
                )
        elif "regions" in broken:
            self.measures_known = False
        else:
            regions = []
            for k, item in enumerate(model.regions):
                rloc = (*loc, "regions", k)
                region, bad = self.validate(RegionModel, item, rloc, _ITEM_EXAMPLES["regions"])
                if region is None or {"antibody", "rows"} & bad:
                    self.measures_known = False
                    continue
                mine = _overrides(region, bad, _OVERRIDE_KEYS)
                self._measure(
                    rloc,
                    f"{source} > regions[{k}]",
                    membrane,
                    n_lanes,
                    file,
                    region.antibody,
                    {**own, **mine},
                    {**origins, **{key: (*rloc, key) for key in mine}},
                    region.rows,
                )
                regions.append(
                    {"antibody": region.antibody, "rows": list(region.rows), **_json_values(mine)}
                )
            resolved["regions"] = regions
        resolved["channel"] = own.get("channel", 0)
        resolved.update(_json_values({k: v for k, v in own.items() if k != "channel"}))
        return resolved

    def _measure(
        self,
        loc: tuple[str | int, ...],
        source: str,
        membrane: str | None,
        n_lanes: int | None,
        image: str | None,
        antibody: str,
        keys: dict[str, Any],
        origins: dict[str, tuple[str | int, ...]],
        rows: tuple[int, int] | None,
        path: Path | None = None,
    ) -> None:
        """Check one image or region against its membrane and record it."""
        centers = keys.get("lane_centers")
        if centers is not None and n_lanes is not None and len(centers) != n_lanes:
            self.add(
                origins["lane_centers"],
                f"has {len(centers)} lane centre{'s' if len(centers) != 1 else ''} but "
                f"membrane {membrane} has {n_lanes} lane{'s' if n_lanes != 1 else ''} "
                "(ladder and empty lanes count too); give one centre per lane, left to "
                "right.",
            )
        band_rows = keys.get("band_rows")
        if (
            rows is not None
            and band_rows is not None
            and (band_rows[1] <= rows[0] or band_rows[0] >= rows[1])
        ):
            where = "" if origins["band_rows"][:-1] == loc else " (set on the image)"
            self.add(
                origins["band_rows"],
                f"band_rows {list(band_rows)}{where} lie outside the rows {list(rows)} of "
                f"{keypath(loc)}; band_rows are image rows (counted from the top of the "
                "whole image), so they must fall inside the region's rows.",
            )
        if membrane is None:
            return
        self.measured.append(
            _Measured(
                membrane,
                antibody,
                loc,
                f"{keypath(loc)} ({image})",
                subject="this region" if rows is not None else "this image",
            )
        )
        if image is None:
            return
        self.measurements.append(
            Measurement(
                membrane=membrane,
                image=image,
                path=path if path is not None else self._path(image),
                antibody=antibody,
                channel=keys.get("channel", 0),
                rows=rows,
                band_rows=band_rows,
                lane_centers=centers,
                analysis=_settings({**self.global_analysis, **keys}),
                source=source,
                **_ladder_fields(keys),
            )
        )

    # -- batches

    def _batch(self, i: int, raw: Any) -> dict[str, Any]:
        loc: tuple[str | int, ...] = ("batches", i)
        model, broken = self.validate(BatchModel, raw, loc, _ITEM_EXAMPLES["batches"])
        if model is None:
            self.measures_known = self.lanes_known = False
            return {}
        templates = None
        n_lanes = None
        if "lanes" not in broken:
            n_lanes = len(model.lanes)
            templates = self._lane_templates(model.lanes, (*loc, "lanes"))
        if templates is None:
            self.lanes_known = False
        own = _overrides(model, broken, _OVERRIDE_KEYS)
        centers = own.get("lane_centers")
        if centers is not None and n_lanes is not None and len(centers) != n_lanes:
            self.add(
                (*loc, "lane_centers"),
                f"has {len(centers)} lane centre{'s' if len(centers) != 1 else ''} but "
                f"the batch has {n_lanes} lane{'s' if n_lanes != 1 else ''} "
                "(ladder and empty lanes count too); give one centre per lane.",
            )
        resolved: dict[str, Any] = {
            "files": model.files,
            "pattern": model.pattern,
            "antibody_aliases": dict(model.antibody_aliases or {}),
            "lanes": [{"role": role, **meta} for role, meta in templates or []],
            "channel": own.get("channel", 0),
            **_json_values({k: v for k, v in own.items() if k != "channel"}),
        }
        if {"files", "pattern", "antibody_aliases"} & broken:
            self.measures_known = self.lanes_known = False
            return resolved
        regions: list[tuple[int, Any, dict[str, Any]]] | None = None
        if isinstance(raw, dict) and raw.get("regions") is not None and "regions" not in broken:
            regions = []
            for k, item in enumerate(model.regions or []):
                rloc = (*loc, "regions", k)
                region, bad = self.validate(RegionModel, item, rloc, _ITEM_EXAMPLES["regions"])
                if region is None or {"antibody", "rows"} & bad:
                    self.measures_known = False
                    continue
                regions.append((k, region, _overrides(region, bad, _OVERRIDE_KEYS)))
            resolved["regions"] = [
                {"antibody": r.antibody, "rows": list(r.rows), **_json_values(mine)}
                for _, r, mine in regions
            ]
        compiled = self._pattern(model.pattern, (*loc, "pattern"), regions is not None)
        files = self._glob(model.files, (*loc, "files"))
        if compiled is None or not files:
            self.measures_known = self.lanes_known = False
            return resolved
        regex, groups = compiled
        aliases = dict(model.antibody_aliases or {})
        used_aliases: set[str] = set()
        unmatched: list[str] = []
        found: dict[tuple[str, str], str] = {}
        for rel in files:
            target = rel if "/" in model.pattern else PurePosixPath(rel).name
            match = regex.search(target)
            if match is None:
                unmatched.append(rel)
                continue
            membrane = match.group(groups["membrane"])
            if regions is not None:
                self._batch_regions(i, model, rel, membrane, templates, regions, own, found)
                continue
            raw_antibody = match.group(groups["antibody"])
            antibody = aliases.get(raw_antibody, raw_antibody)
            if raw_antibody in aliases:
                used_aliases.add(raw_antibody)
            if (membrane, antibody) in found:
                self.add(
                    (*loc, "files"),
                    f"{found[membrane, antibody]} and {rel} both give membrane `{membrane}`"
                    f", antibody `{antibody}`; each antibody is measured once per membrane. "
                    "Remove one file or narrow `files`.",
                )
                continue
            found[membrane, antibody] = rel
            if membrane not in self.membranes:
                lanes = _lanes(templates, membrane) if templates is not None else None
                self.membranes[membrane] = _MembraneInfo(
                    membrane, lanes, f"batches[{i}]", templates
                )
            else:
                info = self.membranes[membrane]
                if info.origin.startswith("membranes"):
                    self.add(
                        (*loc, "files"),
                        f"{rel} gives membrane `{membrane}`, but {info.origin} already has "
                        "that name; rename the membrane or the files.",
                    )
                    continue
                if info.origin != f"batches[{i}]" and info.templates != templates:
                    self.add(
                        (*loc, "lanes"),
                        f"{rel} gives membrane `{membrane}`, which {info.origin} also makes "
                        "with a different lane layout; one membrane has one layout. Make "
                        "the `lanes` the same or rename the files.",
                    )
                    continue
            self.measured.append(
                _Measured(
                    membrane,
                    antibody,
                    (*loc, "files"),
                    f"file {rel}",
                    raw_antibody if raw_antibody == antibody else None,
                )
            )
            self.measurements.append(
                Measurement(
                    membrane=membrane,
                    image=rel,
                    path=self._path(rel),
                    antibody=antibody,
                    channel=own.get("channel", 0),
                    band_rows=own.get("band_rows"),
                    lane_centers=centers,
                    analysis=_settings({**self.global_analysis, **own}),
                    source=f"batches[{i}] ({model.files}) > {rel}",
                    **_ladder_fields(own),
                )
            )
        for rel in unmatched[:_MAX_LISTED]:
            self.add(
                (*loc, "pattern"),
                f"{rel} matches `files` ({model.files}) but not `pattern` "
                f"({model.pattern}), so its membrane and antibody are unknown. Rename the "
                "file, change `pattern`, or narrow `files` so it is not picked up.",
            )
        if len(unmatched) > _MAX_LISTED:
            self.add(
                (*loc, "pattern"),
                f"... and {len(unmatched) - _MAX_LISTED} more files that match `files` but "
                f"not `pattern` ({model.pattern}).",
            )
        if unmatched:
            self.measures_known = False
        for alias in aliases:
            if alias not in used_aliases and not unmatched and regions is None:
                self.warnings.append(
                    f"batches[{i}].antibody_aliases: no file of the batch names the antibody "
                    f"`{alias}`; check the spelling (case matters)."
                )
        return resolved

    def _batch_regions(
        self,
        i: int,
        model: BatchModel,
        rel: str,
        membrane: str,
        templates: Any,
        regions: list[tuple[int, Any, dict[str, Any]]],
        own: dict[str, Any],
        found: dict[tuple[str, str], str],
    ) -> None:
        """One file of a batch with `regions`: one measurement per strip."""
        loc: tuple[str | int, ...] = ("batches", i)
        if membrane not in self.membranes:
            lanes = _lanes(templates, membrane) if templates is not None else None
            self.membranes[membrane] = _MembraneInfo(membrane, lanes, f"batches[{i}]", templates)
        elif self.membranes[membrane].origin != f"batches[{i}]":
            self.add(
                (*loc, "files"),
                f"{rel} gives membrane `{membrane}`, which "
                f"{self.membranes[membrane].origin} also makes; rename the files.",
            )
            return
        for k, region, mine in regions:
            antibody = region.antibody
            if (membrane, antibody) in found:
                self.add(
                    (*loc, "files"),
                    f"{found[membrane, antibody]} and {rel} both give membrane `{membrane}`"
                    f", antibody `{antibody}`; each antibody is measured once per membrane.",
                )
                continue
            found[membrane, antibody] = rel
            keys = {**own, **mine}
            self.measured.append(
                _Measured(membrane, antibody, (*loc, "regions", k), f"file {rel}", None)
            )
            self.measurements.append(
                Measurement(
                    membrane=membrane,
                    image=rel,
                    path=self._path(rel),
                    antibody=antibody,
                    channel=keys.get("channel", 0),
                    rows=tuple(region.rows),
                    band_rows=keys.get("band_rows"),
                    lane_centers=keys.get("lane_centers"),
                    analysis=_settings({**self.global_analysis, **keys}),
                    source=f"batches[{i}] ({model.files}) > {rel} > regions[{k}]",
                    **_ladder_fields(keys),
                )
            )

    def _pattern(
        self, pattern: str, loc: tuple[str | int, ...], with_regions: bool = False
    ) -> tuple[re.Pattern[str], dict[str, str]] | None:
        """The pattern as a regular expression, and its group name for each field."""
        try:
            parts = list(string.Formatter().parse(pattern))
        except ValueError as exc:
            self.add(
                loc,
                f"`{pattern}` is not a valid pattern ({exc}); write fields as "
                "{membrane} and {antibody}, and a literal brace as {{ or }}.",
            )
            return None
        regex = ""
        groups: dict[str, str] = {}
        for literal, field, spec, conversion in parts:
            regex += re.escape(literal)
            if field is None:
                continue
            if not field.isidentifier() or spec or conversion:
                self.add(
                    loc,
                    f"`{{{field}{'!' + conversion if conversion else ''}"
                    f"{':' + spec if spec else ''}}}` in `{pattern}` is not a field; write "
                    "fields as a plain name in braces, e.g. {membrane}, {antibody}, "
                    "{date}.",
                )
                return None
            if field in groups:
                regex += f"(?P={groups[field]})"
            else:
                groups[field] = f"f{len(groups)}"
                regex += f"(?P<{groups[field]}>[^/]+?)"
        if with_regions and "antibody" in groups:
            self.add(
                loc,
                f"`{pattern}` has an {{antibody}} field, but the batch's `regions` "
                "name the antibodies of every file; drop {antibody} from the pattern, "
                'e.g. "{membrane}.tif".',
            )
            return None
        needed = ("membrane",) if with_regions else ("membrane", "antibody")
        missing = [f for f in needed if f not in groups]
        if missing:
            fields = " and ".join("{" + f + "}" for f in missing)
            self.add(
                loc,
                f"`{pattern}` has no {fields} field; the pattern must say where the "
                "file name holds the membrane and the antibody, e.g. "
                '"{membrane}_{antibody}.tif".',
            )
            return None
        anchored = ("(?:^|/)" if "/" in pattern else "^") + regex + "$"
        return re.compile(anchored, re.DOTALL), groups

    def _glob(self, pattern: str, loc: tuple[str | int, ...]) -> list[str]:
        """Files (not folders) matching the glob, relative to the config folder, sorted."""
        expanded = os.path.expanduser(pattern)
        try:
            hits = glob.glob(expanded, root_dir=self.folder, recursive=True)
            files = sorted(Path(h).as_posix() for h in hits if (self.folder / h).is_file())
        except (OSError, ValueError) as exc:
            self.add(loc, f"`{pattern}` cannot be searched ({exc}).")
            return []
        if files:
            return files
        message = f"`{pattern}` matches no file in {self.folder}."
        if hits:
            message += " It matches only folders; end the glob with the files, e.g. /*.tif."
        else:
            fixed = []
            for part in PurePosixPath(Path(expanded).as_posix()).parts[:-1]:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            folder = self.folder.joinpath(*fixed) if fixed else self.folder
            try:
                if fixed and not folder.is_dir():
                    message += f" The folder {folder} does not exist."
                elif folder.is_dir():
                    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
                    if names:
                        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                        message += f" {folder} holds: {shown}."
            except (OSError, ValueError):
                pass
        self.add(loc, message + " Check the folder and the file extension (case matters).")
        return []

    # -- checks across the config

    def _check_duplicates(self) -> None:
        first: dict[tuple[str, str], _Measured] = {}
        for m in self.measured:
            key = (m.membrane, m.antibody)
            if key in first:
                if first[key].loc == m.loc:
                    continue  # reported as a batch's own duplicate
                self.add(
                    m.loc,
                    f"{m.subject} measures `{m.antibody}` on membrane `{m.membrane}`"
                    f", as {first[key].label} does already; each antibody is measured once "
                    "per membrane. Remove one, or name them apart (e.g. AKT-long).",
                )
            else:
                first[key] = m

    def _check_pairs(self, pairs: list[PairModel] | None) -> None:
        if pairs is None or not self.measures_known:
            return
        where: dict[str, set[str]] = {}
        for m in self.measured:
            where.setdefault(m.antibody, set()).add(m.membrane)
        raw_names = {m.raw_antibody for m in self.measured if m.raw_antibody}
        listed = ", ".join(sorted(where)) or "none"
        for k, pair in enumerate(pairs):
            missing = False
            for role in ("phospho", "total"):
                name = getattr(pair, role)
                if name in where:
                    continue
                missing = True
                guess = _closest(name, where)
                hint = f" Did you mean `{guess}`?" if guess else ""
                raw_guess = _closest(name, raw_names)
                if raw_guess is not None:
                    hint += (
                        f" If the batch files' `{raw_guess}` is this antibody, add "
                        f"antibody_aliases: {{{raw_guess}: {name}}} to the batch."
                    )
                self.add(
                    ("pairs", k, role),
                    f"no image or batch measures `{name}`.{hint} "
                    f"Antibodies measured: {listed}. Check the spelling here and in the "
                    "images' `antibody`.",
                )
            if missing:
                continue
            both = where[pair.phospho] & where[pair.total]
            if not both:
                self.add(
                    ("pairs", k),
                    f"`{pair.phospho}` and `{pair.total}` are never measured "
                    f"on the same membrane ({pair.phospho} on "
                    f"{', '.join(sorted(where[pair.phospho]))}; {pair.total} on "
                    f"{', '.join(sorted(where[pair.total]))}), so no ratio can be computed. "
                    "A ratio needs both antibodies on one membrane.",
                )
                continue
            for membrane in sorted(where[pair.phospho] ^ where[pair.total]):
                has, lacks = (
                    (pair.phospho, pair.total)
                    if membrane in where[pair.phospho]
                    else (pair.total, pair.phospho)
                )
                self.warnings.append(
                    f"Membrane {membrane} has {has} but no {lacks}; the pair "
                    f"{pair.phospho}/{pair.total} gives no ratios for it."
                )

    def _sample_lanes(self) -> list[tuple[str, Lane]]:
        return [
            (info.name, lane)
            for info in self.membranes.values()
            for lane in info.lanes or ()
            if lane.role == "sample"
        ]

    def _check_control(
        self, control: dict[str, Any], given: bool, normalize: list[str] | None
    ) -> None:
        if not self.lanes_known or not self.membranes:
            return
        lanes = self._sample_lanes()
        for name, info in self.membranes.items():
            if info.lanes is not None and not any(lane.role == "sample" for lane in info.lanes):
                self.warnings.append(
                    f"Membrane {name} has no sample lanes (only ladder or "
                    "empty ones); it gives no ratios."
                )
        keys = sorted({key for _, lane in lanes for key in lane.metadata})
        what = ", ".join(f"{k}: {v}" for k, v in control.items())
        unknown = [k for k in control if k not in keys]
        for key in unknown:
            self.add(
                ("control", key) if given else ("control",),
                f"no sample lane has the key `{key}`.{_did_you_mean(key, keys)} Lane keys: "
                f"{', '.join(keys) or 'none'}."
                + (
                    ""
                    if given
                    else f" (`control` is not given, so it is {{{what}}}; add "
                    "control: {treatment: <your control treatment>}.)"
                ),
            )
        if unknown:
            return

        def is_control(lane: Lane) -> bool:
            return all(same_value(lane.metadata.get(k), v) for k, v in control.items())

        if not any(is_control(lane) for _, lane in lanes):
            values = []
            hint = ""
            for key, value in control.items():
                seen = sorted({str(lane.metadata.get(key)) for _, lane in lanes})
                values.append(f"{key}: {', '.join(seen)}")
                if not hint:
                    hint = _did_you_mean(str(value), seen)
            self.add(
                ("control",),
                f"no sample lane is a control lane {{{what}}}, so there would be no fold "
                f"changes.{hint} The lanes have {'; '.join(values)}. "
                + (
                    "Change `control` to match your control lanes."
                    if given
                    else "`control` is not given; add it, e.g. "
                    "control: {treatment: <your control treatment>}."
                ),
            )
            return
        if normalize is None or any(k not in keys for k in normalize):
            return
        for name, info in self.membranes.items():
            groups: dict[tuple[str, ...], list[Lane]] = {}
            for lane in info.lanes or ():
                if lane.role == "sample":
                    group = tuple(str(lane.metadata.get(k)) for k in normalize)
                    groups.setdefault(group, []).append(lane)
            for group, members in groups.items():
                if any(is_control(lane) for lane in members):
                    continue
                within = "".join(f", {k}={v}" for k, v in zip(normalize, group, strict=True))
                numbers = ", ".join(str(lane.number) for lane in members)
                self.warnings.append(
                    f"Membrane {name}{within}: no control lane ({what}) among lanes {numbers}; "
                    "their fold changes will be empty. Add a control lane there or change "
                    "`control` / `normalize_within`."
                )

    def _check_lane_keys(self, key: str, names: list[str] | None, extra: tuple[str, ...]) -> None:
        if names is None or not self.lanes_known or not self.membranes:
            return
        keys = sorted({k for _, lane in self._sample_lanes() for k in lane.metadata})
        for n, name in enumerate(names):
            if name not in keys and name not in extra:
                self.add(
                    (key, n),
                    f"no sample lane has the key `{name}`."
                    f"{_did_you_mean(name, [*keys, *extra])} Lane keys: "
                    f"{', '.join(keys) or 'none'}.",
                )


# --- small helpers ---------------------------------------------------------------------------


def _overrides(model: BaseModel, broken: set[str], keys: Iterable[str]) -> dict[str, Any]:
    """The keys that a mapping sets (written with a value and valid)."""
    return {
        key: getattr(model, key)
        for key in keys
        if key not in broken and getattr(model, key, None) is not None
    }


_AUTO_KEYS = ("lane_width", "saturation_level", "background_margin")


def _settings(values: Mapping[str, Any]) -> AnalysisSettings:
    """AnalysisSettings from merged keys (`auto` becomes None)."""
    kwargs: dict[str, Any] = {}
    for key in ANALYSIS_KEYS:
        if key in values:
            value = values[key]
            if value == "auto" and key in _AUTO_KEYS:  # `auto` is None in AnalysisSettings
                value = None
            elif key == "background_margin":
                value = int(value)
            elif key in ("lane_width", "saturation_level", "rolling_ball_radius"):
                value = float(value)
            kwargs[key] = value
    return AnalysisSettings(**kwargs)


def _settings_dict(settings: AnalysisSettings) -> dict[str, Any]:
    out = {key: getattr(settings, key) for key in ANALYSIS_KEYS}
    for key in _AUTO_KEYS:
        if out[key] is None:
            out[key] = "auto"
    return out


def _ladder_fields(keys: Mapping[str, Any]) -> dict[str, Any]:
    """Measurement fields for the molecular-weight ladder and band_kda."""
    ladder = keys.get("ladder")
    fields: dict[str, Any] = {"band_kda": keys.get("band_kda")}
    if ladder is not None:
        fields.update(ladder_lane=ladder["lane"], ladder_kda=tuple(ladder["kda"]))
    if keys.get("band_kda_tolerance") is not None:
        fields["band_kda_tolerance"] = keys["band_kda_tolerance"]
    return fields


def _json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _lanes(templates: list[tuple[str, dict[str, Any]]], membrane: str | None) -> tuple[Lane, ...]:
    lanes = []
    for number, (role, meta) in enumerate(templates, start=1):
        metadata = dict(meta)
        metadata.setdefault("sample", f"{membrane}-L{number}")
        lanes.append(Lane(number=number, role=role, metadata=metadata))  # type: ignore[arg-type]
    return tuple(lanes)


def _lane_dict(lane: Lane) -> dict[str, Any]:
    return {"role": lane.role, **lane.metadata}
