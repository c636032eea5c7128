"""A manifest push by a caller allowed to push: check the tag, store, record.

A manifest is what makes a tag point at an image, so it is the one body the front
reads whole (it is small) instead of streaming: its digest decides whether an immutable
tag may take it, and its layers give the image's size for the record. Pushes to one
repository are taken one at a time so that two clients cannot both find a tag free.
"""

from __future__ import annotations

import asyncio
import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from dockyard.server.platform import Platform
from dockyard.server.registry.front.answers import manifest_too_large, read_only, unavailable
from dockyard.server.registry.front.immutability import refuse_tag_move
from dockyard.server.registry.front.records import record_manifest
from dockyard.server.registry.front.upstream import Unreachable, Upstream

MAX_MANIFEST_BYTES = 4 << 20  # Distribution's own limit for a manifest body


class ManifestPuts:
    """Manifest ``PUT``s from callers whose token allows ``push`` on the repository."""

    def __init__(self, platform: Platform, upstream: Upstream) -> None:
        self.platform = platform
        self.upstream = upstream
        self._locks: dict[str, asyncio.Lock] = {}

    async def put(self, request: Request, name: str, reference: str) -> Response:
        """Check the tag, store the manifest in Distribution, then record the image."""
        body = await read_capped(request, MAX_MANIFEST_BYTES)
        if body is None:
            return manifest_too_large(MAX_MANIFEST_BYTES)
        tag = None if ":" in reference else reference  # "sha256:…" is a digest
        digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
        async with self._locks.setdefault(name, asyncio.Lock()):
            if tag is not None:
                store = self.platform.store
                refusal = await run_in_threadpool(refuse_tag_move, store, name, tag, digest)
                if refusal is not None:
                    return refusal
            try:
                upstream = await self.upstream.send(request, body)
            except Unreachable as exc:
                return unavailable(exc.message)
            if upstream.status_code == 405:
                await upstream.aclose()
                return read_only()
            if upstream.status_code == 201:
                stored = upstream.headers.get("docker-content-digest") or digest
                content_type = request.headers.get("content-type", "")
                await run_in_threadpool(
                    record_manifest, self.platform, name, tag, stored, body, content_type
                )
        return self.upstream.relay(upstream)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
