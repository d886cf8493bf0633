"""The config file as data: reading it, parsing its YAML, and the line of every key.

YAML syntax errors, keys written twice and self-referring anchors become
:class:`~blotquant.config._messages.Problem` s with their line, like every
other problem in a config.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import yaml

from blotquant.config._messages import EMPTY, ConfigError, Loc, Problem

# Guards against YAML anchors that refer to themselves or expand enormously.
_MAX_DEPTH = 32
_MAX_NODES = 200_000


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


#: A config is a short text; anything bigger is the wrong file (or /dev/zero).
MAX_CONFIG_BYTES = 5_000_000


def read_text(config_path: Path) -> str:
    """Read the config file as text; a ConfigError if it is missing, a folder or not text."""

    def fail(message: str) -> ConfigError:
        return ConfigError(config_path, [Problem((), message)])

    try:
        if config_path.exists() and not config_path.is_dir() and not config_path.is_file():
            raise fail(
                f"{config_path} is not a regular file (a device, a pipe or a socket). "
                "Give the YAML config file."
            )
        with config_path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise fail(
                f"{config_path} is over {MAX_CONFIG_BYTES // 1_000_000} MB: a config is a short "
                "text file. Is this the right file? (Many images are listed with a batch glob, "
                "not one by one.)"
            )
    except FileNotFoundError:
        raise fail(_not_found(config_path)) from None
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
        raise fail(EMPTY)
    return text


def _not_found(config_path: Path) -> str:
    hint = ""
    for suffix in (".yaml", ".yml"):
        candidate = config_path.with_name(config_path.name + suffix)
        if candidate.is_file():
            hint = f" Did you mean {candidate.name}?"
            break
    return (
        f"the config file does not exist: {config_path}.{hint} Check the path (relative "
        f"paths start from the current folder, {Path.cwd()})."
    )


def _yaml_problem(exc: BaseException) -> Problem:
    """Turn a YAML syntax error into a problem with its line."""
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


def _node_lines(root: yaml.Node) -> tuple[dict[Loc, int], list[Problem]]:
    """Line of every key path, and keys written twice in one mapping."""
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[Loc, yaml.Node]] = [((), root)]
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


def read_yaml(text: str) -> tuple[Any, dict[Loc, int], list[Problem]]:
    """Parse YAML text.

    Returns
    -------
    data : object
        What the YAML holds (None if it cannot be parsed).
    lines : dict
        The line (from 1) of each key path.
    problems : list of Problem
        Syntax errors and keys written twice.
    """
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


class TooBig(Exception):
    """The data is nested too deeply or holds too many values to be a config."""


def plain(value: Any, depth: int = 0, count: list[int] | None = None) -> Any:
    """Copy the data with dates and paths as text and tuples as lists.

    Raises
    ------
    TooBig
        Deeper than 32 levels or more than 200,000 values (anchors gone wild).
    """
    count = [0] if count is None else count
    count[0] += 1
    if depth > _MAX_DEPTH or count[0] > _MAX_NODES:
        raise TooBig
    if isinstance(value, Mapping):
        return {_plain_key(k): plain(v, depth + 1, count) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, depth + 1, count) for v in value]
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return value


def _plain_key(key: Any) -> Any:
    if isinstance(key, _dt.date | _dt.time):
        return key.isoformat()
    return key
