"""Turn what docker-py says into what Dockyard promises.

Two jobs, both pure: map docker-py/requests exceptions onto :mod:`dockyard.errors`
(with a hint that says what to do), and turn an inspect document into a
:class:`~dockyard.ports.engine.ContainerState`. Docker and Podman's compatible API
disagree in small ways (status words, empty ``Labels``, zero timestamps); the
differences are absorbed here so nothing above the adapter sees them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import docker.errors
import requests.exceptions

from dockyard.errors import (
    Conflict,
    DockyardError,
    EngineUnavailable,
    NotFound,
    SetupError,
    SpecError,
)
from dockyard.ports.engine import ContainerSpec, ContainerState, ContainerStats, ContainerStatus

_STATUSES: dict[str, ContainerStatus] = {
    "created": "created",
    "running": "running",
    "paused": "paused",
    "restarting": "restarting",
    "exited": "exited",
    "dead": "dead",
    "removing": "removing",
    # Podman's own words, seen through its compatible API on some versions.
    "configured": "created",
    "initialized": "created",
    "stopping": "running",
    "stopped": "exited",
    "unknown": "dead",
}

HEALTH_WORDS = ("starting", "healthy", "unhealthy")
_ZERO_TIMES = ("", "0001-01-01T00:00:00Z")
_COMMAND_ERRORS = ("executable file not found", "no such file or directory", "permission denied")
_MOUNT_HINT = "a bind mount's host path must exist before the container starts"

IMAGE_HINT = "build it with `dockyard build` or pull it"


def explanation(exc: docker.errors.APIError) -> str:
    """The engine's own sentence for an API error (falls back to the HTTP summary)."""
    return str(exc.explanation or exc).strip()


@contextmanager
def translated(resource: str, *, what: str = "container") -> Iterator[None]:
    """Re-raise docker-py/requests errors from the body as :mod:`dockyard.errors` types.

    ``resource`` names the thing the caller asked about; ``what`` says what kind of
    thing it is ("container", "image", "network"), so a 404 reads as a sentence.
    """
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise NotFound(
            f"image {resource} does not exist in the engine",
            resource=resource,
            hint=IMAGE_HINT,
        ) from exc
    except docker.errors.NotFound as exc:
        raise NotFound(
            f"{what} {resource}: {explanation(exc)}",
            resource=resource,
            hint=f"check the name; the {what} may have been removed",
        ) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409 or "already in use" in explanation(exc).lower():
            # Podman reports a taken name as a 500 with this wording.
            raise Conflict(
                f"{what} {resource}: {explanation(exc)}",
                resource=resource,
                hint=f"pick another name or remove the existing {what} first",
            ) from exc
        raise DockyardError(
            f"the container engine refused the request for {what} {resource}: {explanation(exc)}",
            resource=resource,
        ) from exc
    except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
        raise EngineUnavailable(
            f"the container engine stopped answering ({exc})",
            resource=resource,
            hint="check that dockerd/podman is running (`dockyard doctor`), then retry",
        ) from exc


def _time(value: str | None) -> str | None:
    return None if value in (None, *_ZERO_TIMES) else value


def host_ports(network_settings: dict[str, Any]) -> dict[int, int]:
    """Container port → host port, for ports the engine has published (TCP only)."""
    published: dict[int, int] = {}
    for key, bindings in (network_settings.get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if proto not in ("", "tcp") or not bindings:
            continue
        for binding in bindings:
            host_port = binding.get("HostPort")
            if host_port and str(host_port) != "0":
                published[int(port)] = int(host_port)
                break
    return published


def ip_address(network_settings: dict[str, Any]) -> str | None:
    """The container's address: default bridge first, else its first user network."""
    if network_settings.get("IPAddress"):
        return str(network_settings["IPAddress"])
    for endpoint in (network_settings.get("Networks") or {}).values():
        if endpoint and endpoint.get("IPAddress"):
            return str(endpoint["IPAddress"])
    return None


def container_state(doc: dict[str, Any]) -> ContainerState:
    """A :class:`ContainerState` from ``GET /containers/{id}/json``."""
    state = doc.get("State") or {}
    config = doc.get("Config") or {}
    network_settings = doc.get("NetworkSettings") or {}
    status = _STATUSES.get(str(state.get("Status", "")).lower(), "dead")
    exit_code = state.get("ExitCode")
    return ContainerState(
        id=doc["Id"],
        name=str(doc.get("Name", "")).lstrip("/"),
        image=str(config.get("Image") or doc.get("Image", "")),
        status=status,
        labels=dict(config.get("Labels") or {}),
        exit_code=None if status in ("created", "running", "paused") else exit_code,
        oom_killed=bool(state.get("OOMKilled", False)),
        error=str(state.get("Error") or ""),
        started_at=_time(state.get("StartedAt")),
        finished_at=_time(state.get("FinishedAt")),
        host_ports=host_ports(network_settings),
        ip_address=ip_address(network_settings),
        health=_health((state.get("Health") or state.get("Healthcheck") or {}).get("Status")),
    )


def _health(status: object) -> str | None:
    """The health check's verdict in Docker's words, or None without a check."""
    word = str(status or "").lower()
    return word if word in HEALTH_WORDS else None


def health_in_summary(status: str) -> str | None:
    """The verdict inside a listing's ``Status`` ("Up 3 seconds (healthy)")."""
    text = status.lower()
    if "(unhealthy)" in text:
        return "unhealthy"
    if "(healthy)" in text:
        return "healthy"
    if "starting)" in text:
        return "starting"
    return None


def running_state(summary: dict[str, Any]) -> ContainerState | None:
    """A running container's state from its ``GET /containers/json`` entry, or None.

    The listing has all a running container needs (labels, published ports,
    address), so only containers that are not running (whose exit code and
    out-of-memory flag only an inspect tells) cost a second call.
    """
    if str(summary.get("State", "")).lower() != "running":
        return None
    published: dict[int, int] = {}
    for port in summary.get("Ports") or []:
        if port.get("Type", "tcp") == "tcp" and port.get("PublicPort"):
            published.setdefault(int(port["PrivatePort"]), int(port["PublicPort"]))
    names = summary.get("Names") or [""]
    return ContainerState(
        id=str(summary["Id"]),
        name=str(names[0]).lstrip("/"),
        image=str(summary.get("Image", "")),
        status="running",
        labels=dict(summary.get("Labels") or {}),
        host_ports=published,
        ip_address=ip_address(summary.get("NetworkSettings") or {}),
        health=health_in_summary(str(summary.get("Status") or "")),
    )


def detect_kind(version: dict[str, Any]) -> str:
    """``"podman"`` or ``"docker"``, from ``GET /version``."""
    names = [str(c.get("Name", "")) for c in version.get("Components") or []]
    names.append(str((version.get("Platform") or {}).get("Name", "")))
    return "podman" if any("podman" in name.lower() for name in names) else "docker"


def timed_out(exc: BaseException | None) -> bool:
    """requests reports a read timeout as ``Timeout`` or as a wrapped urllib3 error."""
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc)


