"""The :class:`~dockyard.ports.engine.Engine` port on the Docker Engine API.

One implementation serves dockerd and Podman's Docker-compatible service: both are
reached with docker-py's low-level :class:`docker.APIClient`, which maps the REST API
one to one. Two clients share the connection details: one with a request timeout
for calls that answer at once, one without for calls that legitimately stay silent
for long (``wait``, followed logs, builds, imports, pulls).

Contracts worth knowing:

* Published ports bind ``127.0.0.1`` on a host port the engine picks; :meth:`run`
  returns only once those ports (or, for ports not published, the container's
  address) are visible in the container's state.
* :attr:`DockerEngine.routes_to_containers` says whether this host reaches
  containers on their own addresses (see :mod:`reach`).
* A container on a user network is reachable there by its name, its hostname and
  every alias, so ``algo-1`` resolves from ``algo-2`` on Docker and on Podman.
* A container that joins another's network namespace (``container:ID``) gets that
  container's hostname on Docker, which refuses one of its own there; Podman keeps
  the container's own (its UTS namespace is its own). So the spec's hostname is
  dropped for Docker only, and on both a namespace holder's hostname is what a
  training host that joins it sees.
* On Podman, pulls and pushes of a registry on the loopback (Dockyard's own, plain
  HTTP) go through Podman's own API, which can skip TLS per request (:mod:`libpod`).
* ``stop``/``kill``/``remove``/``remove_network`` are idempotent: acting on
  something already stopped or gone is not an error, because the reconcile loop
  repeats itself after crashes.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
import requests.exceptions

from dockyard.adapters.engine import libpod
from dockyard.adapters.engine.cgroups import PARENT, TaskCgroups, support
from dockyard.adapters.engine.images import build_events, reachable, registry_of, split_ref
from dockyard.adapters.engine.oom import OomWitness
from dockyard.adapters.engine.reach import DataPath, routes_to_containers
from dockyard.adapters.engine.translate import (
    container_state,
    container_stats,
    create_error,
    detect_kind,
    json_or_empty,
    running_state,
    start_error,
    timed_out,
    translated,
)
from dockyard.errors import (
    BuildFailed,
    DockyardError,
    EngineUnavailable,
    NotFound,
    SpecError,
)
from dockyard.ports.engine import (
    BuildEvent,
    ContainerSpec,
    ContainerState,
    ContainerStats,
    ImageInfo,
    RegistryAuth,
)

REQUEST_TIMEOUT = 60.0
PORT_WAIT_SECONDS = 10.0

#: Every container's output is kept, but rotated: a container that floods its logs
#: costs at most 60 MB of the engine's disk, never the machine.
LOG_ROTATION = docker.types.LogConfig(type="json-file", config={"max-size": "20m", "max-file": "3"})


class DockerEngine:
    """A container engine behind the Docker Engine API (dockerd or Podman)."""

    joins_namespaces = True
    nodes_pull_images = False

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = REQUEST_TIMEOUT,
        data_path: DataPath = "auto",
        publish_address: str | None = None,
    ) -> None:
        """``publish_address``: an address of the engine's host that this host reaches
        (another machine's, or a network namespace's); ports are then published on it,
        and containers' states carry it as their ``host_address``. The engine's own
        container addresses are taken as unreachable from here (a bridge on another
        host), so every port is published."""
        self.base_url = base_url
        self.publish_address = publish_address
        try:
            self._api = docker.APIClient(base_url=base_url, version="auto", timeout=timeout)
            self.version: dict[str, Any] = self._api.version()
            info: dict[str, Any] = self._api.info()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineUnavailable(
                f"no container engine answers at {base_url} ({exc})",
                resource=base_url,
                hint="start dockerd or podman, or unset DOCKYARD_ENGINE_URL/DOCKER_HOST "
                "to let Dockyard find or start one",
            ) from exc
        self._stream = docker.APIClient(
            base_url=base_url, version=self._api.api_version, timeout=None
        )
        self.kind = detect_kind(self.version)
        self.routes_to_containers = publish_address is None and routes_to_containers(
            base_url, info, data_path
        )
        cgroup_version = support(info, base_url)
        self._cgroups = TaskCgroups(cgroup_version) if cgroup_version else None
        self._oom = OomWitness(self.oom_events)

    def __repr__(self) -> str:
        return f"DockerEngine({self.kind} at {self.base_url})"

    def close(self) -> None:
        self._api.close()
        self._stream.close()

    def ping(self) -> None:
        with translated(self.base_url, what="engine"):
            self._api.ping()

    def capacity(self) -> tuple[int, int]:
        """(cores, MiB) the engine reports (``NCPU``, ``MemTotal``)."""
        with translated(self.base_url, what="engine"):
            info: dict[str, Any] = self._api.info()
        return int(info.get("NCPU") or 0), int(info.get("MemTotal") or 0) // (1024 * 1024)

    # ------------------------------------------------------------------ containers

    def run(self, spec: ContainerSpec) -> ContainerState:
        """Create and start a container; return its state with host ports assigned.

        A container that cannot start is removed again, so a failed ``run`` leaves
        nothing behind; a command missing from the image is a :class:`SpecError`.
        """
        self._check_mount_sources(spec)
        with translated(spec.name):
            try:
                created = self._api.create_container(**self._create_args(spec))
            except docker.errors.APIError as exc:
                specific = create_error(spec, exc)
                if specific is None:
                    raise
                raise specific from exc
        container_id = created["Id"]
        try:
            self._api.start(container_id)
        except docker.errors.APIError as exc:
            self.remove(container_id)
            raise start_error(spec, exc) from exc
        return self._wait_for_ports(container_id, spec)

    def _check_mount_sources(self, spec: ContainerSpec) -> None:
        """Refuse a bind mount whose host path is missing.

        Docker refuses it too, but Podman silently creates an empty directory, which
        would hide a mistake (a model directory that was never written). Checked only
        when the engine is local (a unix socket), where its host is this host.
        """
        if not self.base_url.startswith("unix://"):
            return
        for mount in spec.mounts:
            if not Path(mount.source).exists():
                raise SpecError(
                    f"container {spec.name}: bind mount source {mount.source} does not exist",
                    field="mounts",
                    hint="a bind mount's host path must exist before the container starts",
                )

    def _create_args(self, spec: ContainerSpec) -> dict[str, Any]:
        host_config = self._api.create_host_config(
            port_bindings={port: (self._bind_address,) for port in spec.ports}
            if spec.publish
            else None,
            mounts=[
                docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)
                for m in spec.mounts
            ],
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            cpu_shares=spec.cpu_shares,
            mem_limit=spec.memory_mib * 1024 * 1024 if spec.memory_mib else None,
            mem_reservation=_mib(spec.memory_reservation_mib),
            cgroup_parent=spec.cgroup_parent,
            network_mode=spec.network,
            init=spec.init or None,
            log_config=LOG_ROTATION,
        )
        joins = bool(spec.network and spec.network.startswith("container:"))
        networking = None
        if spec.network and not joins:
            aliases = list(dict.fromkeys([*spec.network_aliases, *filter(None, [spec.hostname])]))
            networking = self._api.create_networking_config(
                {spec.network: self._api.create_endpoint_config(aliases=aliases or None)}
            )
        return {
            "image": spec.image,
            "command": spec.command,
            "name": spec.name,
            "entrypoint": spec.entrypoint,
            "environment": dict(spec.env),
            "labels": dict(spec.labels),
            "hostname": None if joins and self.kind != "podman" else spec.hostname,
            "user": spec.user,
            "working_dir": spec.working_dir,
            "ports": list(spec.ports),
            "stop_timeout": spec.stop_timeout,
            "host_config": host_config,
            "networking_config": networking,
            "healthcheck": _healthcheck(spec),
            "detach": True,
        }

    def _wait_for_ports(self, container_id: str, spec: ContainerSpec) -> ContainerState:
        """Inspect until the container's ports can be reached (or it stopped).

        Published ports must have their host ports; unpublished ones need the
        container's address.
        """
        deadline = time.monotonic() + PORT_WAIT_SECONDS

        def ports_ready(state: ContainerState) -> bool:
            if not spec.ports:
                return True
            if spec.publish:
                return set(spec.ports) <= set(state.host_ports)
            return state.ip_address is not None

        state = self.inspect(container_id)
        while state.running and not ports_ready(state) and time.monotonic() < deadline:
            time.sleep(0.05)
            state = self.inspect(container_id)
        return state

    def inspect(self, container_id: str) -> ContainerState:
        with translated(container_id):
            doc = self._api.inspect_container(container_id)
        state = self._located(container_state(doc))
        return self._oom_killed(state, str((doc.get("HostConfig") or {}).get("CgroupParent") or ""))

    @property
    def _bind_address(self) -> str:
        return self.publish_address or "127.0.0.1"

    def _located(self, state: ContainerState) -> ContainerState:
        """Where the published ports answer, for an engine on another host."""
        if self.publish_address is None or not state.host_ports:
            return state
        return replace(state, host_address=self.publish_address)

    def _oom_killed(self, state: ContainerState, cgroup_parent: str) -> ContainerState:
        """The engine's ``OOMKilled``, else the witnesses :mod:`oom` trusts.

        The task cgroup's count also covers Podman, which watches only each container's
        own limit, not the task cgroup's.
        """
        if state.oom_killed or state.exit_code is None:
            return state
        prefix = f"/{PARENT}/"
        cgroups = self._cgroups

        def cgroup_count() -> int:
            if cgroups is None or not cgroup_parent.startswith(prefix):
                return 0
            return cgroups.oom_kills(cgroup_parent.removeprefix(prefix))

        killed = self._oom.killed(
            state.id,
            exit_code=state.exit_code,
            started_at=state.started_at,
            finished_at=state.finished_at,
            cgroup_count=cgroup_count,
        )
        return replace(state, oom_killed=True) if killed else state

    def oom_events(self, container_id: str, since: float, until: float) -> list[dict[str, Any]]:
        """The engine's ``oom`` events for one container between two epoch times (none
        where the engine cannot say)."""
        try:
            return list(
                self._api.events(
                    since=f"{since:.9f}",
                    until=f"{until:.9f}",
                    filters={"container": container_id, "event": "oom"},
                    decode=True,
                )
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException, ValueError):
            return []

    def list(self, labels: dict[str, str]) -> list[ContainerState]:
        """Every container (running or not) carrying all of ``labels``."""
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        with translated("containers"):
            found = self._api.containers(all=True, filters=filters)
        states = []
        for summary in found:
            state = running_state(summary)
            if state is not None:
                states.append(self._located(state))
                continue
            try:
                states.append(self.inspect(summary["Id"]))
            except NotFound:
                continue  # removed between the listing and the inspect
        return states

    def stop(self, container_id: str, timeout: int) -> None:
        """SIGTERM (the image's stop signal), then SIGKILL after ``timeout`` seconds."""
        with translated(container_id):
            self._api.stop(container_id, timeout=timeout)

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal``; a container that is not running is left as it is."""
        try:
            with translated(container_id):
                self._api.kill(container_id, signal=signal)
        except DockyardError as exc:
            if isinstance(exc, NotFound) or self.inspect(container_id).running:
                raise

    def remove(self, container_id: str) -> None:
        """Remove the container (killing it if needed) and its anonymous volumes."""
        if self.kind == "podman":
            # Podman's forced removal stops gracefully first (waiting out the stop
            # timeout); Docker's kills at once. Kill first so both behave alike.
            with contextlib.suppress(NotFound):
                self.kill(container_id)
        try:
            with translated(container_id):
                self._api.remove_container(container_id, force=True, v=True)
        except NotFound:
            return
        except DockyardError as exc:
            if "already in progress" not in exc.message:
                raise

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        """The exit code once the container stops; :class:`TimeoutError` after ``timeout``."""
        try:
            with translated(container_id):
                result = self._stream.wait(container_id, timeout=timeout)
        except EngineUnavailable as exc:
            if timeout is not None and timed_out(exc.__cause__):
                raise TimeoutError(f"container {container_id} still running") from exc
            raise
        return int(result.get("StatusCode", -1))

    def logs(
        self, container_id: str, follow: bool = False, timestamps: bool = False
    ) -> Iterator[bytes]:
        """stdout and stderr as they come; with ``follow``, until the container stops."""
        with translated(container_id):
            stream = self._stream.logs(
                container_id,
                stdout=True,
                stderr=True,
                stream=True,
                follow=follow,
                timestamps=timestamps,
            )
        return self._guarded(stream, container_id)

    @staticmethod
    def _guarded(chunks: Iterator[bytes], resource: str) -> Iterator[bytes]:
        with translated(resource):
            yield from chunks

    def stats(self, container_id: str) -> ContainerStats | None:
        """One reading (``one-shot``: no second sample, so it answers at once)."""
        try:
            with translated(container_id):
                doc = self._api.stats(container_id, stream=False, one_shot=True)
        except NotFound:
            return None
        except EngineUnavailable:
            # Podman answers for a stopped container with an empty body
            try:
                if not self.inspect(container_id).running:
                    return None
            except NotFound:
                return None
            raise
        return container_stats(doc, time.time())

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        with translated(f"{container_id}:{path}"):
            if not self._api.put_archive(container_id, path, tar_bytes):
                raise DockyardError(f"copying into {container_id}:{path} failed")

    def get_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        """A tar stream of ``path`` inside the container."""
        with translated(f"{container_id}:{path}", what="path"):
            chunks, _stat = self._api.get_archive(container_id, path)
        return self._guarded(chunks, f"{container_id}:{path}")

    # ------------------------------------------------------------------ task cgroups

    def task_cgroup(self, name: str, cpus: float | None, memory_mib: int | None) -> str | None:
        """``/dockyard/NAME`` with the task's limits, where this host's cgroups allow
        (see :mod:`cgroups`); None otherwise."""
        if self._cgroups is None or (cpus is None and memory_mib is None):
            return None
        try:
            return self._cgroups.create(name, cpus, memory_mib)
        except OSError:
            return None

    def remove_task_cgroup(self, name: str) -> None:
        if self._cgroups is not None:
            self._cgroups.remove(name)

    # ------------------------------------------------------------------ networks

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        """Create a bridge network with DNS between its containers, unless it exists."""
        with translated(name, what="network"):
            if any(net.get("Name") == name for net in self._api.networks(names=[name])):
                return
            try:
                self._api.create_network(name, driver="bridge", labels=labels, check_duplicate=True)
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise

    def remove_network(self, name: str) -> None:
        try:
            with translated(name, what="network"):
                self._api.remove_network(name)
        except NotFound:
            return

    # ------------------------------------------------------------------ images

    def build(
        self,
        context_dir: str,
        tag: str,
        dockerfile: str = "Dockerfile",
        labels: dict[str, str] | None = None,
        buildargs: dict[str, str] | None = None,
    ) -> Iterator[BuildEvent]:
        """Build with the engine's classic builder; the last event carries the image id.

        Nothing happens until the iterator is consumed. Raises :class:`BuildFailed`
        with the builder's last output lines when a step fails.
        """
        if not (Path(context_dir) / dockerfile).is_file():
            raise NotFound(
                f"no {dockerfile} in build context {context_dir}",
                resource=str(Path(context_dir) / dockerfile),
                hint="write the Dockerfile first, or pass the right context directory",
            )
        return self._build(context_dir, tag, dockerfile, labels, buildargs)

    def _build(
        self,
        context_dir: str,
        tag: str,
        dockerfile: str,
        labels: dict[str, str] | None,
        buildargs: dict[str, str] | None,
    ) -> Iterator[BuildEvent]:
        try:
            with translated(tag, what="image"):
                chunks = self._stream.build(
                    path=context_dir,
                    tag=tag,
                    dockerfile=dockerfile,
                    labels=labels,
                    buildargs=buildargs,
                    rm=True,
                    forcerm=True,
                    decode=True,
                    pull=False,
                )
                yield from build_events(chunks, tag)
        except DockyardError as exc:
            if isinstance(exc, BuildFailed | EngineUnavailable):
                raise
            raise BuildFailed(exc.message, resource=tag, hint=exc.hint) from exc
        info = self.image(tag)
        if info is None:
            raise BuildFailed(f"the build of {tag} ended but no image carries that tag")
        yield BuildEvent(image_id=info.id)

    def image(self, ref: str) -> ImageInfo | None:
        """What the engine knows about ``ref``, or ``None`` when it has no such image."""
        try:
            with translated(ref, what="image"):
                doc = self._api.inspect_image(ref)
        except NotFound:
            return None
        return ImageInfo(
            id=str(doc["Id"]),
            tags=list(doc.get("RepoTags") or []),
            size_bytes=int(doc.get("Size") or 0),
            labels=dict((doc.get("Config") or {}).get("Labels") or {}),
        )

    def pull(self, ref: str, auth: RegistryAuth | None = None) -> bool:
        """Pull ``ref``; ``False`` (quickly) when it cannot be had from any registry."""
        if not self._registry_reachable(ref):
            return False
        try:
            with translated(ref, what="image"):
                for message in self._transfer("pull", ref, auth):
                    if "error" in message or "errorDetail" in message:
                        return False
        except DockyardError:
            return False
        return self.image(ref) is not None

    def push(
        self, ref: str, auth: RegistryAuth, progress: Callable[[str], None] | None = None
    ) -> str:
        """Push ``ref``; the registry's refusal becomes a DockyardError in its words."""
        digest = ""
        with translated(ref, what="image"):
            for message in self._transfer("push", ref, auth):
                if "errorDetail" in message or "error" in message:
                    detail = message.get("errorDetail") or {}
                    text = detail.get("message") or message.get("error") or "push refused"
                    raise DockyardError(
                        f"pushing {ref} failed: {text}",
                        resource=ref,
                        hint="check the repository exists and your credentials may push to it",
                    )
                aux = message.get("aux") or {}
                digest = str(aux.get("Digest") or digest)
                if progress is not None and message.get("status"):
                    layer = message.get("id")
                    progress(f"{layer}: {message['status']}" if layer else message["status"])
        return digest

    def _transfer(
        self, action: str, ref: str, auth: RegistryAuth | None
    ) -> Iterator[dict[str, Any]]:
        """The engine's messages for a pull or a push of ``ref``: on Podman, through its
        own API when the registry is on the loopback (see :mod:`libpod`)."""
        if self.kind == "podman" and libpod.on_loopback(ref):
            transfer = libpod.pull if action == "pull" else libpod.push
            return transfer(self._stream, ref, auth)
        repo, tag = split_ref(ref)
        call = self._stream.pull if action == "pull" else self._stream.push
        messages: Iterator[dict[str, Any]] = call(
            repo, tag=tag or None, stream=True, decode=True, auth_config=_auth_config(auth)
        )
        return messages

    def _registry_reachable(self, ref: str) -> bool:
        """A quick TCP probe of the registry, skipped when the engine uses a proxy/mirror."""
        with translated(ref, what="image"):
            info = self._api.info()
        registry_config = info.get("RegistryConfig") or {}
        if info.get("HttpsProxy") or info.get("HttpProxy") or registry_config.get("Mirrors"):
            return True
        return reachable(*registry_of(ref))

    def import_rootfs(self, tar_path: str, ref: str, changes: builtins.list[str]) -> None:
        """``docker import``: a root filesystem tarball becomes image ``ref``."""
        with translated(ref, what="image"):
            # The whole ref goes in ``repo``, as the docker CLI sends it: Podman 4.3
            # ignores a separate ``tag`` parameter on import.
            answer = self._stream.import_image(src=tar_path, repository=ref, changes=changes)
        for line in str(answer or "").splitlines():
            message = json_or_empty(line)
            if "error" in message or "errorDetail" in message:
                raise DockyardError(
                    f"importing {tar_path} as {ref} failed: {message.get('error')}",
                    resource=ref,
                    hint="check that the file is an uncompressed or gzipped tar of a root fs",
                )
        if self.image(ref) is None:
            raise DockyardError(f"the import of {tar_path} did not produce {ref}", resource=ref)

    def tag(self, source: str, target: str) -> None:
        repo, tag = split_ref(target)
        with translated(source, what="image"):
            self._api.tag(source, repo, tag, force=True)


def _mib(value: int | None) -> int | None:
    return value * 1024 * 1024 if value else None


def _healthcheck(spec: ContainerSpec) -> dict[str, Any] | None:
    """The engine's ``Healthcheck``: durations in nanoseconds."""
    check = spec.health_check
    if check is None:
        return None
    second = 1_000_000_000
    return {
        "Test": list(check.test),
        "Interval": check.interval_s * second,
        "Timeout": check.timeout_s * second,
        "Retries": check.retries,
        "StartPeriod": check.start_period_s * second,
    }


def _auth_config(auth: RegistryAuth | None) -> dict[str, str] | None:
    if auth is None:
        return None
    return {"username": auth.username, "password": auth.password}
