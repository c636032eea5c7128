"""Passing requests on to Distribution and its answers back, streamed.

Layers are hundreds of MB, so bodies are never held in memory: a request body is
handed on as it arrives and an answer is relayed as Distribution sends it. Distribution
listens on a private port; the ``Location`` headers of its upload sessions name it, so
they are rewritten to the public host clients know.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dockyard.errors import SetupError
from dockyard.server.registry.front.answers import DOWN_MESSAGE, LOST_MESSAGE
from dockyard.server.registry.handles import RegistryHandles

log = logging.getLogger("dockyard.registry.front")

RESTART_WAIT_S = 2.0  # how long a request waits for a restarting Distribution
UPLOAD_CHUNK = 1 << 20  # bytes handed on at once: fewer, larger writes cost less per byte
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "expect",
    }
)
# failures after which nothing reached Distribution's handlers: a request may be sent again
# (SetupError: no port recorded yet, the registry has never started)
_RETRYABLE = (SetupError, httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class Unreachable(Exception):
    """Distribution could not be reached, or dropped the connection; ``message`` says
    which, in words for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StreamedBody:
    """A request body passed through once; ``started`` once its first chunk was asked for
    (until then a failed connection may be retried with it)."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self.started = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        pending: list[bytes] = []
        size = 0
        async for chunk in self._stream:
            pending.append(chunk)
            size += len(chunk)
            if size >= UPLOAD_CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
        if size:
            yield b"".join(pending)


class Upstream:
    """The connection pool to Distribution and the two directions through it.

    ``base_url`` is Distribution's (default: the running process's, looked up per
    request since it is known only once the registry has started); ``transport``
    replaces the network under the client (tests).
    """

    def __init__(
        self,
        registry: RegistryHandles,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.registry = registry
        self._base_url = base_url.rstrip("/") if base_url else None
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """Made on first use, inside the server's event loop that will drive it."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(600.0, connect=1.0, pool=None),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, request: Request, body: StreamedBody | bytes) -> httpx.Response:
        """Forward ``request``; the response's body is still to be read.

        While Distribution cannot be reached (a restart), the request is sent again for
        up to :data:`RESTART_WAIT_S`, as long as no byte of a streamed body was used;
        then, or when the connection fails later, :class:`Unreachable`.
        """
        path = request_target(request)
        headers = forwarded_headers(request)
        if "content-length" not in headers and "transfer-encoding" not in request.headers:
            body = b""  # nothing to send (GET, HEAD): no chunked empty body either
        deadline = time.monotonic() + RESTART_WAIT_S
        delay = 0.05
        while True:
            try:
                base = self.base_url()
                outgoing = self.client.build_request(
                    request.method, base + path, headers=headers, content=body
                )
                return await self.client.send(outgoing, stream=True)
            except (SetupError, httpx.TransportError) as exc:
                retryable = isinstance(exc, _RETRYABLE)
                started = isinstance(body, StreamedBody) and body.started
                if retryable and not started and time.monotonic() + delay <= deadline:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.4)
                    continue
                log.warning("registry: %s %s failed: %r", request.method, path, exc)
                raise Unreachable(DOWN_MESSAGE if retryable else LOST_MESSAGE) from exc

    def base_url(self) -> str:
        """Distribution's base URL (SetupError while it has never started)."""
        return self._base_url or self.registry.process.base_url()

    def relay(self, upstream: httpx.Response) -> Response:
        """Distribution's answer, streamed back, with the public host in ``Location``."""
        response = StreamingResponse(
            _relay_body(upstream),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        private = str(upstream.request.url.copy_with(path="/", query=None, fragment=None))
        response.raw_headers = self.public_headers(upstream.headers.raw, private)
        return response

    def public_headers(
        self, raw: Iterable[tuple[bytes, bytes]], private: str
    ) -> list[tuple[bytes, bytes]]:
        """Distribution's end-to-end headers, a ``Location`` under ``private`` (its own
        base URL) rewritten to the public host."""
        public = f"http://{self.registry.public_host}/"
        headers: list[tuple[bytes, bytes]] = []
        for key, value in raw:
            lower = key.lower()
            if lower.decode("latin-1") in HOP_BY_HOP:
                continue
            text = value.decode("latin-1")
            if lower == b"location" and text.startswith(private):
                text = public + text[len(private) :]
            headers.append((lower, text.encode("latin-1")))
        return headers


def forwarded_headers(request: Request) -> dict[str, str]:
    """The request's end-to-end headers, with the client added to ``X-Forwarded-For``."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        if key in HOP_BY_HOP:
            continue
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    client = request.client.host if request.client else None
    if client:
        prior = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{prior}, {client}" if prior else client
    return headers


def request_target(request: Request) -> str:
    """The request's path and query exactly as the client sent them (digests and
    upload-state tokens must reach Distribution byte for byte)."""
    target = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return target.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


async def _relay_body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
