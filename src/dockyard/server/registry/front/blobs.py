"""Blob downloads, relayed on a plain connection to Distribution.

A pull's bytes are its blobs (layers of hundreds of MB). Relayed like everything else
(:mod:`.upstream`, through httpx), a blob arrives in 64 KiB pieces that each pass
through several layers of parsing and iteration, which held a download through the
front to about a third of Distribution's own rate. A blob ``GET`` therefore gets a
connection of its own: the request is written as the client sent it, and the answer's
body is read in pieces of a MiB and handed to the server as it is.

Nothing about access changes: the client's ``Authorization`` header goes to Distribution
with the request, and Distribution checks the token and its scope exactly as for any
other request; a missing, wrong, expired or wrongly scoped token gets Distribution's
challenge, which is relayed like any answer. Only answers that state their length are
relayed this way; for anything else (and when Distribution cannot be reached) the
request, which changes nothing, is sent again the general way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.errors import SetupError
from dockyard.server.registry.front.upstream import Upstream, forwarded_headers, request_target

log = logging.getLogger("dockyard.registry.front")

READ_CHUNK = 1 << 20  # bytes read from Distribution at once
# the connection's buffer: reading pauses at twice this, and an answer's head may be
# at most this long (the default, 64 KiB, would cut reads to a tenth of READ_CHUNK)
BUFFER_LIMIT = READ_CHUNK
READ_TIMEOUT_S = 600.0  # the same patience as the general relay's
# /v2/<name>/blobs/<digest>, not an upload session
_BLOB_PATH = re.compile(r"^/v2/.+/blobs/(?!uploads/)[^/]+$")


def is_blob_download(method: str, path: str) -> bool:
    return method == "GET" and _BLOB_PATH.match(path) is not None


class BlobDownloads:
    """Blob ``GET``s sent to Distribution on connections of their own."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def relay(self, request: Request) -> Response | None:
        """Distribution's answer to ``request``, streamed back; None when it could not
        be had this way (Distribution unreachable, an answer of unstated length)."""
        try:
            base = self.upstream.base_url()
        except SetupError:
            return None
        host, _, port = base.removeprefix("http://").partition(":")
        try:
            reader, writer = await asyncio.open_connection(host, int(port), limit=BUFFER_LIMIT)
        except OSError:
            return None
        try:
            writer.write(_request_head(request, f"{host}:{port}"))
            status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return None
        length = _content_length(headers)
        if length is None:
            writer.close()
            return None
        public = self.upstream.public_headers(headers, f"{base}/")
        return _RelayedBlob(status, public, length, reader, writer)


class _RelayedBlob(Response):
    """An answer whose body is still on Distribution's connection, ``length`` bytes."""

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        length: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.background = None
        self._length = length
        self._reader = reader
        self._writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # a client that goes away ends the relay: Distribution's connection is closed
        # rather than read to the end for nobody
        gone = asyncio.ensure_future(_disconnect(receive))
        start = {"type": "http.response.start", "status": self.status_code}
        try:
            await send({**start, "headers": self.raw_headers})
            if self._length == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            remaining = self._length
            while remaining > 0 and not gone.done():
                async with asyncio.timeout(READ_TIMEOUT_S):
                    chunk = await self._reader.read(min(remaining, READ_CHUNK))
                if not chunk:
                    log.warning("registry: a blob download lost Distribution's connection")
                    return  # the server closes the client's connection: a short read
                remaining -= len(chunk)
                more = remaining > 0
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
        finally:
            gone.cancel()
            self._writer.close()


async def _disconnect(receive: Receive) -> None:
    """Returns once the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _request_head(request: Request, host: str) -> bytes:
    """The request line and headers for Distribution; one request per connection."""
    lines = [f"GET {request_target(request)} HTTP/1.1", f"Host: {host}"]
    lines += [f"{key}: {value}" for key, value in forwarded_headers(request).items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and headers of an HTTP/1.1 answer's head (ValueError if it is none)."""
    status_line, *lines = head.rstrip(b"\r\n").split(b"\r\n")
    version, status, *_ = status_line.split(b" ", 2)
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1 answer: {status_line!r}")
    headers = []
    for line in lines:
        key, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"not a header: {line!r}")
        headers.append((key.strip(), value.strip()))
    return int(status), headers


def _content_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    """The body's length when the answer states it plainly (not chunked), else None."""
    length = None
    for key, value in headers:
        name = key.lower()
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            with contextlib.suppress(ValueError):
                length = int(value)
    return length
