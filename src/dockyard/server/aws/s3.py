"""S3 on the AWS front: the artifact store answers boto3, the AWS CLI and the SageMaker
SDK as S3 does, so ``s3://bucket/key`` is one thing for a client and for a job.

A request is S3's when its SigV4 credential scope names the ``s3`` service (S3 and
the JSON services share ``http://127.0.0.1:9090``; botocore addresses buckets in the
path, ``/bucket/key``, for an ``endpoint_url`` like that; ``Host: bucket.localhost``
works too). The operation is found in botocore's ``s3`` model: the method, the
``requestUri`` path, the query keys it fixes (``?uploads``, ``?list-type=2``) and the
required header and query members (``x-amz-copy-source``, ``uploadId``) — the most
specific match wins, so any S3 operation is recognised and those Dockyard does not
run answer ``NotImplemented`` naming it. Input members are read from where the model
puts them and checked by botocore's validator; output members are written back as
headers and XML (:mod:`.s3wire`).

Bodies stream: an upload is written to a temporary file as it arrives while its MD5,
SHA-256 and checksum are computed, checked against ``X-Amz-Content-SHA256``,
``Content-MD5`` and ``x-amz-checksum-*`` (sent as headers or ``aws-chunked``
trailers), and only then renamed into place; a download streams from the open file.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.auth import S3SigV4Auth
from botocore.model import OperationModel, Shape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.artifacts.objects import Digests, Incoming, LocalObjects, ObjectError
from dockyard.errors import DockyardError
from dockyard.server.aws import s3wire
from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.s3ops import HANDLERS, S3Call, S3Result
from dockyard.server.aws.shapes import service_model, validate
from dockyard.server.aws.sigv4 import Caller, SignedRequest, verify
from dockyard.server.platform import Platform

#: SigV4 refusals under the names S3 gives them
_AUTH_ERRORS = {
    "MissingAuthenticationToken": "AccessDenied",
    "IncompleteSignature": "AuthorizationHeaderMalformed",
    "UnrecognizedClientException": "InvalidAccessKeyId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
}
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/s3/aws4_request")
MAX_XML_BODY = 2 * 1024 * 1024
_STREAMING_PAYLOADS = ("STREAMING-",)


def is_s3(headers: Mapping[str, str], query: str) -> bool:
    """A request signed for the ``s3`` service (header or presigned query)."""
    return bool(_SCOPE.search(headers.get("authorization", ""))) or (
        "%2Fs3%2Faws4_request" in query or "/s3/aws4_request" in query
    )


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    literals: tuple[tuple[str, str | None], ...]  # query keys the requestUri fixes
    required: tuple[tuple[str, str], ...]  # (location, wire name) of required members


@functools.cache
def _routes() -> tuple[Route, ...]:
    model = service_model("s3")
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        if operation.endpoint_discovery or "hostPrefix" in (operation.endpoint or {}):
            continue  # S3 Object Lambda and the like live on other hosts
        path, _, query = str(http.get("requestUri", "/")).partition("?")
        literals = tuple((k, v or None) for k, v in parse_qsl(query, keep_blank_values=True))
        required = []
        shape = operation.input_shape
        for member_name in shape.required_members if shape is not None else []:
            member = shape.members[member_name]
            where = member.serialization.get("location")
            if where in ("header", "querystring"):
                required.append((where, member.serialization.get("name", member_name).lower()))
        routes.append(Route(name, http["method"], _pattern(path), literals, tuple(required)))
    return tuple(routes)


def _pattern(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            greedy = part.endswith("+}")
            group = part[1:-1].rstrip("+")
            out += f"(?P<{group}>{'.+' if greedy else '[^/]+'})"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}$")


def find_operation(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> tuple[str, dict[str, str]] | None:
    """The S3 operation a request is for, and its path members (decoded)."""
    best: tuple[int, str, dict[str, str]] | None = None
    for route in _routes():
        if route.method != method:
            continue
        match = route.pattern.match(path)
        if match is None:
            continue
        if any(k not in query or (v is not None and query[k] != v) for k, v in route.literals):
            continue
        present = [
            (headers if where == "header" else _lower_keys(query)).get(wire) is not None
            for where, wire in route.required
        ]
        if not all(present):
            continue
        score = len(route.literals) + len(route.required)
        if best is None or score > best[0]:
            members = {k: unquote(v) for k, v in match.groupdict().items()}
            best = (score, route.name, members)
    return (best[1], best[2]) if best else None


def _lower_keys(query: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in query.items()}


class S3Front:
    """Answers the S3 requests the AWS front hands over."""

    def __init__(self, platform: Platform, keys: AccessKeys) -> None:
        self.keys = keys
        store = platform.artifacts
        self.objects = LocalObjects(store) if isinstance(store, LocalArtifactStore) else None
        self.model = service_model("s3")

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex[:16].upper()
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = _bucket_path(raw_path, headers.get("host", ""))
        try:
            caller = self._verify(request, raw_path, headers)
            query = dict(parse_qsl(request.url.query, keep_blank_values=True))
            found = find_operation(request.method, path, query, headers)
            if found is None:
                raise AwsError(
                    "MethodNotAllowed",
                    f"The specified method is not allowed against this resource: "
                    f"{request.method} {path}",
                    405,
                )
            name, path_members = found
            handler = HANDLERS.get(name)
            if handler is None:
                raise AwsError(
                    "NotImplemented",
                    f"Dockyard does not implement S3 {name} yet; docs/aws-api.md lists the "
                    "S3 operations it does",
                    501,
                )
            if self.objects is None:
                raise AwsError("NotImplemented", "this daemon's artifacts are not on its disk", 501)
            operation = self.model.operation_model(name)
            params = _read_input(operation, path_members, query, headers)
            await self._read_payload(request, operation, params, headers, caller)
            call = S3Call(self.objects, params, caller.region)
            try:
                result = await run_in_threadpool(handler, call)
            finally:
                body = params.get("Body")
                if isinstance(body, Incoming):
                    body.discard()
            return _answer(operation, result, request_id, request.method)
        except ObjectError as error:
            members = _error_members(error.s3_code, path)
            aws = AwsError(error.s3_code, error.message, error.http_status, members)
            return _error(aws, request_id, path, request)
        except AwsError as error:
            return _error(error, request_id, path, request)
        except DockyardError as error:
            return _error(AwsError("InvalidArgument", str(error)), request_id, path, request)

    def _verify(self, request: Request, raw_path: str, headers: Mapping[str, str]) -> Caller:
        if "authorization" not in headers:
            raise AwsError(
                "NotImplemented",
                "Dockyard's S3 does not take presigned URLs yet; sign requests with the "
                "Authorization header",
                501,
            )
        signed = SignedRequest(request.method, raw_path, request.url.query, headers, b"")
        try:
            return verify(signed, self.keys, signer=S3SigV4Auth)
        except AwsError as error:
            code = _AUTH_ERRORS.get(error.code, error.code)
            if error.message.startswith("Signature expired"):
                code = "RequestTimeTooSkewed"
            raise AwsError(code, error.message, error.status) from None

    async def _read_payload(
        self,
        request: Request,
        operation: OperationModel,
        params: dict[str, Any],
        headers: Mapping[str, str],
        caller: Caller,
    ) -> None:
        """The body into ``params``: a streaming blob received to a file (checked
        before anything is stored), a structure read from XML; then the whole input
        validated by the model."""
        shape = operation.input_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        member = shape.members[payload] if shape is not None and payload else None
        streaming = member is not None and member.type_name == "blob"
        if member is not None and not streaming:
            raw = await _small_body(request)
            _check_digests(_digests_of(raw), headers, {}, checksums_out={})
            if raw.strip():
                params[str(payload)] = s3wire.parse(member, raw)
        validate(shape, params, "InvalidArgument")
        if streaming:
            await run_in_threadpool(_precheck, self.objects, operation.name, params)
            assert self.objects is not None
            params["Body"], params["__checksums"] = await self._receive(request, headers, caller)

    async def _receive(
        self, request: Request, headers: Mapping[str, str], caller: Caller
    ) -> tuple[Incoming, dict[str, str]]:
        """The body in a temporary file, and the checksums it was sent with (verified)."""
        assert self.objects is not None
        body = await run_in_threadpool(self.objects.receive)
        try:
            content_sha = headers.get("x-amz-content-sha256", "")
            decoder = None
            if content_sha.startswith(_STREAMING_PAYLOADS):
                decoder = s3wire.AwsChunked(self._chunk_signing(content_sha, headers, caller))
            async for chunk in request.stream():
                data = decoder.feed(chunk) if decoder is not None else chunk
                if data:
                    body.write(data)
            request.state.body_read = True
            trailers: dict[str, str] = {}
            if decoder is not None:
                decoder.close()
                trailers = decoder.trailers
                declared = headers.get("x-amz-decoded-content-length")
                if declared is not None and declared != str(body.size):
                    raise AwsError(
                        "IncompleteBody",
                        f"x-amz-decoded-content-length is {declared} but the body held "
                        f"{body.size} bytes",
                    )
            seen: dict[str, str] = {}
            _check_digests(body, headers, trailers, checksums_out=seen)
            body.close()
            return body, seen
        except BaseException:
            body.discard()
            raise

    def _chunk_signing(
        self, content_sha: str, headers: Mapping[str, str], caller: Caller
    ) -> s3wire.ChunkSigning | None:
        if content_sha.startswith("STREAMING-UNSIGNED"):
            return None
        secret = self.keys.secret_of(caller.access_key_id) or ""
        seed = headers.get("authorization", "").rpartition("Signature=")[2].strip()
        return s3wire.ChunkSigning.derive(
            secret, headers.get("x-amz-date", ""), caller.region, caller.service, seed
        )


def _bucket_path(raw_path: str, host: str) -> str:
    """The path with the bucket in it: ``Host: bucket.localhost`` (virtual-hosted
    style) puts the bucket in front of the path."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if name.endswith(".localhost"):
        bucket = name[: -len(".localhost")]
        return f"/{bucket}" + (raw_path if raw_path != "/" else "")
    if raw_path.count("/") == 2 and raw_path.endswith("/"):
        return raw_path[:-1]  # "/bucket/" is the bucket
    return raw_path


