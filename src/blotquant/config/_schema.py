"""The config's shape: its keys, how each value is read, and pydantic's errors in words.

Each value validator reads YAML the way a biologist writes it (``"50"`` and
``50`` are the same radius; ``yes`` is not a channel) and says what to write
when it cannot. The analysis settings' names, order and defaults are those of
:class:`~blotquant.models.AnalysisSettings`; one that is None there by default
may be written ``auto`` here (:data:`AUTO_KEYS`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Annotated, Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints
from pydantic_core import PydanticCustomError

from blotquant import models
from blotquant.config._messages import (
    EXAMPLES,
    KIND_NAMES,
    MISPLACED,
    MISSING,
    closest,
    describe,
    did_you_mean,
)
from blotquant.models import BACKGROUND_METHODS, AnalysisSettings

POLARITIES: tuple[str, ...] = get_args(models.Polarity)
DOUBLET_BANDS: tuple[str, ...] = get_args(models.DoubletBand)
LANE_ROLES: tuple[str, ...] = get_args(models.LaneRole)
#: Output folder, beside the config, when neither ``--out`` nor ``output`` is given.
DEFAULT_OUTPUT = "blotquant-results"
#: The control lanes when the config has no ``control``.
DEFAULT_CONTROL: dict[str, Any] = {"treatment": "DMSO"}
DEFAULT_SUMMARY_BY = ("treatment",)
#: Keys of an image that a region (or every file of a batch) may also set.
IMAGE_KEYS = (
    "channel", "band_rows", "band", "lane_centers", "ladder", "band_kda", "band_kda_tolerance",
    "crop", "rotate", "stain",
)  # fmt: skip
#: The largest tilt, in degrees either way, that ``rotate`` straightens (beyond it: 90, 180, 270).
MAX_ROTATE_DEG = 10.0
ANALYSIS_KEYS = tuple(f.name for f in dataclasses.fields(AnalysisSettings))
#: Settings that may be `auto` in the config: those that are None by default.
AUTO_KEYS = tuple(f.name for f in dataclasses.fields(AnalysisSettings) if f.default is None)
#: Keys an image, a region or a batch may set for itself.
OVERRIDE_KEYS = (*IMAGE_KEYS, *ANALYSIS_KEYS)


# --- reading values ----------------------------------------------------------------------


def fail(message: str) -> PydanticCustomError:
    """Return a validation error whose message is shown to the user as it is."""
    # the message goes through the context so braces in it are never formatted
    return PydanticCustomError("blotquant", "{message}", {"message": message})


def as_whole(value: Any) -> int | None:
    """Read a whole number (``3``, ``3.0``, ``" 3 "``); None if it is not one."""
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


def as_number(value: Any) -> float | None:
    """Read a finite number (``50``, ``"0.15"``); None if it is not one."""
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
        raise fail(
            f"must be one of {', '.join(options)}; got {describe(value)}."
            f"{did_you_mean(value, options)}"
        )

    return PlainValidator(check)


def _number(
    expected: str,
    *,
    whole: bool = False,
    auto: bool = False,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
) -> PlainValidator:
    # a number (a whole one if `whole`) within the bounds, or `auto` if `auto`
    def check(value: Any) -> Any:
        if auto and isinstance(value, str) and value.strip() == "auto":
            return "auto"
        number = as_whole(value) if whole else as_number(value)
        if (
            number is None
            or (gt is not None and number <= gt)
            or (ge is not None and number < ge)
            or (lt is not None and number >= lt)
        ):
            raise fail(f"expected {expected}; got {describe(value)}.")
        return number

    return PlainValidator(check)


def _channel(value: Any) -> int:
    number = as_whole(value)
    if number is None:
        raise fail(
            "expected a channel (or page) index, a whole number, 0 for the first; got "
            f"{describe(value)}."
        )
    if number < 0:
        raise fail(f"must be 0 or more (0 is the first channel or page); got {number}.")
    return number


def _rows(value: Any) -> tuple[int, int]:
    example = "e.g. [410, 470]"
    if not isinstance(value, list | tuple):
        raise fail(f"expected two image rows [top, bottom] ({example}); got {describe(value)}.")
    if len(value) != 2:
        raise fail(
            f"expected exactly two image rows [top, bottom] ({example}); got {len(value)} "
            f"values: {describe(value)}."
        )
    top, bottom = (as_whole(v) for v in value)
    if top is None or bottom is None:
        raise fail(f"expected two whole numbers [top, bottom] ({example}); got {describe(value)}.")
    if top < 0 or bottom < 0:
        raise fail(
            f"rows cannot be negative (got [{top}, {bottom}]); row 0 is the top of the image."
        )
    if top >= bottom:
        hint = f"write [{bottom}, {top}]" if top > bottom else "the window needs some height"
        raise fail(
            f"[{top}, {bottom}] is upside down or empty: rows count down from the top of the "
            f"image, so the top row must be smaller than the bottom row; {hint}."
        )
    return top, bottom


#: ``crop: full``: the whole image is membrane (no search for frames at its edges).
CROP_FULL = "full"


def _crop(value: Any) -> tuple[int, int, int, int] | str:
    example = "[left, top, right, bottom] in image pixels, e.g. [120, 40, 980, 620]"
    if isinstance(value, str) and value.strip().lower() == CROP_FULL:
        return CROP_FULL
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise fail(
            f"expected a box {example}, or `{CROP_FULL}` to measure the whole image; "
            f"got {describe(value)}."
        )
    numbers = [as_whole(v) for v in value]
    if any(n is None or n < 0 for n in numbers):
        raise fail(f"expected four whole numbers, none negative: {example}; got {list(value)}.")
    left, top, right, bottom = numbers  # type: ignore[misc]
    if right <= left or bottom <= top:
        raise fail(
            f"the box {list(value)} is empty or upside down: {example}, with left < right and "
            "top < bottom (rows count down from the top of the image)."
        )
    return left, top, right, bottom  # type: ignore[return-value]


def _rotate(value: Any) -> float:
    allowed = (
        f"90, 180 or 270 (quarter turns, clockwise), or a small angle of at most "
        f"{MAX_ROTATE_DEG:g} degrees either way to straighten a tilted membrane (e.g. 1.5 or -2)"
    )
    angle = as_number(value)
    if angle is None:
        raise fail(f"expected {allowed}; got {describe(value)}.")
    turned = angle % 360.0
    if turned in (0.0, 90.0, 180.0, 270.0):
        return turned
    if abs(angle) <= MAX_ROTATE_DEG:
        return float(angle)
    raise fail(f"expected {allowed}; got {value}.")


def _ladder(value: Any) -> dict[str, Any]:
    example = "e.g. {lane: 1, kda: [250, 150, 100, 75, 50, 37]}"
    if not isinstance(value, dict) or set(value) != {"lane", "kda"}:
        raise fail(
            f"expected the ladder's lane and its marks in kDa ({example}); got {describe(value)}."
        )
    lane = as_whole(value["lane"])
    sizes = value["kda"]
    if lane is None or lane < 1:
        raise fail(f"`lane` must be the ladder's lane number, 1 or more ({example}).")
    numbers = [as_number(v) for v in sizes] if isinstance(sizes, list | tuple) else [None]
    if len(numbers) < 2 or any(n is None or n <= 0 for n in numbers):
        raise fail(f"`kda` must list at least two mark sizes in kDa ({example}).")
    if any(a <= b for a, b in zip(numbers, numbers[1:], strict=False)):
        raise fail("`kda` must run from the largest mark (top of the membrane) to the smallest.")
    return {"lane": lane, "kda": [float(n) for n in numbers]}


def _centers(value: Any) -> tuple[float, ...]:
    example = "one centre per lane in image columns, left to right, e.g. [40, 95, 150]"
    if not isinstance(value, list | tuple) or not value:
        raise fail(f"expected a list of lane centres ({example}); got {describe(value)}.")
    numbers = [as_number(v) for v in value]
    bad = [v for v, n in zip(value, numbers, strict=True) if n is None]
    if bad:
        raise fail(f"expected numbers ({example}); got {describe(bad[0])} in the list.")
    if any(n < 0 for n in numbers):  # type: ignore[operator]
        raise fail("lane centres cannot be negative; column 0 is the left edge of the image.")
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):  # type: ignore[operator]
        raise fail(
            f"lane centres must increase from left to right (lane 1 first); got {list(value)}."
        )
    return tuple(float(n) for n in numbers)  # type: ignore[arg-type]


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise fail("is empty; write the value (text or a number).")
        return value.strip()
    if isinstance(value, bool | int | float):
        return value
    raise fail(f"expected a single value (text or a number); got {describe(value)}.")


def _meta_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.strip()
    raise fail(
        f"expected a single value (text or a number) for this lane key; got {describe(value)}."
    )


def _key_list(value: Any) -> list[str]:
    if isinstance(value, str):  # `summary_by: treatment` means [treatment]
        value = [value]
    if not isinstance(value, list | tuple):
        raise fail(f"expected a list of lane keys (e.g. [cell_line]); got {describe(value)}.")
    keys: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise fail(
                f"expected lane keys (names such as cell_line); got {describe(item)} in the list."
            )
        keys.append(item.strip())
    return keys


def _path_text(value: Any) -> str:
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise fail(f"expected a file or folder path (text); got {describe(value)}.")
    value = value.strip()
    if not value:
        raise fail("is empty; write a path, relative to the config's folder.")
    if "\x00" in value:
        raise fail("contains a NUL character, which no file name can hold.")
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
PathText = Annotated[str, PlainValidator(_path_text)]
Polarity = Annotated[models.Polarity, _choice(POLARITIES)]
DoubletBand = Annotated[models.DoubletBand, _choice(DOUBLET_BANDS)]
Stain = Annotated[models.Stain, _choice(get_args(models.Stain))]
Background = Annotated[str, _choice(BACKGROUND_METHODS)]
Role = Annotated[models.LaneRole, _choice(LANE_ROLES)]
Channel = Annotated[int, PlainValidator(_channel)]
Radius = Annotated[float, _number("a radius in pixels, a number above 0 (e.g. 50)", gt=0)]
LaneWidth = Annotated[
    float | str, _number("`auto` or a width in pixels above 0 (e.g. 40)", auto=True, gt=0)
]
Saturation = Annotated[
    float | str,
    _number(
        "`auto` (the image type's limit: 255, 65535, or 0 for dark bands) or the pixel value "
        "at which the detector saturates (e.g. 65000)",
        auto=True,
        ge=0,
    ),
]
Margin = Annotated[
    int | str,
    _number(
        "`auto` (from the band's width) or a number of rows, a whole number of 1 or more (e.g. 3)",
        whole=True,
        auto=True,
        ge=1,
    ),
]
Positive = Annotated[float, _number("a positive number", gt=0)]
Fraction = Annotated[float, _number("a fraction between 0 and 1 (e.g. 0.15)", gt=0, lt=1)]
Rows = Annotated[tuple[int, int], PlainValidator(_rows)]
Crop = Annotated[tuple[int, int, int, int] | str, PlainValidator(_crop)]
Rotate = Annotated[float, PlainValidator(_rotate)]
Centers = Annotated[tuple[float, ...], PlainValidator(_centers)]
Ladder = Annotated[dict[str, Any], PlainValidator(_ladder)]
Scalar = Annotated[Any, PlainValidator(_scalar)]
MetaValue = Annotated[Any, PlainValidator(_meta_value)]
KeyList = Annotated[list[str], PlainValidator(_key_list)]
Items = Annotated[list[Any], Field(min_length=1)]
#: One antibody name, or a list of them (loading controls).
Names = Text | Annotated[list[Text], Field(min_length=1)]
#: Lane keys and the values the control lanes have.
Control = Annotated[dict[Text, Scalar], Field(min_length=1)]
NormalizeTo = Annotated[models.NormalizeTo, _choice(get_args(models.NormalizeTo))]


# --- the config's shape --------------------------------------------------------------------
# Each kind of mapping is checked on its own (nested lists are typed list[Any] and
# their entries validated one by one), so one bad entry does not hide problems in
# the others. Every field is optional to pydantic; `required` is checked by the
# Collector so the rest of an entry is still usable when a required key is missing.


class Model(BaseModel):
    """A kind of mapping in the config (``kind`` names it in messages)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)
    required: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = ""


