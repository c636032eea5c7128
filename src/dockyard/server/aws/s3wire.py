"""S3's REST-XML wire format, read from botocore's ``s3`` model: XML bodies in and out,
S3's error XML, byte ranges, and the ``aws-chunked`` body encoding.

Bodies are written member by member from the operation's output shape (element names
from the members' ``locationName``, flattened lists as repeated elements, times as
ISO 8601), under the root element S3 uses for the operation (the model does not name
it). Request bodies (CompleteMultipartUpload's part list, DeleteObjects' keys) are
read the same way from the input shape.

``aws-chunked`` is how SigV4 clients stream a body whose hash they cannot know up
front: ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` … a zero-size chunk, then
trailer lines (``x-amz-checksum-crc32:…``) and an empty line. Each chunk's signature
chains to the previous one, starting from the request's own signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from botocore.model import Shape

from dockyard.server.aws.errors import AwsError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_TYPE = "application/xml"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

#: the root element of each operation's XML answer (S3's names; the model has none)
ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "DeleteObjects": "DeleteResult",
}


# -- XML out ------------------------------------------------------------------------------


def render(root: str, shape: Shape, value: Mapping[str, Any]) -> bytes:
    """``value`` (a structure of ``shape``) as S3's XML under ``<root>``."""
    element = ET.Element(root, xmlns=NAMESPACE)
    _fill(element, shape, value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element)


def render_text(root: str, text: str) -> bytes:
    """An element holding only text (GetBucketLocation's ``LocationConstraint``)."""
    element = ET.Element(root, xmlns=NAMESPACE)
    element.text = text or None
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element)


