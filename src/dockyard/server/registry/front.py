"""The registry's front door: every ``docker``/``skopeo`` push and pull goes through it.

Distribution stores and serves images; what ECR adds on top lives here, on
``127.0.0.1:<registry_port>`` (the host image references name), in front of
Distribution's private port:

- ``GET /token`` — the Docker token endpoint (the realm Distribution's challenges
  name). HTTP Basic with an ECR-style login (:mod:`.credentials`) buys a registry token
  holding the requested scopes cut down to what the login allows, and only for
  repositories that exist: like ECR, a push never creates a repository.
- ``/v2/…`` — streamed to Distribution and back (layers are hundreds of MB, so bodies
  are never held in memory; upload-session ``Location`` headers are rewritten to the
  public host). A repository Dockyard does not know is ``NAME_UNKNOWN``.
  A manifest ``PUT`` (small, read whole) is checked first against the repository's
  tag immutability (``TAG_INVALID``, which ``docker push`` prints as "tag invalid:
  ImageTagAlreadyExistsException: …"), and once Distribution has stored it the image
  is recorded with its digest and size. A manifest ``DELETE`` removes the image's
  record too, so the store and the registry agree.
- While a garbage collection holds Distribution read-only, writes are answered 503
  ``UNAVAILABLE`` with ``Retry-After`` and reads keep flowing (docker retries a layer
  upload, but a refused manifest ends the push: "received unexpected HTTP status: 503
  Service Unavailable"); while Distribution restarts, requests wait for it a moment
  before giving up with a 503.

Repository checks and tag checks only speak to callers holding a valid registry
token (with ``push``, for tag checks): a caller without one is passed on to
Distribution, which answers with the token challenge; a manifest sent with a token the
front cannot verify is answered with that challenge by the front itself, so that no
manifest reaches Distribution unchecked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from dockyard.adapters.registry import IssuedToken, grant
from dockyard.errors import DockyardError, SetupError, Unauthorized
from dockyard.records.registry import RepositoryRecord, image_key
from dockyard.server.platform import Platform
from dockyard.server.registry.credentials import verify_login
from dockyard.server.registry.handles import LOGIN_USER, RegistryHandles
from dockyard.server.registry.operations import (
    ImageTagAlreadyExists,
    RepositoryNotFound,
    check_tag_may_move,
    record_push,
)

log = logging.getLogger("dockyard.registry.front")

MAX_MANIFEST_BYTES = 4 << 20  # Distribution's own limit for a manifest body
RESTART_WAIT_S = 2.0  # how long a request waits for a restarting Distribution
WRITABLE_CACHE_S = 1.0  # how long "the registry takes writes" is trusted without a look
RETRY_AFTER_S = 5
TOKEN_TTL_S = 300.0
UPLOAD_CHUNK = 1 << 20  # bytes handed on at once: fewer, larger writes cost less per byte
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
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
# /v2/<name>/manifests/<reference> | /blobs/<digest> | /blobs/uploads/[<id>] | /tags/list
_REPOSITORY_PATH = re.compile(
    r"^/v2/(?P<name>.+?)/(?:manifests/(?P<reference>[^/]+)"
    r"|blobs/uploads/[^/]*|blobs/[^/]+|tags/list)$"
)
# failures after which nothing reached Distribution's handlers: a request may be sent again
# (SetupError: no port recorded yet, the registry has never started)
_RETRYABLE = (SetupError, httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
READ_ONLY_MESSAGE = "the registry is collecting garbage; retry shortly"
DOWN_MESSAGE = "the registry is not answering (it may be restarting); retry shortly"
LOST_MESSAGE = "the registry dropped the connection; retry"


def create_front(
    platform: Platform,
    *,
    upstream: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    read_only: Callable[[], bool] | None = None,
) -> ASGIApp:
    """The front's ASGI app for ``platform``'s registry.

    ``upstream`` is Distribution's base URL (default: the running process's, looked
    up per request since it is known only once the registry has started);
    ``transport`` replaces the network under the upstream client (tests); ``read_only``
    says whether writes are refused now (default: the process is asked, at most once
    a second; a given callable is asked at every write, so it must be cheap).
    """
    front = RegistryFront(platform, upstream=upstream, transport=transport, read_only=read_only)
    return Starlette(
        routes=[
            Route("/token", front.token, methods=["GET"]),
            Route("/v2/{path:path}", front.proxy, methods=METHODS),
        ],
        lifespan=front.lifespan,
    )


class RegistryFront:
    """The front's state: the upstream client, locks, the read-only probe."""

    def __init__(
        self,
        platform: Platform,
        *,
        upstream: str | None,
        transport: httpx.AsyncBaseTransport | None,
        read_only: Callable[[], bool] | None,
    ) -> None:
        if platform.registry is None:
            raise SetupError("the platform has no registry", hint="open it with a registry")
        self.platform = platform
        self.registry: RegistryHandles = platform.registry
        self._upstream = upstream.rstrip("/") if upstream else None
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._read_only = read_only
        self._writable_until = 0.0  # monotonic time until which writes are taken on trust
        self._manifest_locks: dict[str, asyncio.Lock] = {}

    # -- life cycle ------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(600.0, connect=1.0, pool=None),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                follow_redirects=False,
            )
        return self._client

    # -- the token endpoint ----------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """Docker's token endpoint: Basic auth (an ECR-style login) → a registry token."""
        issuer = self.registry.issuer
        service = request.query_params.get("service")
        if service is not None and service != issuer.service:
            return _token_error(400, f"unknown service {service!r}; this one is {issuer.service}")
        basic = _basic_credentials(request.headers.get("authorization", ""))
        if basic is None:
            return _token_error(401, "log in with user AWS and a registry password")
        try:
            allowed = verify_login(issuer, *basic)
        except Unauthorized as exc:
            return _token_error(401, f"{exc.message} ({exc.hint})")
        requested = request.query_params.getlist("scope")
        issued = await run_in_threadpool(self._issue, requested, allowed)
        return JSONResponse(issued.response())

    def _issue(self, requested: list[str], allowed: Mapping[str, Iterable[str]]) -> IssuedToken:
        """What the login allows of the request, for repositories that exist."""
        repositories = self.platform.store.repositories
        granted = [
            scope
            for scope in grant(requested, allowed)
            if scope.type != "repository" or repositories.get(scope.name) is not None
        ]
        return self.registry.issuer.issue(LOGIN_USER, granted, TOKEN_TTL_S)

    # -- the proxy -------------------------------------------------------------------------

    async def proxy(self, request: Request) -> Response:
        method = request.method
        match = _REPOSITORY_PATH.match(request.url.path)
        name = match["name"] if match else None
        reference = match["reference"] if match else None
        if method in WRITE_METHODS and await self._is_read_only():
            return _read_only()
        if name is not None:
            caller = await run_in_threadpool(self._caller, request, name)
            if caller.verified and caller.repository is None:
                return _name_unknown(name)
            if reference is not None and method == "PUT":
                if caller.bearer and not caller.verified:
                    return self._invalid_token(name)  # never let a manifest skip the checks
                if "push" in caller.actions:
                    return await self._put_manifest(request, name, reference)
        try:
            upstream = await self._send(request, _StreamedBody(request.stream()))
        except _Unreachable as exc:
            return _unavailable(exc.message)
        if method in WRITE_METHODS and upstream.status_code == 405:
            await upstream.aclose()  # Distribution in read-only maintenance
            return _read_only()
        if name and reference and method == "DELETE" and upstream.status_code == 202:
            await run_in_threadpool(self._forget, name, reference)
        return self._relay(upstream)

    def _caller(self, request: Request, name: str) -> _Caller:
        """Who is asking about repository ``name``, as far as their token says."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _Caller(bearer=False)
        try:
            claims = self.registry.issuer.decode(token.strip())
        except jwt.PyJWTError:
            return _Caller(bearer=True)
        actions = frozenset(
            str(action)
            for entry in claims.get("access") or []
            if isinstance(entry, dict)
            and entry.get("type") == "repository"
            and entry.get("name") == name
            for action in entry.get("actions") or []
        )
        repository = self.platform.store.repositories.get(name)
        return _Caller(bearer=True, verified=True, actions=actions, repository=repository)

    def _invalid_token(self, name: str) -> Response:
        """Distribution's answer to a token it cannot verify: a fresh challenge."""
        challenge = (
            f'Bearer realm="{self.registry.process.token_realm}",'
            f'service="{self.registry.issuer.service}",'
            f'scope="repository:{name}:pull,push",error="invalid_token"'
        )
        return _registry_error(
            401, "UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": challenge}
        )

    async def _put_manifest(self, request: Request, name: str, reference: str) -> Response:
        """Check the tag, store the manifest in Distribution, then record the image."""
        body = await _read_capped(request, MAX_MANIFEST_BYTES)
        if body is None:
            return _registry_error(
                400, "MANIFEST_INVALID", f"a manifest is at most {MAX_MANIFEST_BYTES} bytes"
            )
        tag = None if ":" in reference else reference  # "sha256:…" is a digest
        digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
        async with self._manifest_locks.setdefault(name, asyncio.Lock()):
            if tag is not None:
                refusal = await run_in_threadpool(self._check_tag, name, tag, digest)
                if refusal is not None:
                    return refusal
            try:
                upstream = await self._send(request, body)
            except _Unreachable as exc:
                return _unavailable(exc.message)
            if upstream.status_code == 405:
                await upstream.aclose()
                return _read_only()
            if upstream.status_code == 201:
                stored = upstream.headers.get("docker-content-digest") or digest
                content_type = request.headers.get("content-type", "")
                await run_in_threadpool(self._record, name, tag, stored, body, content_type)
        return self._relay(upstream)

    def _check_tag(self, name: str, tag: str, digest: str) -> Response | None:
        try:
            check_tag_may_move(self.platform.store, name, tag, digest)
        except RepositoryNotFound:
            return _name_unknown(name)
        except ImageTagAlreadyExists as exc:
            message = f"{exc.code}: {exc.message} ({exc.hint})"
            return _registry_error(400, "TAG_INVALID", message, detail={"tag": tag})
        return None

    def _record(
        self, name: str, tag: str | None, digest: str, body: bytes, content_type: str
    ) -> None:
        """Record a stored manifest; the push has happened whatever goes wrong here."""
        manifest = _json_object(body)
        config = manifest.get("config")
        config = config if isinstance(config, dict) else {}
        layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
        size = _size(config) + sum(_size(layer) for layer in layers)
        media_type = str(manifest.get("mediaType") or content_type)
        try:
            record_push(
                self.platform.store,
                name,
                tag=tag,
                digest=digest,
                size=size,
                media_type=media_type,
                now=self.platform.clock(),
            )
        except DockyardError as exc:
            log.warning("push of %s@%s not recorded: %s", name, digest, exc)
            return
        self.platform.wake("registry", name)

    def _forget(self, name: str, reference: str) -> None:
        """Distribution deleted a manifest (by digest): its image record goes too."""
        store = self.platform.store
        if store.images.delete(image_key(name, reference)):
            store.add_event(RepositoryRecord.KIND, name, f"deleted {reference[:19]}")
            self.platform.wake("registry", name)

    # -- talking to Distribution -----------------------------------------------------------

    async def _send(self, request: Request, body: _StreamedBody | bytes) -> httpx.Response:
        """Forward ``request``; the response's body is still to be read.

        While Distribution cannot be reached (a restart), the request is sent again for
        up to :data:`RESTART_WAIT_S`, as long as no byte of a streamed body was used;
        then, or when the connection fails later, :class:`_Unreachable`.
        """
        target = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        path = target.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        headers = _forwarded_headers(request)
        if "content-length" not in headers and "transfer-encoding" not in request.headers:
            body = b""  # nothing to send (GET, HEAD): no chunked empty body either
        deadline = time.monotonic() + RESTART_WAIT_S
        delay = 0.05
        while True:
            try:
                upstream = self._upstream or self.registry.process.base_url()
                outgoing = self.client.build_request(
                    request.method, upstream + path, headers=headers, content=body
                )
                return await self.client.send(outgoing, stream=True)
            except (SetupError, httpx.TransportError) as exc:
                retryable = isinstance(exc, _RETRYABLE)
                started = isinstance(body, _StreamedBody) and body.started
                if retryable and not started and time.monotonic() + delay <= deadline:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.4)
                    continue
                log.warning("registry: %s %s failed: %r", request.method, path, exc)
                raise _Unreachable(DOWN_MESSAGE if retryable else LOST_MESSAGE) from exc

    def _relay(self, upstream: httpx.Response) -> Response:
        """Distribution's answer, streamed back, with the public host in ``Location``."""
        private = str(upstream.request.url.copy_with(path="/", query=None, fragment=None))
        public = f"http://{self.registry.public_host}/"
        headers: list[tuple[bytes, bytes]] = []
        for key, value in upstream.headers.raw:
            lower = key.lower()
            if lower.decode("latin-1") in HOP_BY_HOP:
                continue
            text = value.decode("latin-1")
            if lower == b"location" and text.startswith(private):
                text = public + text[len(private) :]
            headers.append((lower, text.encode("latin-1")))
        response = StreamingResponse(
            _relay_body(upstream),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = headers
        return response

    async def _is_read_only(self) -> bool:
        if self._read_only is not None:
            return self._read_only()
        # Only "writable" is remembered: a write let through during a maintenance is
        # refused by Distribution itself (405, answered as 503 here), while a remembered
        # "read-only" would refuse writes after the maintenance has ended.
        now = time.monotonic()
        if now < self._writable_until:
            return False
        read_only = await run_in_threadpool(self.registry.process.read_only)
        if not read_only:
            self._writable_until = now + WRITABLE_CACHE_S
        return read_only


@dataclass(frozen=True)
class _Caller:
    """A request's bearer token as the front reads it; unverified tokens get nothing."""

    bearer: bool  # a bearer token was sent
    verified: bool = False  # ...and it is one of this registry's, unexpired
    actions: frozenset[str] = frozenset()  # what it allows on the repository asked about
    repository: RepositoryRecord | None = None  # the repository, when verified


class _Unreachable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _StreamedBody:
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


async def _relay_body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _forwarded_headers(request: Request) -> dict[str, str]:
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


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _size(descriptor: Mapping[str, Any]) -> int:
    value = descriptor.get("size", 0)
    return value if isinstance(value, int) else 0


# -- answers -------------------------------------------------------------------------------


def _registry_error(
    status: int,
    code: str,
    message: str,
    *,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error in Distribution's shape, which docker and skopeo print as
    ``<code in words>: <message>``."""
    return JSONResponse(
        {"errors": [{"code": code, "message": message, "detail": detail}]},
        status_code=status,
        headers={"Docker-Distribution-API-Version": "registry/2.0", **(headers or {})},
    )


def _name_unknown(name: str) -> JSONResponse:
    return _registry_error(
        404,
        "NAME_UNKNOWN",
        f"The repository with name '{name}' does not exist in the registry "
        f"(create it first: `dockyard repo create {name}`)",
        detail={"name": name},
    )


def _unavailable(message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return _registry_error(503, "UNAVAILABLE", message, headers=headers)


def _read_only() -> JSONResponse:
    return _unavailable(READ_ONLY_MESSAGE)


def _token_error(status: int, message: str) -> JSONResponse:
    """A refusal of the token endpoint; docker prints ``details`` (or the errors)."""
    headers = {"WWW-Authenticate": 'Basic realm="dockyard-registry"'} if status == 401 else {}
    code = "UNAUTHORIZED" if status == 401 else "UNSUPPORTED"
    return JSONResponse(
        {"errors": [{"code": code, "message": message}], "details": message},
        status_code=status,
        headers=headers,
    )
