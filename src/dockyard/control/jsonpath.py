"""The JSONPath that batch transform's DataProcessing filters speak (pure).

SageMaker supports a small part of JSONPath for ``InputFilter`` and ``OutputFilter``
("Associate Prediction Results with Input Records"), and so does this module:

* ``$`` — the whole record;
* ``.name`` or ``['name']`` — a member; ``['a','b']`` — several, kept as an object;
* ``[2]``, ``[-1]`` — an element; ``[0,3]`` — several, as an array;
* ``[1:]``, ``[:3]``, ``[1:4]`` — a slice (end excluded), may be mixed with indexes:
  ``[0,5:]``;
* ``*`` or ``[*]`` — every member or element.

A CSV record is an array of its columns, so ``$[1:]`` drops the first column. An index
or name that is not there is an error (:class:`JsonPathError`), as on AWS ("indexes
that aren't within the dimension size ... you get an error").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class JsonPathError(ValueError):
    """A path that cannot be read, or that selects what the record lacks."""


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Slice:
    start: int | None
    end: int | None


@dataclass(frozen=True)
class Wildcard:
    pass


Selector = Name | Index | Slice | Wildcard


@dataclass(frozen=True)
class Step:
    """One ``.x`` or ``[...]``: one selector picks a value, several build a collection."""

    selectors: tuple[Selector, ...]

    @property
    def single(self) -> bool:
        return len(self.selectors) == 1 and isinstance(self.selectors[0], Name | Index)


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps


def parse(text: str) -> JsonPath:
    """Read ``text``; JsonPathError naming the position of what is not understood."""
    source = text.strip()
    if not source.startswith("$"):
        raise JsonPathError(f"{text!r} must start with $ (the record)")
    steps: list[Step] = []
    at = 1
    while at < len(source):
        char = source[at]
        if char == ".":
            at += 1
            if source.startswith("*", at):
                steps.append(Step((Wildcard(),)))
                at += 1
                continue
            match = _NAME.match(source, at)
            if match is None:
                raise JsonPathError(f"{text!r}: a member name is expected at position {at}")
            steps.append(Step((Name(match.group()),)))
            at = match.end()
        elif char == "[":
            end = _closing(source, at, text)
            steps.append(
                Step(tuple(_selector(part, text) for part in _split(source[at + 1 : end])))
            )
            at = end + 1
        else:
            raise JsonPathError(f"{text!r}: unexpected {char!r} at position {at}")
    return JsonPath(text, tuple(steps))


def _closing(source: str, start: int, text: str) -> int:
    quote: str | None = None
    for at in range(start + 1, len(source)):
        char = source[at]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return at
    raise JsonPathError(f"{text!r}: the [ at position {start} is never closed")


def _split(inner: str) -> list[str]:
    parts, current, quote = [], "", None
    for char in inner:
        if quote:
            current += char
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current += char
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts]


def _selector(part: str, text: str) -> Selector:
    if part == "*":
        return Wildcard()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
        return Name(part[1:-1])
    try:
        if ":" in part:
            low, _, high = part.partition(":")
            return Slice(int(low) if low.strip() else None, int(high) if high.strip() else None)
        return Index(int(part))
    except ValueError:
        raise JsonPathError(
            f"{text!r}: {part!r} is neither a quoted name, an index nor a slice"
        ) from None


def select(path: JsonPath, value: Any) -> Any:
    """What ``path`` picks out of ``value`` (decoded JSON, or a CSV row as a list)."""
    current = value
    for step in path.steps:
        current = _apply(step, current, path.text)
    return current


def _apply(step: Step, value: Any, text: str) -> Any:
    if step.single:
        return _one(step.selectors[0], value, text)
    names = [s for s in step.selectors if isinstance(s, Name)]
    if names and len(names) == len(step.selectors):
        return {s.name: _one(s, value, text) for s in names}
    picked: list[Any] = []
    for selector in step.selectors:
        if isinstance(selector, Slice):
            picked.extend(_sequence(value, text)[selector.start : selector.end])
        elif isinstance(selector, Wildcard):
            picked.extend(value.values() if isinstance(value, Mapping) else _sequence(value, text))
        else:
            picked.append(_one(selector, value, text))
    return picked


def _one(selector: Selector, value: Any, text: str) -> Any:
    if isinstance(selector, Name):
        if not isinstance(value, Mapping) or selector.name not in value:
            raise JsonPathError(f"{text!r}: the record has no member {selector.name!r}")
        return value[selector.name]
    assert isinstance(selector, Index)
    items = _sequence(value, text)
    if not -len(items) <= selector.index < len(items):
        raise JsonPathError(
            f"{text!r}: index {selector.index} is outside the record's {len(items)} elements"
        )
    return items[selector.index]


def _sequence(value: Any, text: str) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    raise JsonPathError(f"{text!r}: the record is not an array")
