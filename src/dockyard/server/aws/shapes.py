"""Requests and answers read and written by botocore's own service models.

The models are the JSON files botocore ships (``botocore/data/<service>/…``), the same
ones the client used to build the request, so a member, type, enum or limit is never
retyped here. Reading a JSON request (:func:`from_wire`) turns only what JSON cannot
carry back into Python (base64 blobs, epoch timestamps); :func:`validate` then runs
botocore's ``ParamValidator`` (required members, types, unknown members, minimums) and
adds the checks that botocore leaves to the service (enums, maximums, patterns).
:func:`to_wire` keeps an answer to the operation's output shape, so clients never see
Dockyard-only fields.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from dockyard.server.aws.errors import AwsError, validation
from dockyard.spec.fields import LOCAL_INSTANCE_TYPES


@functools.cache
def service_model(name: str) -> ServiceModel:
    """Botocore's model of ``name`` (``sagemaker``, ``sagemaker-runtime``…)."""
    return botocore.session.get_session().get_service_model(name)


def documented_errors(operation: OperationModel) -> frozenset[str]:
    """The error shapes botocore's model lists for ``operation``."""
    return frozenset(shape.name for shape in operation.error_shapes)


# -- reading ------------------------------------------------------------------------------


def from_wire(shape: Shape | None, value: Any) -> Any:
    """A JSON value as botocore's validator expects it: blobs as bytes, timestamps as
    datetimes. Anything of the wrong kind is left as it came, for the validator to name."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: from_wire(members.get(key), item) for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [from_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_wire(shape.value, v) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            return value
    if kind == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return value


def validate(
    shape: StructureShape | None, params: Mapping[str, Any], code: str = "ValidationException"
) -> None:
    """Refuse ``params`` with the service's validation error (``code``: SageMaker's
    ValidationException, ECS's InvalidParameterException…) listing every problem."""
    if shape is None:
        return
    problems: list[str] = []
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
    problems += list(_constraints(shape, params, ""))
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(problems), code)


def _constraints(shape: Shape, value: Any, path: str) -> Iterator[str]:
    """What botocore's validator does not check: enum values, maximums, patterns."""
    kind = shape.type_name
    limits = shape.metadata
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members
        for key, item in value.items():
            if key in members and item is not None:
                yield from _constraints(members[key], item, _join(path, key))
    elif kind == "list" and isinstance(value, list):
        if "max" in limits and len(value) > limits["max"]:
            yield _failed(
                path,
                f"{len(value)} items",
                f"Member must have length less than or equal to {limits['max']}",
            )
        for index, item in enumerate(value):
            yield from _constraints(shape.member, item, f"{path}.{index + 1}.member")
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in limits and len(value) > limits["max"]:
            yield _failed(
                path,
                f"{len(value)} entries",
                f"Map must have length less than or equal to {limits['max']}",
            )
        for key, item in value.items():
            yield from _constraints(shape.key, key, f"{path}.key")
            yield from _constraints(shape.value, item, f"{path}.{key}")
    elif kind == "string" and isinstance(value, str):
        yield from _string(shape, value, path)
    elif (
        kind in ("integer", "long", "float", "double")
        and isinstance(value, int | float)
        and "max" in limits
        and value > limits["max"]
    ):
        yield _failed(path, value, f"Member must have value less than or equal to {limits['max']}")


def _string(shape: Shape, value: str, path: str) -> Iterator[str]:
    enum = shape.enum
    if enum and value not in enum and not _local_instance_type(shape, value):
        yield _failed(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return
    limits = shape.metadata
    if "max" in limits and len(value) > limits["max"]:
        yield _failed(path, value, f"Member must have length less than or equal to {limits['max']}")
    pattern = _compiled(limits.get("pattern"))
    if pattern is not None and not pattern.search(value) and not _local_uri(limits, value):
        yield _failed(
            path, value, f"Member must satisfy regular expression pattern: {limits['pattern']}"
        )


def _local_instance_type(shape: Shape, value: str) -> bool:
    """Dockyard's own instance types (``local``: no caps) where AWS's enum names ml.*."""
    return shape.name.endswith("InstanceType") and value in LOCAL_INSTANCE_TYPES


def _local_uri(limits: Mapping[str, Any], value: str) -> bool:
    """Dockyard also reads ``file:///absolute/path`` where AWS wants an ``s3://`` URI
    (data and model artifacts on the daemon's machine, as in the SDK's local mode)."""
    return "s3" in str(limits.get("pattern", "")) and value.startswith("file:///")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    """The model's pattern, anchored at both ends as AWS applies it; None where Python's
    ``re`` cannot read it (``\\p{…}`` classes), which leaves that check to the spec."""
    if not pattern:
        return None
    body = pattern.removeprefix("^").removesuffix("$")
    try:
        return re.compile(f"^(?:{body})$", re.DOTALL)
    except re.error:
        return None


def _join(path: str, key: str) -> str:
    """AWS names members in its messages in lower camel case: ``algorithmSpecification``."""
    name = key[:1].lower() + key[1:]
    return f"{path}.{name}" if path else name


def _failed(path: str, value: object, constraint: str) -> str:
    return f"Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"


# -- writing ------------------------------------------------------------------------------


def to_wire(shape: Shape | None, value: Any) -> Any:
    """An answer kept to ``shape``: unknown members and None dropped, datetimes as
    epoch seconds, bytes as base64 (the JSON protocols' encodings)."""
    if shape is None or value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members
        out = {k: to_wire(members[k], v) for k, v in value.items() if k in members}
        return {k: v for k, v in out.items() if v is not None}
    if kind == "list" and isinstance(value, list | tuple):
        return [to_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        return {str(k): to_wire(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return value.timestamp()
    if kind == "timestamp" and isinstance(value, str):
        return _epoch(value)
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, str):
        return str(value)  # a StrEnum as its plain value
    return value


def _epoch(text: str) -> float | str:
    """An ISO 8601 time as epoch seconds (what JSON protocols send); other text as is."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def require_operation(service: ServiceModel, name: str) -> OperationModel:
    """The operation ``name`` of ``service``; AWS's UnknownOperationException if the
    model has no such operation."""
    if name not in service.operation_names:
        raise AwsError(
            "UnknownOperationException",
            f"{service.service_id} has no operation {name!r}",
        )
    return service.operation_model(name)
