"""The front's ASGI app: the token endpoint, and ``/v2/…`` dispatched to Distribution.

Every ``/v2/…`` request goes to Distribution, which checks its token; the front only
steps in where ECR behaves differently from a bare registry (unknown repositories,
immutable tags, records of pushes, maintenance), and only for callers whose token it
could verify.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from dockyard.errors import SetupError
from dockyard.server.platform import Platform
from dockyard.server.registry.front import answers
from dockyard.server.registry.front.blobs import BlobDownloads, is_blob_download
from dockyard.server.registry.front.callers import Caller, identify
from dockyard.server.registry.front.maintenance import ReadOnlyProbe
from dockyard.server.registry.front.manifests import ManifestPuts
from dockyard.server.registry.front.records import forget_manifest
from dockyard.server.registry.front.token_endpoint import TokenEndpoint
from dockyard.server.registry.front.upstream import StreamedBody, Unreachable, Upstream
from dockyard.server.registry.handles import RegistryHandles

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# /v2/<name>/manifests/<reference> | /blobs/<digest> | /blobs/uploads/[<id>] | /tags/list
_REPOSITORY_PATH = re.compile(
    r"^/v2/(?P<name>.+?)/(?:manifests/(?P<reference>[^/]+)"
    r"|blobs/uploads/[^/]*|blobs/[^/]+|tags/list)$"
)


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
            Route("/token", front.tokens.answer, methods=["GET"]),
            Route("/v2/{path:path}", front.proxy, methods=METHODS),
        ],
        lifespan=front.lifespan,
    )


class RegistryFront:
    """The front's parts: the token endpoint, the upstream, manifest pushes, the probe."""

    def __init__(
        self,
        platform: Platform,
        *,
        upstream: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        read_only: Callable[[], bool] | None = None,
    ) -> None:
        if platform.registry is None:
            raise SetupError("the platform has no registry", hint="open it with a registry")
        self.platform = platform
        self.registry: RegistryHandles = platform.registry
        self.tokens = TokenEndpoint(platform, self.registry)
        self.upstream = Upstream(self.registry, base_url=upstream, transport=transport)
        self.manifests = ManifestPuts(platform, self.upstream)
        self.is_read_only = ReadOnlyProbe(self.registry.process, read_only)
        # blob downloads take a connection of their own, so not where the network is
        # replaced (tests)
        self.blobs = BlobDownloads(self.upstream) if transport is None else None

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.upstream.aclose()

    async def proxy(self, request: Request) -> Response:
        """A ``/v2/…`` request: answered by the front where ECR differs, else relayed."""
        method = request.method
        match = _REPOSITORY_PATH.match(request.url.path)
        name = match["name"] if match else None
        reference = match["reference"] if match else None
        if method in WRITE_METHODS and await self.is_read_only():
            return answers.read_only()
        if name is not None:
            caller = await run_in_threadpool(self._caller, request, name)
            if caller.verified and caller.repository is None:
                return answers.name_unknown(name)
            if reference is not None and method == "PUT":
                if caller.bearer and not caller.verified:
                    return self._invalid_token(name)  # never let a manifest skip the checks
                if "push" in caller.actions:
                    return await self.manifests.put(request, name, reference)
        if self.blobs is not None and is_blob_download(method, request.url.path):
            relayed = await self.blobs.relay(request)
            if relayed is not None:
                return relayed
        try:
            upstream = await self.upstream.send(request, StreamedBody(request.stream()))
        except Unreachable as exc:
            return answers.unavailable(exc.message)
        if method in WRITE_METHODS and upstream.status_code == 405:
            await upstream.aclose()  # Distribution in read-only maintenance
            return answers.read_only()
        if name and reference and method == "DELETE" and upstream.status_code == 202:
            await run_in_threadpool(forget_manifest, self.platform, name, reference)
        return self.upstream.relay(upstream)

    def _caller(self, request: Request, name: str) -> Caller:
        authorization = request.headers.get("authorization", "")
        return identify(authorization, name, self.registry.issuer, self.platform.store)

    def _invalid_token(self, name: str) -> Response:
        realm = self.registry.process.token_realm
        return answers.invalid_token(realm, self.registry.issuer.service, name)