async def _small_body(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_XML_BODY:
            raise AwsError("MaxMessageLengthExceeded", "Your request was too big.")
    request.state.body_read = True
    return bytes(data)


def _digests_of(raw: bytes) -> Digests:
    digests = Digests()
    digests.update(raw)
    return digests


def _check_digests(
    digests: Digests,
    headers: Mapping[str, str],
    trailers: Mapping[str, str],
    *,
    checksums_out: dict[str, str],
) -> None:
    """The body is the one the client hashed: X-Amz-Content-SHA256 (when it is a
    hash), Content-MD5 and each ``x-amz-checksum-<algorithm>`` header or trailer."""
    content_sha = headers.get("x-amz-content-sha256", "")
    if re.fullmatch(r"[0-9a-f]{64}", content_sha) and content_sha != digests.sha256_hex:
        raise AwsError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    md5 = headers.get("content-md5")
    if md5 is not None:
        try:
            sent = base64.b64decode(md5, validate=True)
        except binascii.Error:
            sent = b""
        if len(sent) != 16:
            raise AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.")
        if sent != digests.md5:
            raise AwsError(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
    for name, value in {**headers, **trailers}.items():
        if not name.startswith("x-amz-checksum-") or name in (
            "x-amz-checksum-algorithm",
            "x-amz-checksum-type",
            "x-amz-checksum-mode",
        ):
            continue
        algorithm = name.removeprefix("x-amz-checksum-").upper()
        computed = digests.checksum(algorithm)
        if computed is None:
            raise AwsError(
                "InvalidRequest",
                f"Dockyard verifies CRC32, SHA1 and SHA256 checksums; {algorithm} is not "
                "supported (leave the default CRC32)",
            )
        if value != computed:
            raise AwsError(
                "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
            )
        checksums_out[algorithm] = value


def _precheck(objects: LocalObjects | None, name: str, params: Mapping[str, Any]) -> None:
    """Refuse an upload to nowhere before its body is read."""
    assert objects is not None
    if name == "UploadPart":
        objects.upload(params["Bucket"], params["Key"], params["UploadId"])
    else:
        objects.object_path(params["Bucket"], params["Key"])


def _read_input(
    operation: OperationModel,
    path_members: Mapping[str, str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    shape = operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            value: Any = path_members.get(wire.rstrip("+"))
        elif where == "header":
            value = _typed(member, headers.get(wire.lower()), wire)
        elif where == "querystring":
            value = _typed(member, query.get(wire), wire)
        elif where == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            value = found or None
        else:
            continue
        if value is not None:
            params[name] = value
    return params


def _typed(shape: Shape, text: str | None, wire: str) -> Any:
    if text is None:
        return None
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind == "timestamp":
            try:
                return parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AwsError("InvalidArgument", f"{wire} has an invalid value: {text!r}") from None
    return text


def _answer(operation: OperationModel, result: S3Result, request_id: str, method: str) -> Response:
    shape = operation.output_shape
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    payload = shape.serialization.get("payload") if shape is not None else None
    body_members: dict[str, Any] = {}
    for name, value in result.output.items():
        member = shape.members.get(name) if shape is not None else None
        if member is None or value is None:
            continue
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "header":
            headers[wire] = _header_text(member, value)
        elif where == "headers":
            headers.update({f"{wire}{k}": str(v) for k, v in value.items()})
        elif name != payload:
            body_members[name] = value
    status = result.status or int(operation.http.get("responseCode", 200))
    if result.body is not None:
        headers.setdefault("Content-Type", "binary/octet-stream")
        if method == "HEAD":
            result.body.handle.close()
            return Response(b"", status, headers)
        return StreamingResponse(result.body.chunks(), status, headers)
    if operation.name == "GetBucketLocation":
        text = str(result.output.get("LocationConstraint") or "")
        return _xml(s3wire.render_text("LocationConstraint", text), status, headers)
    if payload and shape is not None and payload in result.output:
        member = shape.members[payload]
        root = member.serialization.get("name", member.name)
        return _xml(s3wire.render(root, member, result.output[payload]), status, headers)
    if body_members and shape is not None:
        root = s3wire.ROOTS.get(operation.name, shape.name)
        return _xml(s3wire.render(root, shape, body_members), status, headers)
    if method == "HEAD":
        headers.setdefault("Content-Length", "0")
    return Response(b"", status, headers)


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return s3wire.http_time(float(value))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _xml(body: bytes, status: int, headers: dict[str, str]) -> Response:
    return Response(body, status, {**headers, "Content-Type": s3wire.XML_TYPE})


def _error_members(code: str, path: str) -> dict[str, str]:
    """The element S3 adds to an error: the missing key or bucket."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if code == "NoSuchKey":
        return {"Key": key}
    if code == "NoSuchBucket":
        return {"BucketName": bucket}
    return {}


def _error(error: AwsError, request_id: str, path: str, request: Request) -> Response:
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    sent = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in (
        request.headers
    )
    if sent and not getattr(request.state, "body_read", False):
        # refused before its body was read: what is left of it must not be taken for
        # the next request on this connection
        headers["Connection"] = "close"
    if error.status == 304 or request.method == "HEAD":
        return Response(b"", error.status, headers)
    body = s3wire.error_xml(error, request_id, unquote(path))
    return Response(body, error.status, {**headers, "Content-Type": s3wire.XML_TYPE})
