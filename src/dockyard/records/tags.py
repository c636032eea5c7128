"""The tags of one SageMaker resource, as AddTags and the Create* calls set them.

Tags live beside the resources rather than inside them: every kind of resource is
tagged the same way, and a tag change never rewrites a record that a reconciler may be
writing at the same time (an endpoint's, a training job's). A tags record names the
resource by its ARN's resource part and the creation time of the resource it was
written for, so tags left behind by a deleted resource never show on a new one of
the same name, whichever way the old one went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

#: the most tags one resource carries (AWS's limit for every taggable resource)
MAX_TAGS = 50


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True)
class TagsRecord:
    """``resource``: ``model/iris``, ``model-package/churn/3`` (kind and stored name)."""

    KIND: ClassVar[str] = "tags"

    resource: str
    resource_created_at: float
    tags: tuple[Tag, ...] = ()

    @property
    def key(self) -> str:
        return self.resource

    @property
    def owner(self) -> None:
        return None

    def added(self, tags: Iterable[Tag]) -> TagsRecord:
        """These tags set: a key already here takes the new value in its place, new
        keys come after the others in the order given (a later one of a key wins)."""
        merged = {tag.key: tag.value for tag in self.tags}
        for tag in tags:
            merged[tag.key] = tag.value
        return TagsRecord(
            self.resource,
            self.resource_created_at,
            tuple(Tag(key, value) for key, value in merged.items()),
        )

    def without(self, keys: Iterable[str]) -> TagsRecord:
        """These keys removed; keys the resource does not carry are no error (AWS's way)."""
        gone = set(keys)
        kept = tuple(tag for tag in self.tags if tag.key not in gone)
        return TagsRecord(self.resource, self.resource_created_at, kept)
