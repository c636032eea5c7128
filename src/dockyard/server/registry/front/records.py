"""Keeping the store's image records in step with what Distribution holds.

The front sees every manifest that is stored or deleted, so it is where the records
the API and lifecycle policies read are written: a stored manifest becomes an image
record (digest, tags, size), a deleted one takes its record with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from dockyard.errors import DockyardError
from dockyard.records.registry import RepositoryRecord, image_key
from dockyard.server.platform import Platform
from dockyard.server.registry.operations import record_push

log = logging.getLogger("dockyard.registry.front")


def record_manifest(
    platform: Platform,
    name: str,
    tag: str | None,
    digest: str,
    body: bytes,
    content_type: str,
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
            platform.store,
            name,
            tag=tag,
            digest=digest,
            size=size,
            media_type=media_type,
            now=platform.clock(),
        )
    except DockyardError as exc:
        log.warning("push of %s@%s not recorded: %s", name, digest, exc)
        return
    platform.wake("registry", name)


def forget_manifest(platform: Platform, name: str, reference: str) -> None:
    """Distribution deleted a manifest (by digest): its image record goes too."""
    store = platform.store
    if store.images.delete(image_key(name, reference)):
        store.add_event(RepositoryRecord.KIND, name, f"deleted {reference[:19]}")
        platform.wake("registry", name)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _size(descriptor: Mapping[str, Any]) -> int:
    value = descriptor.get("size", 0)
    return value if isinstance(value, int) else 0
