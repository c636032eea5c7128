"""Events: what happened to each resource, in order."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["events"])


@router.get("/events")
def list_events(
    platform: PlatformDep,
    kind: str | None = None,
    name: str | None = None,
    after: int = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events oldest first; ``after`` pages forward from an event id."""
    items = platform.store.events(kind, name, after_id=after, limit=10_000)
    items = items[-limit:] if after == 0 else items[:limit]
    return {
        "Events": [
            {"Id": e.id, "Kind": e.kind, "Name": e.name, "At": e.at, "Message": e.message}
            for e in items
        ]
    }
