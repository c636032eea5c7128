"""The wire protocols: JSON 1.1 (``X-Amz-Target``) and REST-JSON, as botocore's models
define them.

JSON 1.1 (sagemaker, ecs, ecr, application-autoscaling): ``POST /`` with
``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON body holding the input; the
answer is the output as JSON, ``Content-Type: application/x-amz-json-1.1``.

REST-JSON (sagemaker-runtime): the operation is found by method and path from the
model's ``requestUri``; each input member comes from where the model puts it (path,
header, query string, a blob payload as the raw body, or JSON body members), and the
output goes back the same way (``x-Amzn-Invoked-Production-Variant`` is a header).

Errors in either protocol are ``{"__type", "message"}`` with the status and the
``x-amzn-ErrorType`` header (:class:`~.errors.AwsError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, Shape

from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.service import AwsService
from dockyard.server.aws.shapes import from_wire, require_operation, to_wire, validate

JSON_11 = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, before the web framework sees it."""

    status: int
    body: bytes
    headers: Mapping[str, str]


def error_answer(error: AwsError, content_type: str = JSON_11) -> Answer:
    headers = {"Content-Type": content_type, **error.headers()}
    return Answer(error.status, json.dumps(error.body()).encode(), headers)


# -- JSON 1.1 -----------------------------------------------------------------------------


def json_operation(services: Mapping[str, AwsService], target: str) -> tuple[AwsService, str]:
    """The service and operation an ``X-Amz-Target`` names."""
    prefix, _, name = target.rpartition(".")
    service = services.get(prefix)
    if service is None or not name:
        raise AwsError("UnknownOperationException", f"no service answers X-Amz-Target {target!r}")
    require_operation(service.model, name)
    return service, name


def json_input(
    operation: OperationModel, body: bytes, code: str = "ValidationException"
) -> dict[str, Any]:
    """The request's input, validated against the operation's input shape; a refusal
    is the service's validation error ``code``."""
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise AwsError("SerializationException", f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise AwsError("SerializationException", "the body must be a JSON object")
    validate(operation.input_shape, from_wire(operation.input_shape, doc), code)
    return doc


def json_answer(operation: OperationModel, output: Mapping[str, Any]) -> Answer:
    body = to_wire(operation.output_shape, dict(output)) or {}
    return Answer(200, json.dumps(body).encode(), {"Content-Type": JSON_11})


# -- REST-JSON ----------------------------------------------------------------------------


def rest_operation(
    services: list[AwsService], method: str, path: str
) -> tuple[AwsService, str, dict[str, str]] | None:
    """The service, operation and path members a REST request is for, if any."""
    for service in services:
        model = service.model
        for name in model.operation_names:
            http = model.operation_model(name).http
            if http.get("method", "").upper() != method.upper():
                continue
            match = _uri_pattern(http.get("requestUri", "/")).match(path)
            if match:
                return service, name, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    """``/endpoints/{EndpointName}/invocations`` as a regex over the raw path."""
    path = request_uri.split("?", 1)[0]
    parts = re.split(r"(\{[^}]+\})", path)
    pattern = ""
    for part in parts:
        if part.startswith("{"):
            name = part[1:-1]
            greedy = name.endswith("+")
            group = re.sub(r"\W", "_", name.rstrip("+"))
            pattern += f"(?P<{group}>{'.+' if greedy else '[^/]+'})"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$")


def rest_input(
    operation: OperationModel,
    path_members: Mapping[str, str],
    query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Each input member from where the model puts it; validated as a whole."""
    shape = operation.input_shape
    if shape is None:
        return {}
    queries = dict(parse_qsl(query, keep_blank_values=True))
    payload = shape.serialization.get("payload")
    params: dict[str, Any] = {}
    body_members: dict[str, Any] = {}
    if payload is None and body:
        try:
            body_members = json.loads(body)
        except ValueError as exc:
            raise AwsError("SerializationException", f"the body is not JSON: {exc}") from None
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            value: Any = path_members.get(re.sub(r"\W", "_", wire))
        elif where == "header":
            value = _typed(member, headers.get(wire.lower()))
        elif where == "querystring":
            value = _typed(member, queries.get(wire))
        elif name == payload:
            value = body if member.type_name == "blob" else json.loads(body or b"null")
        else:
            value = body_members.get(name)
        if value is not None:
            params[name] = value
    validate(shape, from_wire(shape, params))
    return params


def _typed(shape: Shape, text: str | None) -> Any:
    """A header or query value as its shape's type (the validator names a bad one)."""
    if text is None or shape.type_name != "integer":
        return text
    try:
        return int(text)
    except ValueError:
        return text


def rest_answer(operation: OperationModel, output: Mapping[str, Any]) -> Answer:
    """Output members to headers and body, as the model places them."""
    shape = operation.output_shape
    headers: dict[str, str] = {}
    body_members: dict[str, Any] = {}
    raw: bytes | None = None
    payload = shape.serialization.get("payload") if shape is not None else None
    members = shape.members if shape is not None else {}
    for name, value in output.items():
        member = members.get(name)
        if member is None or value is None:
            continue
        if member.serialization.get("location") == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif name == payload and isinstance(value, bytes | bytearray):
            raw = bytes(value)
        else:
            body_members[name] = value
    if raw is None:
        raw = json.dumps(to_wire(shape, body_members) or {}).encode()
        headers.setdefault("Content-Type", "application/json")
    return Answer(200, raw, headers)
