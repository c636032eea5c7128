"""The swarm the daemon's engine manages (``/v1/cluster``): init, join, nodes.

Only meaningful on Docker's engine; the tasks go to the swarm once the daemon runs
with ``DOCKYARD_BACKEND=swarm`` (see :mod:`dockyard.adapters.engine.swarm`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body

from dockyard.adapters.engine.swarm_cluster import SwarmCluster
from dockyard.errors import SetupError
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["cluster"])


@contextmanager
def _cluster(platform: PlatformDep) -> Iterator[SwarmCluster]:
    base_url = getattr(platform.engine, "base_url", None)
    if not isinstance(base_url, str) or platform.engine.kind not in ("docker", "swarm"):
        raise SetupError(
            f"the daemon's engine ({platform.engine.kind}) cannot run a swarm",
            resource="cluster",
            hint="swarm mode needs Docker Engine (dockerd): set DOCKYARD_ENGINE_KIND=docker",
        )
    cluster = SwarmCluster.at(base_url)
    try:
        yield cluster
    finally:
        cluster.close()


@router.post("/cluster/init")
def init(
    platform: PlatformDep,
    advertise_addr: str = Body(..., alias="AdvertiseAddr", embed=True),
    listen_addr: str | None = Body(None, alias="ListenAddr", embed=True),
) -> dict[str, Any]:
    """Make the engine the first manager of a new swarm; the answer holds the join URL."""
    with _cluster(platform) as cluster:
        url = cluster.init(advertise_addr, listen_addr)
        nodes = [node.as_json() for node in cluster.nodes()]
    platform.store.add_event("cluster", "swarm", f"swarm started on {advertise_addr}")
    return {"JoinUrl": url, "Nodes": nodes}


@router.post("/cluster/join")
def join(
    platform: PlatformDep,
    url: str = Body(..., alias="Url", embed=True),
    advertise_addr: str = Body(..., alias="AdvertiseAddr", embed=True),
    listen_addr: str | None = Body(None, alias="ListenAddr", embed=True),
) -> dict[str, Any]:
    """Join the engine to an existing swarm as a worker."""
    with _cluster(platform) as cluster:
        cluster.join(url, advertise_addr, listen_addr)
    platform.store.add_event("cluster", "swarm", f"joined a swarm as {advertise_addr}")
    return {"Joined": True}


@router.get("/cluster/nodes")
def nodes(platform: PlatformDep) -> dict[str, Any]:
    """The swarm's nodes and the join URL for more."""
    with _cluster(platform) as cluster:
        return {
            "Nodes": [node.as_json() for node in cluster.nodes()],
            "JoinUrl": cluster.join_url(),
        }
