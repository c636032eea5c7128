"""Find a running container engine, or start the installed one.

Order (first that answers wins):

1. ``settings.engine_url`` — explicit, so it is the only one tried;
2. ``DOCKER_HOST``;
3. the Docker socket, ``/var/run/docker.sock``;
4. a Podman socket, ``$XDG_RUNTIME_DIR/podman/podman.sock`` then ``/run/podman/podman.sock``;
5. the sockets of an engine Dockyard started earlier under ``settings.run_dir``.

When ``settings.engine_kind`` is set, an engine of the other kind is passed over.
If nothing answers, Dockyard starts an engine itself (see :mod:`daemons`). A file
lock in ``run_dir`` serialises that step, so processes racing to connect share one
daemon instead of starting two.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from dockyard.adapters.engine import daemons
from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.reach import DataPath
from dockyard.adapters.filelock import file_lock
from dockyard.errors import EngineUnavailable
from dockyard.settings import Settings, get_settings

DOCKER_SOCKET = Path("/var/run/docker.sock")
SYSTEM_PODMAN_SOCKET = Path("/run/podman/podman.sock")
PROBE_TIMEOUT = 3.0
START_TIMEOUT = {"docker": 60.0, "podman": 60.0}


@dataclass(frozen=True)
class Candidate:
    """A place an engine may answer, and why it is on the list."""

    url: str
    source: str


def candidates(settings: Settings, environ: Mapping[str, str]) -> list[Candidate]:
    """Where to look, in order (see the module docstring). Pure: no I/O."""
    if settings.engine_url:
        return [Candidate(settings.engine_url, "settings.engine_url")]
    found: list[Candidate] = []
    if environ.get("DOCKER_HOST"):
        found.append(Candidate(environ["DOCKER_HOST"], "DOCKER_HOST"))
    found.append(Candidate(f"unix://{DOCKER_SOCKET}", "Docker socket"))
    if environ.get("XDG_RUNTIME_DIR"):
        user_socket = Path(environ["XDG_RUNTIME_DIR"]) / "podman" / "podman.sock"
        found.append(Candidate(f"unix://{user_socket}", "Podman user socket"))
    found.append(Candidate(f"unix://{SYSTEM_PODMAN_SOCKET}", "Podman system socket"))
    for kind in daemons.KINDS:
        found.append(Candidate(daemons.layout(settings, kind).url, f"Dockyard's {kind}"))
    unique: dict[str, Candidate] = {}
    for candidate in found:
        unique.setdefault(candidate.url, candidate)
    return list(unique.values())


def answers(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when an engine API answers ``GET /_ping`` at ``url`` within ``timeout``."""
    if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
        return False
    try:
        # The oldest API docker-py speaks: every engine answers a ping on it.
        client = docker.APIClient(base_url=url, version="1.24", timeout=timeout)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    finally:
        client.close()


def _open(candidate: Candidate, kind: str | None, data_path: DataPath) -> DockerEngine | None:
    if not answers(candidate.url):
        return None
    try:
        engine = DockerEngine(candidate.url, data_path=data_path)
    except EngineUnavailable:
        return None
    if kind and engine.kind != kind:
        engine.close()
        return None
    return engine


def connect(
    settings: Settings | None = None,
    *,
    start: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DockerEngine:
    """A connected engine: the first that answers, else one started now (``start``)."""
    settings = settings or get_settings()
    say = progress or (lambda _line: None)
    kind = settings.engine_kind
    for candidate in candidates(settings, os.environ):
        engine = _open(candidate, kind, settings.data_path)
        if engine is not None:
            return engine
    if settings.engine_url:
        raise EngineUnavailable(
            f"no container engine answers at {settings.engine_url}",
            resource=settings.engine_url,
            hint="start it, or unset DOCKYARD_ENGINE_URL to let Dockyard find or start one",
        )
    if not start:
        raise EngineUnavailable(
            "no container engine is running",
            hint="run `dockyard setup` (it starts one), or start dockerd/podman yourself",
        )
    with file_lock(settings.run_dir / "engine.lock"):
        return _start_or_reuse(settings, kind, say)


def _start_or_reuse(
    settings: Settings, kind: str | None, say: Callable[[str], None]
) -> DockerEngine:
    """Under the lock: reuse a live engine from an earlier start, else start one."""
    for candidate_kind in (kind,) if kind else daemons.KINDS:
        where = daemons.layout(settings, candidate_kind)
        pid = daemons.running_pid(where)
        if pid is not None:
            say(f"{daemons.BINARIES[candidate_kind]} already started (pid {pid}); waiting for it")
            return _wait_until_answers(where, pid, settings.data_path)
    chosen = daemons.choose_kind(kind)
    began = time.monotonic()
    where, pid = daemons.start(settings, chosen, say)
    engine = _wait_until_answers(where, pid, settings.data_path)
    say(f"{daemons.BINARIES[chosen]} answers after {time.monotonic() - began:.1f} s")
    return engine


def _wait_until_answers(where: daemons.Layout, pid: int, data_path: DataPath) -> DockerEngine:
    """Poll the socket until the engine answers; fail early if the daemon died."""
    deadline = time.monotonic() + START_TIMEOUT[where.kind]
    delay = 0.05
    while time.monotonic() < deadline:
        if answers(where.url, timeout=2.0):
            return DockerEngine(where.url, data_path=data_path)
        if not daemons.alive(pid):
            raise daemons.unavailable(where, "exited while starting")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise daemons.unavailable(where, f"did not answer within {START_TIMEOUT[where.kind]:.0f} s")


def stop_started_engine(settings: Settings | None = None, timeout: float = 30.0) -> list[str]:
    """Stop the engines Dockyard started into ``settings.run_dir``; return their kinds."""
    settings = settings or get_settings()
    with file_lock(settings.run_dir / "engine.lock"):
        return daemons.stop(settings, timeout)