def json_or_empty(line: str) -> dict[str, Any]:
    """One line of an engine's JSON message stream, or ``{}`` when it is not JSON."""
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def create_error(spec: ContainerSpec, exc: docker.errors.APIError) -> DockyardError | None:
    """A Dockyard error for create failures worth their own words (else ``None``)."""
    said = explanation(exc)
    if isinstance(exc, docker.errors.ImageNotFound):
        return NotFound(
            f"image {spec.image} does not exist in the engine",
            resource=spec.image,
            hint=IMAGE_HINT,
        )
    if spec.init and "init binary not found" in said:
        return SetupError(
            f"container {spec.name} asks for an init process, and the engine has no "
            f"init binary: {said}",
            resource=spec.name,
            hint="install catatonit (`dockyard setup` does, or `apt-get install catatonit`)",
        )
    if "mount" in said.lower():
        return SpecError(
            f"container {spec.name}: {said}",
            field="mounts",
            hint=_MOUNT_HINT,
        )
    return None


def start_error(spec: ContainerSpec, exc: docker.errors.APIError) -> DockyardError:
    """Why a created container would not start, blaming the spec field when it can."""
    said = explanation(exc)
    if "mount" in said.lower():
        return SpecError(
            f"container {spec.name} could not start: {said}",
            field="mounts",
            hint=_MOUNT_HINT,
        )
    if any(fragment in said.lower() for fragment in _COMMAND_ERRORS):
        return SpecError(
            f"container {spec.name} could not start: {said}",
            field="entrypoint" if spec.entrypoint else "command",
            hint=f"check that the command exists in image {spec.image}",
        )
    return DockyardError(
        f"container {spec.name} could not start: {said}",
        resource=spec.name,
        hint="the engine refused to start it; see its message above",
    )


def container_stats(doc: dict[str, Any], now: float) -> ContainerStats | None:
    """A :class:`ContainerStats` from ``GET /containers/{id}/stats?one-shot=true``.

    Memory leaves out inactive page cache, as ``docker stats`` does (cgroup v1 names
    it ``total_inactive_file``, v2 ``inactive_file``). A stopped container (no CPU
    figures, or read at the zero time): None.
    """
    cpu = (doc.get("cpu_stats") or {}).get("cpu_usage") or {}
    if "total_usage" not in cpu or doc.get("read") in _ZERO_TIMES:  # Docker: not running
        return None
    memory = doc.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = int(memory.get("usage") or 0)
    limit = memory.get("limit")
    read = _time(doc.get("read"))
    return ContainerStats(
        cpu_used_ns=int(cpu["total_usage"]),
        memory_bytes=max(0, usage - int(cache or 0)),
        memory_limit_bytes=int(limit) if limit else None,
        at=epoch_seconds(read) or now,
    )


def epoch_seconds(stamp: str | None) -> float | None:
    """Unix time of an engine timestamp (RFC 3339, nanoseconds and a ``Z`` allowed; no
    zone reads as UTC), or None for one that is not a timestamp."""
    if not stamp:
        return None
    text = stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp
    head, dot, tail = text.partition(".")
    if dot:  # nanoseconds: Python reads at most microseconds
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = head + "." + digits[:6] + tail[len(digits) :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