def _fill(element: ET.Element, shape: Shape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():  # the model's order
        item = value.get(name)
        if item is None or member.serialization.get("location"):
            continue
        _add(element, member.serialization.get("name", name), member, item)


def _add(parent: ET.Element, name: str, shape: Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "list":
        if shape.serialization.get("flattened"):
            holder, item_name = parent, name
        else:
            holder = ET.SubElement(parent, name)
            item_name = shape.member.serialization.get("name", "member")
        for item in value:
            _add(holder, item_name, shape.member, item)
        return
    child = ET.SubElement(parent, name)
    if kind == "structure":
        _fill(child, shape, value)
    else:
        child.text = scalar(shape, value)


def scalar(shape: Shape, value: Any) -> str:
    """A scalar as S3 writes it in XML: ISO 8601 times, lower-case booleans."""
    if shape.type_name == "timestamp":
        return iso_time(value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def iso_time(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_time(epoch: float) -> str:
    """``Last-Modified`` as S3 writes it (RFC 7231)."""
    return format_datetime(dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC), usegmt=True)


def error_xml(error: AwsError, request_id: str, resource: str = "") -> bytes:
    """S3's ``<Error>``: Code, Message, the resource it concerns, RequestId."""
    element = ET.Element("Error")
    for name, text in (
        ("Code", error.code),
        ("Message", error.message),
        *((k, str(v)) for k, v in error.members.items()),
        ("Resource", resource),
        ("RequestId", request_id),
    ):
        if text:
            ET.SubElement(element, name).text = text
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element)


# -- XML in -------------------------------------------------------------------------------


def parse(shape: Shape, body: bytes) -> dict[str, Any]:
    """A request body as a structure of ``shape``; MalformedXML for anything else."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise malformed("document type declarations are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise malformed(str(exc)) from None
    _strip_namespaces(root)
    return _structure(shape, root)


def malformed(detail: str) -> AwsError:
    return AwsError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published "
        f"schema ({detail})",
    )


def _strip_namespaces(element: ET.Element) -> None:
    for node in element.iter():
        node.tag = node.tag.rpartition("}")[2]


def _structure(shape: Shape, element: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        if member.serialization.get("location"):
            continue
        wire = member.serialization.get("name", name)
        if member.type_name == "list":
            if member.serialization.get("flattened"):
                items = element.findall(wire)
            else:
                holder = element.find(wire)
                item_name = member.member.serialization.get("name", "member")
                items = holder.findall(item_name) if holder is not None else []
            if items or element.find(wire) is not None:
                out[name] = [_value(member.member, item) for item in items]
        else:
            child = element.find(wire)
            if child is not None:
                out[name] = _value(member, child)
    return out


def _value(shape: Shape, element: ET.Element) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, element)
    text = (element.text or "").strip()
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise malformed(f"{element.tag} must be an integer, not {text!r}") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise malformed(f"{element.tag} must be true or false, not {text!r}")
        return text == "true"
    return element.text or ""


# -- ranges -------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) bytes a ``Range`` header asks for; None for the whole
    object (no header, or one S3 ignores: several ranges, another unit); InvalidRange
    (416) when it starts past the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last N bytes
        count = int(match[2])
        if count == 0:
            raise invalid_range(size)
        return max(size - count, 0), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if first >= size:
        raise invalid_range(size)
    if last < first:
        return None
    return first, min(last, size - 1)


def invalid_range(size: int) -> AwsError:
    return AwsError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        {"ActualObjectSize": size},
    )


# -- aws-chunked --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkSigning:
    """What chains chunk signatures: the signing key, the request's time and scope,
    and its own signature (the seed)."""

    key: bytes
    timestamp: str
    scope: str
    seed: str

    @staticmethod
    def derive(secret: str, timestamp: str, region: str, service: str, seed: str) -> ChunkSigning:
        key = ("AWS4" + secret).encode()
        day = timestamp[:8]
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return ChunkSigning(key, timestamp, f"{day}/{region}/{service}/aws4_request", seed)

    def sign(self, previous: str, chunk_sha256: str) -> str:
        text = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.timestamp,
                self.scope,
                previous,
                _EMPTY_SHA256,
                chunk_sha256,
            )
        )
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


class AwsChunked:
    """Decodes an ``aws-chunked`` body as it arrives: :meth:`feed` returns the payload
    bytes found so far, :meth:`close` checks that the body ended where it should;
    :attr:`trailers` holds the trailer lines. With ``signing``, every chunk's
    signature is checked (SignatureDoesNotMatch on the first wrong one)."""

    MAX_LINE = 4096

    def __init__(self, signing: ChunkSigning | None = None) -> None:
        self.signing = signing
        self.trailers: dict[str, str] = {}
        self._buffer = b""
        self._left = 0  # payload bytes still due in the current chunk
        self._state = "size"
        self._previous = signing.seed if signing else ""
        self._expected = ""
        self._hash = hashlib.sha256()

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while True:
            if self._state == "data":
                if not self._buffer:
                    break
                take = self._buffer[: self._left]
                self._buffer = self._buffer[len(take) :]
                self._left -= len(take)
                self._hash.update(take)
                out += take
                if self._left == 0:
                    self._state = "crlf"
                continue
            if self._state == "done":
                if self._buffer.strip(b"\r\n"):
                    raise _chunk_error("data after the final chunk")
                self._buffer = b""
                break
            if self._state == "crlf":
                if len(self._buffer) < 2:
                    break
                if self._buffer[:2] != b"\r\n":
                    raise _chunk_error("a chunk is longer than its declared size")
                self._buffer = self._buffer[2:]
                self._check_signature()
                self._state = "size"
                continue
            line = self._line()
            if line is None:
                break
            if self._state == "size":
                self._start_chunk(line)
            elif line:  # a trailer
                name, sep, value = line.partition(":")
                if not sep:
                    raise _chunk_error(f"trailer line {line!r} has no ':'")
                self.trailers[name.strip().lower()] = value.strip()
            else:
                self._state = "done"
        return bytes(out)

    def close(self) -> None:
        if self._state not in ("done", "trailer") or self._buffer.strip(b"\r\n"):
            raise AwsError(
                "IncompleteBody",
                "The request body terminated unexpectedly (the aws-chunked body has no final "
                "chunk)",
            )

    def _line(self) -> str | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > self.MAX_LINE:
                raise _chunk_error("a chunk header or trailer line is too long")
            return None
        line = self._buffer[:end].decode("latin-1")
        self._buffer = self._buffer[end + 2 :]
        return line

    def _start_chunk(self, line: str) -> None:
        size_text, _, extension = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise _chunk_error(f"chunk header {line[:80]!r} has no hexadecimal size") from None
        self._expected = extension.partition("chunk-signature=")[2].strip()
        if self.signing is not None and not self._expected:
            raise AwsError(
                "SignatureDoesNotMatch",
                "a chunk of a signed aws-chunked body has no signature",
                403,
            )
        self._hash = hashlib.sha256()
        if size == 0:
            self._check_signature()
            self._state = "trailer"
        else:
            self._left = size
            self._state = "data"

    def _check_signature(self) -> None:
        if self.signing is None:
            return
        expected = self.signing.sign(self._previous, self._hash.hexdigest())
        if not hmac.compare_digest(expected, self._expected):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided (a chunk of the aws-chunked body).",
                403,
            )
        self._previous = expected


def _chunk_error(detail: str) -> AwsError:
    return AwsError("InvalidRequest", f"the aws-chunked body is malformed: {detail}")
