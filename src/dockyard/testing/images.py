"""The image half of :class:`~dockyard.testing.engine.FakeEngine`: refs and tags.

Kept apart because image names have rules of their own that the fake must share with
the real engine for lookups to agree: ``app`` means ``app:latest``, an image is found
by any of its tags or by its id (with or without ``sha256:``), and tagging moves a tag
from whichever image held it before.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace

from dockyard.adapters.engine.images import split_ref
from dockyard.adapters.engine.translate import IMAGE_HINT
from dockyard.errors import NotFound
from dockyard.ports.engine import ImageInfo


def normalized(ref: str) -> str:
    """``ref`` as the engine stores it as a tag (``app`` → ``app:latest``)."""
    repo, tag = split_ref(ref)
    return f"{repo}:{tag}" if tag else repo


def image_not_found(ref: str) -> NotFound:
    """The error the Docker adapter raises for a missing image, word for word."""
    return NotFound(f"image {ref} does not exist in the engine", resource=ref, hint=IMAGE_HINT)


class ImageStore:
    """Images by id; not locked itself (the engine holds its lock around every call)."""

    def __init__(self) -> None:
        self._by_id: dict[str, ImageInfo] = {}
        self._serial = itertools.count(1)

    def all(self) -> list[ImageInfo]:
        return list(self._by_id.values())

    def find(self, ref: str) -> ImageInfo | None:
        """The image with tag or id ``ref``, or None."""
        if ref in self._by_id:
            return self._by_id[ref]
        if f"sha256:{ref}" in self._by_id:
            return self._by_id[f"sha256:{ref}"]
        tag = normalized(ref)
        return next((info for info in self._by_id.values() if tag in info.tags), None)

    def add(
        self,
        ref: str,
        image_id: str | None = None,
        labels: dict[str, str] | None = None,
        size_bytes: int = 0,
    ) -> ImageInfo:
        """Register (or re-tag) an image; a fresh id unless ``image_id`` is given."""
        if image_id is None:
            digest = hashlib.sha256(f"{ref}#{next(self._serial)}".encode()).hexdigest()
            image_id = f"sha256:{digest}"
        current = self._by_id.get(image_id)
        info = current or ImageInfo(image_id, [], size_bytes, dict(labels or {}))
        if labels is not None and current is not None:
            info = replace(info, labels=dict(labels))
        self._by_id[image_id] = info
        self.tag(image_id, ref)
        return self._by_id[image_id]

    def tag(self, source: str, target: str) -> None:
        """Point tag ``target`` at ``source`` (forcibly, like the Docker adapter)."""
        info = self.find(source)
        if info is None:
            raise image_not_found(source)
        tag = normalized(target)
        for other in list(self._by_id.values()):
            if tag in other.tags and other.id != info.id:
                self._by_id[other.id] = replace(other, tags=[t for t in other.tags if t != tag])
        info = self._by_id[info.id]
        if tag not in info.tags:
            self._by_id[info.id] = replace(info, tags=[*info.tags, tag])
