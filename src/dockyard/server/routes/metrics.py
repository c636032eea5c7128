"""Usage of endpoints and services: JSON series, and Prometheus's text format."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dockyard.server import prometheus, usage_views
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["metrics"])
scrape_router = APIRouter(tags=["metrics"])

DEFAULT_WINDOW_S = 300.0


@router.get("/metrics/{name}")
def usage_of(
    name: str,
    platform: PlatformDep,
    since: Annotated[float | None, Query(description="Unix time; default: 5 minutes ago")] = None,
) -> dict[str, Any]:
    """An endpoint's or service's series: requests/s, p50/p99, 4xx/5xx per second and
    in-flight requests of its route; CPU (% of one core) and memory (MiB) per task."""
    start = since if since is not None else time.time() - DEFAULT_WINDOW_S
    return usage_views.usage(platform, name, start)


@scrape_router.get("/metrics", response_class=Response)
def scrape(platform: PlatformDep) -> Response:
    """Prometheus exposition: every route's counters and the latest usage points."""
    body, content_type = prometheus.exposition(platform)
    return Response(content=body, media_type=content_type)