class AnalysisModel(Model):
    """``analysis``: defaults for every image; the fields of AnalysisSettings, as YAML."""

    kind: ClassVar[str] = "analysis"
    polarity: Polarity | None = None
    background: Background | None = None
    rolling_ball_radius: Radius | None = None
    lane_width: LaneWidth | None = None
    saturation_level: Saturation | None = None
    background_margin: Margin | None = None


if tuple(AnalysisModel.model_fields) != ANALYSIS_KEYS:  # pragma: no cover - a developer's slip
    raise ImportError("config AnalysisModel must list models.AnalysisSettings' fields in order")


class _ImageKeysModel(AnalysisModel):
    channel: Channel | None = None
    band_rows: Rows | None = None
    band: DoubletBand | None = None
    lane_centers: Centers | None = None
    ladder: Ladder | None = None
    band_kda: Positive | None = None
    band_kda_tolerance: Fraction | None = None
    crop: Crop | None = None
    rotate: Rotate | None = None
    stain: Stain | None = None


class RegionModel(_ImageKeysModel):
    """An entry of an image's ``regions``: one strip of the image."""

    kind: ClassVar[str] = "region"
    required: ClassVar[tuple[str, ...]] = ("antibody", "rows")
    antibody: Text | None = None
    rows: Rows | None = None


