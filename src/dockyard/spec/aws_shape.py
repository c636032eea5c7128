"""Type-check a whole request against botocore's shape for it, every member at every depth.

The spec models declare the fields Dockyard acts on; AWS's requests have many more
(``dockerLabels``, ``linuxParameters.devices``, ``tags``…). Rather than retype those,
:func:`check_shape` walks the botocore shape that describes the request and the JSON
side by side, so a member the models never mention is still held to AWS's rules:

* structures: an object; ``required`` members present; no key the shape lacks (the
  problem names the closest real member); a union sets exactly one member;
* lists and maps: the right container, ``min``/``max`` entries, every entry and key
  checked against its own shape;
* strings: a string; enum values (with a did-you-mean), ``min``/``max`` length, and
  the shape's ``pattern``;
* integers and longs: a whole number (``true`` is not one), within ``min``/``max``;
  doubles: any number; booleans: ``true``/``false``.

It returns every problem instead of stopping at the first, each located by the JSON
path a user can find in their file. Where a Dockyard document departs from AWS's on
purpose (``file://`` data locations, InstanceType ``local``, a Dockyard-only member),
the spec model says so with :class:`Relaxations`, and those values alone are left to
the model to judge. It knows nothing of ECS: the rules AWS keeps in its
documentation rather than its model live beside the spec models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from dockyard.spec import aws_model
from dockyard.spec.errors import PathItem, Problem, did_you_mean, format_path

Path = tuple[PathItem, ...]
_MAX_LISTED = 12
_INTEGER_TYPES = ("integer", "long")
_NUMBER_TYPES = ("double", "float")


@dataclass(frozen=True)
class Relaxations:
    """Where a document may depart from AWS's shape, each departure documented by the
    spec model that declares it (which then checks those values itself).

    ``optional``: ``(structure, member)`` pairs AWS requires and Dockyard defaults.
    ``extra_members``: ``(structure, member)`` pairs only Dockyard knows.
    ``local_values``: per string shape, a test for values accepted locally beside AWS's
    (``S3Uri``: ``file:///path``).
    """

    optional: frozenset[tuple[str, str]] = frozenset()
    extra_members: frozenset[tuple[str, str]] = frozenset()
    local_values: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)


NO_RELAXATIONS = Relaxations()


def check_shape(
    service: aws_model.Service,
    shape: str,
    value: Any,
    at: Path = (),
    *,
    relax: Relaxations = NO_RELAXATIONS,
) -> list[Problem]:
    """Every way ``value`` breaks botocore's shape ``shape`` of ``service``; [] if none."""
    return _Walker(service, relax).check(shape, value, at)


class _Walker:
    def __init__(self, service: aws_model.Service, relax: Relaxations = NO_RELAXATIONS) -> None:
        self.service: aws_model.Service = service
        self.relax = relax
        self.problems: list[Problem] = []

    def check(self, shape: str, value: Any, at: Path) -> list[Problem]:
        self._value(shape, value, at)
        return self.problems

    def _add(self, at: Path, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(at, message, hint))

    def _value(self, shape: str, value: Any, at: Path) -> None:
        accepts_locally = self.relax.local_values.get(shape)
        if accepts_locally is not None and accepts_locally(value):
            return
        definition = aws_model.shape(self.service, shape)
        kind = str(definition["type"])
        if kind == "structure":
            self._structure(shape, definition, value, at)
        elif kind == "list":
            self._list(shape, definition, value, at)
        elif kind == "map":
            self._map(shape, definition, value, at)
        elif kind == "string":
            self._string(shape, definition, value, at)
        elif kind in _INTEGER_TYPES:
            self._integer(definition, value, at)
        elif kind in _NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._add(at, "must be a number", "write a number without quotes, for example 1.5")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self._add(at, "must be true or false", "write true or false without quotes")
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                self._add(at, "must be a time", "write seconds since the epoch or an ISO 8601 time")
        elif kind == "blob" and not isinstance(value, str):
            self._add(at, "must be a base64 string", "write the bytes base64-encoded")

    def _structure(self, shape: str, definition: Mapping[str, Any], value: Any, at: Path) -> None:
        if not isinstance(value, Mapping):
            self._add(at, f"must be an object ({shape})", _object_hint(definition))
            return
        members = cast(Mapping[str, Any], definition.get("members", {}))
        for key, item in value.items():
            if (shape, key) in self.relax.extra_members:
                continue
            if not isinstance(key, str) or key not in members:
                self._unknown(str(key), shape, members, (*at, str(key)))
            elif item is not None:  # JSON null means "not given", as boto3 reads it
                self._value(str(members[key]["shape"]), item, (*at, key))
        for name in definition.get("required", []):
            if value.get(name) is None and (shape, name) not in self.relax.optional:
                parent = _where(at)
                self._add((*at, name), "is required", f'add "{name}" to {parent}')
        if definition.get("union"):
            given = [key for key in members if value.get(key) is not None]
            if len(given) != 1:
                self._add(
                    at,
                    f"must set exactly one of its members (got {len(given)})",
                    f"keep one of: {', '.join(members)}",
                )

    def _unknown(self, key: str, shape: str, members: Mapping[str, Any], at: Path) -> None:
        guess = did_you_mean(key, members)
        if guess is not None:
            hint = f'did you mean "{guess}"?'
        else:
            names = list(members)
            more = ", ..." if len(names) > _MAX_LISTED else ""
            hint = f"remove it; {shape} fields are {', '.join(names[:_MAX_LISTED])}{more}"
        self._add(at, f"unknown field (not in {shape})", hint)

    def _list(self, shape: str, definition: Mapping[str, Any], value: Any, at: Path) -> None:
        if not isinstance(value, list | tuple):
            self._add(at, "must be a list", "wrap the value in [ ]")
            return
        self._count(definition, len(value), at)
        member = str(definition["member"]["shape"])
        for index, item in enumerate(value):
            if item is None:
                self._add((*at, index), "must not be null", "remove the entry")
            else:
                self._value(member, item, (*at, index))

    def _map(self, shape: str, definition: Mapping[str, Any], value: Any, at: Path) -> None:
        if not isinstance(value, Mapping):
            self._add(at, "must be an object", 'write it as {"key": "value", ...}')
            return
        self._count(definition, len(value), at)
        key_shape = str(definition["key"]["shape"])
        value_shape = str(definition["value"]["shape"])
        for key, item in value.items():
            self._value(key_shape, key, (*at, str(key)))
            if item is None:
                self._add((*at, str(key)), "must not be null", "give it a value or remove it")
            else:
                self._value(value_shape, item, (*at, str(key)))

    def _count(self, definition: Mapping[str, Any], count: int, at: Path) -> None:
        low, high = definition.get("min"), definition.get("max")
        if low is not None and count < low:
            self._add(at, f"must have at least {low} entries (it has {count})", "add entries")
        if high is not None and count > high:
            self._add(
                at, f"must have at most {high} entries (it has {count})", "remove the extra ones"
            )

    def _string(self, shape: str, definition: Mapping[str, Any], value: Any, at: Path) -> None:
        if not isinstance(value, str):
            hint = None
            if isinstance(value, int | float | bool):
                hint = f"quote the value: write {json.dumps(json.dumps(value))}"
            self._add(at, "must be a string", hint)
            return
        allowed = tuple(cast(list[str], definition.get("enum", [])))
        if allowed and value not in allowed:
            guess = did_you_mean(value, allowed)
            hint = f'did you mean "{guess}"?' if guess else f"use one of: {', '.join(allowed)}"
            self._add(at, f'"{value}" is not a valid {shape}; valid: {", ".join(allowed)}', hint)
            return
        low, high = definition.get("min"), definition.get("max")
        if low is not None and len(value) < low:
            self._add(at, f"must be at least {low} characters long", "give it a longer value")
        if high is not None and len(value) > high:
            self._add(at, f"must be at most {high} characters (got {len(value)})", "shorten it")
        regex = _pattern(self.service, shape)
        if regex is not None and regex.fullmatch(value) is None:
            rule = aws_model.pattern(self.service, shape)
            self._add(at, f'"{value}" is not a valid {shape}', f"match the pattern {rule}")

    def _integer(self, definition: Mapping[str, Any], value: Any, at: Path) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                self._add(
                    at, "must be a whole number, not a string", f"write {value} without quotes"
                )
            else:
                self._add(at, "must be a whole number", "write a number without quotes, e.g. 1")
            return
        low, high = definition.get("min"), definition.get("max")
        if low is not None and value < low:
            self._add(at, f"must be at least {low} (got {value})", f"use {low} or more")
        if high is not None and value > high:
            self._add(at, f"must be at most {high} (got {value})", f"use {high} or less")


def _pattern(service: aws_model.Service, shape: str) -> re.Pattern[str] | None:
    try:
        return aws_model.compiled_pattern(service, shape)
    except (ValueError, re.error):  # a Java construct Python cannot express: AWS judges it
        return None


def _where(at: Path) -> str:
    return format_path(at) or "the top level"


def _object_hint(definition: Mapping[str, Any]) -> str:
    members = list(cast(Mapping[str, Any], definition.get("members", {})))[:3]
    shown = ", ".join(f'"{name}": ...' for name in members)
    return f"write it as {{{shown}}}" if shown else "write it as {...}"
