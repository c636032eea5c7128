"""Whether this host reaches containers on their own addresses, or only through ports.

The data path of an endpoint or service is the load balancer (a process on this
host) talking to each replica. On a rootful engine on this Linux host, every
container's address is on a bridge the host owns, so the load balancer can target
``CONTAINER_IP:PORT`` (as an ECS ``awsvpc`` task is targeted by its ENI's address) and
no byte goes through the engine's userland port proxy (``docker-proxy``,
``rootlessport``), which copies each one through a second process and costs about
40 % of the requests a fast model server answers.

Elsewhere the bridge lives inside a VM or a user namespace the host cannot route to
(Docker Desktop, a Podman machine, rootless Docker or Podman), or on another machine
(an engine reached over TCP or SSH). There the replicas' ports are published on the
engine host's loopback, as before.

``DOCKYARD_DATA_PATH`` overrides the guess: ``direct`` or ``published``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Literal

DataPath = Literal["auto", "direct", "published"]


def routes_to_containers(
    base_url: str,
    info: Mapping[str, Any],
    mode: DataPath = "auto",
    platform: str = sys.platform,
) -> bool:
    """True when replicas should be reached on their container addresses.

    ``info`` is the engine's ``GET /info``: rootless engines list ``name=rootless``
    among their security options, and Docker Desktop names itself as the operating
    system. Pure, so every rule is tested without an engine.
    """
    if mode != "auto":
        return mode == "direct"
    if platform != "linux" or not base_url.startswith("unix://"):
        return False
    options = [str(option) for option in info.get("SecurityOptions") or ()]
    if any("name=rootless" in option for option in options):
        return False
    system = str(info.get("OperatingSystem") or "")
    return "docker desktop" not in system.lower()
