"""AWS's own service models, read once, as the source of truth for names and limits.

botocore ships the JSON models AWS generates its SDKs from (``data/<service>/<date>/
service-2.json``). Field names, enums, patterns and numeric limits are read from there
instead of being retyped, so a newer botocore brings newer enum values with it and a
test can assert that Dockyard's models agree with AWS's.

Only the three services the spec layer describes are loaded; each is read once per
process (the files are a few MB) and treated as read-only afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from botocore.loaders import Loader

Service = Literal["ecs", "sagemaker", "ecr"]


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
    """:func:`pattern` compiled for :meth:`re.Pattern.fullmatch` (AWS anchors every pattern)."""
    text = pattern(service, name)
    return None if text is None else re.compile(text)


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