class ImageModel(_ImageKeysModel):
    """An entry of a membrane's ``images``."""

    kind: ClassVar[str] = "image"
    required: ClassVar[tuple[str, ...]] = ()  # (file, or exposures: checked by the reader)
    file: PathText | None = None
    antibody: Text | None = None
    regions: Items | None = None
    #: the same membrane imaged at several exposures, instead of one file
    exposures: Items | None = None


class ExposureModel(Model):
    """An entry of an image's ``exposures``: a file and, where known, its exposure time."""

    kind: ClassVar[str] = "exposure"
    required: ClassVar[tuple[str, ...]] = ("file",)
    file: PathText | None = None
    seconds: Positive | None = None


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


class MembraneModel(Model):
    """An entry of ``membranes``."""

    kind: ClassVar[str] = "membrane"
    required: ClassVar[tuple[str, ...]] = ("name", "lanes", "images")
    name: Text | None = None
    lanes: Items | None = None
    images: Items | None = None


class LaneModel(Model):
    """An entry of ``lanes``: ``role`` and any metadata keys."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
    kind: ClassVar[str] = "lane"
    __pydantic_extra__: dict[str, MetaValue]
    role: Role | None = None


class PairModel(Model):
    """An entry of ``pairs``."""

    kind: ClassVar[str] = "pair"
    required: ClassVar[tuple[str, ...]] = ("phospho", "total")
    phospho: Text | None = None
    total: Text | None = None
    #: each band over its lane's loading first (the same for both, or one per band)
    loading: Names | None = None
    phospho_loading: Names | None = None
    total_loading: Names | None = None
    #: this pair's own fold-change reference (default: the top-level keys)
    control: Control | None = None
    normalize_within: KeyList | None = None
    normalize_to: NormalizeTo | None = None


class LoadingPairModel(Model):
    """An entry of ``pairs`` that is a target over loading control(s)."""

    kind: ClassVar[str] = "pair"
    required: ClassVar[tuple[str, ...]] = ("target", "loading")
    target: Text | None = None
    loading: Names | None = None
    control: Control | None = None
    normalize_within: KeyList | None = None
    normalize_to: NormalizeTo | None = None


class TopModel(Model):
    """The top level of a config."""

    kind: ClassVar[str] = "top"
    experiment: str | None = None
    output: PathText | None = None
    analysis: Any = None
    pairs: list[Any] | None = None
    control: Control | None = None
    normalize_within: KeyList | None = None
    summary_by: KeyList | None = None
    dose_key: Text | None = None
    normalize_to: NormalizeTo | None = None
    compare: KeyList | None = None
    membranes: list[Any] | None = None
    batches: list[Any] | None = None


#: Each kind of mapping by name; messages list where a key belongs in this order.
KINDS: dict[str, type[Model]] = {
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


# --- pydantic's errors in words ------------------------------------------------------------


def unknown_key(key: str, kind: str) -> str:
    """Word a key that ``kind`` does not have, with a likely fix."""
    if (kind, key) in MISPLACED:
        return f"`{key}` is not a key of {KIND_NAMES[kind]}: {MISPLACED[kind, key]}"
    allowed = list(KINDS[kind].model_fields)
    guess = closest(key, allowed)
    if guess is not None:
        return f"unknown key `{key}`; did you mean `{guess}`?"
    if key in ANALYSIS_KEYS:
        return (
            f"`{key}` is an analysis setting: put it under `analysis:` (for every image) or on "
            "an image, a region or a batch."
        )
    homes = [KIND_NAMES[k] for k, m in KINDS.items() if k != kind and key in m.model_fields]
    if homes:
        return (
            f"`{key}` is not a key of {KIND_NAMES[kind]}; it belongs on "
            f"{' or '.join(homes)}. Move it there."
        )
    return (
        f"unknown key `{key}` in {KIND_NAMES[kind]}; the keys allowed here are "
        f"{', '.join(allowed)}. Fix its spelling or remove it."
    )


_BY_TYPE = {
    "string_type": "expected text; got {value}.",
    "string_too_short": "is empty; write a value or remove the key.",
    "list_type": "expected a list; got {value}.{example}",
    "too_short": "is empty; list at least one entry.{example}",
    "dict_type": "expected a mapping (`key: value` entries); got {value}.{example}",
    "model_type": "expected a mapping (`key: value` entries); got {value}.{example}",
    "model_attributes_type": "expected a mapping (`key: value` entries); got {value}.{example}",
}


def translate(error: Mapping[str, Any], kind: str) -> str:
    """Word one pydantic error (from ``errors()``) on a ``kind`` mapping for a biologist."""
    error_type = error["type"]
    loc = error["loc"]
    names = [p for p in loc if isinstance(p, str)]
    name = names[-1] if names else ""
    value = error.get("input")
    if error_type == "blotquant":
        return str(error["ctx"]["message"])
    if error_type == "missing":
        return MISSING.get(name, f"`{name}` is missing.")
    if error_type == "extra_forbidden":
        return unknown_key(str(loc[-1]), kind)
    example = f" Write it like {EXAMPLES[name]}." if name in EXAMPLES else ""
    if value is None:
        return f"has no value.{example or ' Write a value or remove the key.'}"
    if error_type in _BY_TYPE:
        return _BY_TYPE[error_type].format(value=describe(value), example=example)
    return f"{error.get('msg', 'is not valid')} (got {describe(value)})."
