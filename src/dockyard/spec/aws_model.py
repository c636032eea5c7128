"""AWS's own service models, read once, as the source of truth for names and limits.

botocore ships the JSON models AWS generates its SDKs from (``data/<service>/<date>/
service-2.json``). Field names, enums, patterns and numeric limits are read from there
instead of being retyped, so a newer botocore brings newer enum values with it and a
test can assert that Dockyard's models agree with AWS's.

Only the services the spec layer describes are loaded; each is read once per
process (the files are a few MB) and treated as read-only afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from botocore.loaders import Loader

Service = Literal["ecs", "sagemaker", "ecr", "application-autoscaling", "elbv2"]


@dataclass(frozen=True)
class Limits:
    """``min``/``max`` of a shape: a length for strings, lists and maps; a value for numbers."""

    min: float | None
    max: float | None


@cache
def service_model(service: Service) -> Mapping[str, Any]:
    """The whole ``service-2`` model of ``service`` (loaded once per process)."""
    return cast(Mapping[str, Any], Loader().load_service_model(service, "service-2"))


def shape(service: Service, name: str) -> Mapping[str, Any]:
    """The definition of shape ``name``; KeyError naming the service if it does not exist."""
    shapes = cast(Mapping[str, Any], service_model(service)["shapes"])
    try:
        return cast(Mapping[str, Any], shapes[name])
    except KeyError:
        raise KeyError(f"botocore's {service} model has no shape {name!r}") from None


def enum(service: Service, name: str) -> tuple[str, ...]:
    """The allowed values of string shape ``name`` in AWS's order (empty if not an enum)."""
    return tuple(cast(list[str], shape(service, name).get("enum", [])))


def pattern(service: Service, name: str) -> str | None:
    """The regular expression a string shape must match (whole string), if it has one."""
    value = shape(service, name).get("pattern")
    return None if value is None else str(value)


@cache
def compiled_pattern(service: Service, name: str) -> re.Pattern[str] | None:
    """:func:`pattern` compiled for :meth:`re.Pattern.fullmatch` (AWS anchors every pattern).

    AWS writes patterns in Java's dialect; the Unicode classes it uses (``\\p{L}``…)
    are rewritten for Python's :mod:`re` by :func:`python_regex`.
    """
    text = pattern(service, name)
    return None if text is None else re.compile(python_regex(text))


# Java's Unicode categories in terms of Python's Unicode-aware classes: letters are
# word characters that are neither digits nor "_"; numbers are digits; separators are
# whitespace apart from the control characters Python also counts as whitespace.
_UNICODE_CLASSES = {
    "L": r"[^\W\d_]",
    "N": r"\d",
    "Z": r"[^\S\t\n\r\f\v\x1c-\x1f\x85]",
}
_CLASS_WITH_CATEGORIES = re.compile(r"\[((?:\\.|[^\]\\])*\\p\{\w+\}(?:\\.|[^\]\\])*)\]")
_CATEGORY = re.compile(r"\\p\{(\w+)\}")


def python_regex(java: str) -> str:
    """``java`` with ``\\p{L}``, ``\\p{N}`` and ``\\p{Z}`` made understandable to :mod:`re`.

    A bracketed class holding categories becomes an alternation of the categories and
    what is left of the class (``[\\p{L}_.]`` → ``(?:[^\\W\\d_]|[_.])``). A category
    not in the table raises ``ValueError`` rather than matching something else.
    """

    def category(name: str) -> str:
        try:
            return _UNICODE_CLASSES[name]
        except KeyError:
            raise ValueError(f"no Python equivalent of \\p{{{name}}}") from None

    def bracket(match: re.Match[str]) -> str:
        body = match.group(1)
        options = [category(name) for name in _CATEGORY.findall(body)]
        rest = _CATEGORY.sub("", body)
        if rest:
            options.append(f"[{rest}]")
        return f"(?:{'|'.join(options)})"

    text = _CLASS_WITH_CATEGORIES.sub(bracket, java)
    return _CATEGORY.sub(lambda m: category(m.group(1)), text)


def limits(service: Service, name: str) -> Limits:
    """The ``min``/``max`` AWS declares for shape ``name`` (``None`` where it declares none)."""
    definition = shape(service, name)
    low = definition.get("min")
    high = definition.get("max")
    return Limits(
        min=None if low is None else float(low),
        max=None if high is None else float(high),
    )


def members(service: Service, structure: str) -> tuple[str, ...]:
    """The member (field) names of structure ``structure``, in AWS's order."""
    return tuple(cast(Mapping[str, Any], shape(service, structure).get("members", {})))


def required(service: Service, structure: str) -> frozenset[str]:
    """The members AWS requires in structure ``structure``."""
    return frozenset(cast(list[str], shape(service, structure).get("required", [])))


def member_shape(service: Service, structure: str, member: str) -> str:
    """The shape name of ``structure.member`` (to look up its enum, pattern or limits)."""
    member_defs = cast(Mapping[str, Any], shape(service, structure).get("members", {}))
    try:
        return str(member_defs[member]["shape"])
    except KeyError:
        raise KeyError(f"{service} shape {structure!r} has no member {member!r}") from None
