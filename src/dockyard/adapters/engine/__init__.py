"""The container engine adapter: Docker Engine API (dockerd or Podman) via docker-py."""

from __future__ import annotations

from dockyard.adapters.engine.discovery import connect, stop_started_engine
from dockyard.adapters.engine.docker_api import DockerEngine

__all__ = ["DockerEngine", "connect", "stop_started_engine"]
