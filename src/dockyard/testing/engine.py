"""A container engine in memory, with the Docker adapter's observable contracts.

Containers start at once and run until stopped, killed, or told to exit with
:meth:`FakeEngine.exit`. What the server relies on is copied from
:class:`~dockyard.adapters.engine.docker_api.DockerEngine`: ``run`` returns a
running state with every published port assigned (here from a counter, 40000 up); a
taken name is a :class:`~dockyard.errors.Conflict`, a missing container or image a
:class:`~dockyard.errors.NotFound`, a container that cannot start a
:class:`~dockyard.errors.DockyardError` worded by the adapter's own ``start_error``
and leaves nothing behind; ``stop``/``kill``/``remove`` are idempotent; a stopped
container keeps its exit code but no longer publishes ports (as in Docker).

The server calls the engine from worker threads, so every call holds one lock, and
``wait``/followed ``logs`` block on a condition until the container changes.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import docker.errors

from dockyard.adapters.engine.translate import start_error
from dockyard.errors import DockyardError, EngineUnavailable, NotFound
from dockyard.ports.engine import (
    BuildEvent,
    ContainerSpec,
    ContainerState,
    ContainerStats,
    ImageInfo,
    RegistryAuth,
)
from dockyard.testing.containers import Container, ContainerTable, killed_by, missing, name_taken
from dockyard.testing.images import ImageStore, image_not_found, normalized

_BUILTIN_NETWORKS = frozenset({"bridge", "host", "none"})


class FakeEngine:
    """:class:`dockyard.ports.engine.Engine` in memory.

    ``require_images``: ``run`` refuses an image nobody added or built, as a real
    engine does (turn off for tests that do not care about images).
    ``routes_to_containers``: whether tasks are reached on container addresses (ports
    not published) or on published loopback ports (the default here).
    ``joins_namespaces``: whether a container may join another's namespace (False
    plays swarm, where training hosts then get no namespace holder).
    ``nodes_pull_images``: True plays swarm, whose nodes pull images by registry name.
    ``stop_exit_code``: what a stopped container reports (143 is SIGTERM's; 0 for a
    server that exits cleanly on SIGTERM).

    Test controls: :meth:`add_image`, :meth:`exit`, :meth:`write_logs`,
    :meth:`fail_next_run`, :meth:`set_available`, :meth:`set_usage`, :meth:`containers`,
    :meth:`serving`,
    :meth:`networks`, :meth:`images`, and :attr:`calls` (port method → times called).
    """

    kind = "fake"

    def __init__(
        self,
        *,
        require_images: bool = True,
        stop_exit_code: int = 143,
        routes_to_containers: bool = False,
        joins_namespaces: bool = True,
        nodes_pull_images: bool = False,
    ) -> None:
        self.require_images = require_images
        self.routes_to_containers = routes_to_containers
        self.joins_namespaces = joins_namespaces
        self.nodes_pull_images = nodes_pull_images
        self.stop_exit_code = stop_exit_code
        self.calls: Counter[str] = Counter()
        self._changed = threading.Condition(threading.Lock())
        self._containers = ContainerTable()
        self._networks: set[str] = set()
        self._images = ImageStore()
        self._failures: dict[str, str] = {}
        self._available = True
        #: task cgroups made: name -> (cpus, memory MiB); ``task_cgroups_supported``
        #: False plays an engine that cannot make them
        self.task_cgroups: dict[str, tuple[float | None, int | None]] = {}
        self.task_cgroups_supported = True
        #: what :meth:`capacity` reports: (cores, MiB)
        self.host_capacity = (16, 65536)

    # ------------------------------------------------------------------ test controls

    def add_image(
        self, ref: str, id: str | None = None, labels: dict[str, str] | None = None
    ) -> ImageInfo:
        """Make image ``ref`` exist (as if pulled); an existing ``id`` gets the tag too."""
        with self._changed:
            return self._images.add(ref, id, labels)

    def exit(self, container_id: str, code: int, oom: bool = False) -> None:
        """The container's process ends by itself with ``code`` (OOM-killed if ``oom``)."""
        with self._changed:
            self._end(self._containers.find(container_id), code, oom)

    def set_health(self, container_id: str, health: str) -> None:
        """What the container's health check says from now on (healthy, unhealthy...)."""
        with self._changed:
            self._containers.find(container_id).health = health

    def spec(self, name: str) -> ContainerSpec:
        """What the container called ``name`` was started with."""
        with self._changed:
            found = self._containers.find(name).spec
        assert found is not None
        return found

    def set_usage(
        self, container_id: str, *, cpu_used_ns: int, memory_bytes: int, at: float | None = None
    ) -> None:
        """What ``stats`` reports for the container from now on (read ``at``, a Unix
        time; by default whenever it is asked)."""
        with self._changed:
            container = self._containers.find(container_id)
            container.cpu_used_ns, container.memory_bytes = cpu_used_ns, memory_bytes
            container.usage_at = at

    def write_logs(self, container_id: str, data: bytes) -> None:
        """Append ``data`` to what the container printed (seen by ``logs``, followers too)."""
        with self._changed:
            container = self._containers.find(container_id)
            container.logs.append(data)
            container.log_times.append(rfc3339_now())
            self._changed.notify_all()

    def fail_next_run(self, image_or_name: str, reason: str) -> None:
        """The next ``run`` of this image or container name fails to start with ``reason``.

        The error is the Docker adapter's, built from the same engine message, so a
        reason such as ``executable file not found`` becomes a :class:`SpecError`.
        """
        with self._changed:
            self._failures[image_or_name] = reason

    def set_available(self, available: bool) -> None:
        """While False every port call raises :class:`EngineUnavailable` (engine down)."""
        with self._changed:
            self._available = available

    def containers(self) -> builtins.list[ContainerState]:
        """Every container, in creation order (not counted in :attr:`calls`)."""
        with self._changed:
            return [c.state() for c in self._containers]

    def serving(self, addresses: Iterable[str]) -> dict[str, ContainerState | None]:
        """The running container each ``host:port`` reaches, if any (for the probe)."""
        with self._changed:
            found = {a: self._containers.serving(a) for a in addresses}
            return {a: c.state() if c is not None else None for a, c in found.items()}

    def networks(self) -> builtins.list[str]:
        with self._changed:
            return sorted(self._networks)

    def images(self) -> builtins.list[ImageInfo]:
        with self._changed:
            return self._images.all()

    # ------------------------------------------------------------------ containers

    def ping(self) -> None:
        """Answers, unless :meth:`set_available` took the engine down."""
        with self._call("ping", "engine"):
            return

    def capacity(self) -> tuple[int, int]:
        """:attr:`host_capacity` (set it to play a bigger or smaller host)."""
        with self._call("capacity", "engine"):
            return self.host_capacity

    def run(self, spec: ContainerSpec) -> ContainerState:
        with self._call("run", spec.name):
            if self._containers.named(spec.name) is not None:
                raise name_taken(spec.name)
            if self.require_images and self._images.find(spec.image) is None:
                raise image_not_found(spec.image)
            joined = spec.network.removeprefix("container:") if spec.network else None
            if spec.network and joined != spec.network:
                holder = self._containers.find(joined or "")
                if not holder.running:
                    refusal = f"cannot join network of a non running container: {joined}"
                    raise start_error(spec, docker.errors.APIError(refusal, explanation=refusal))
            elif spec.network and spec.network not in self._networks | _BUILTIN_NETWORKS:
                raise missing("container", spec.name, f"network {spec.network} not found")
            reason = self._failures.pop(spec.name, None) or self._failures.pop(spec.image, None)
            if reason is not None:
                raise start_error(spec, docker.errors.APIError(reason, explanation=reason))
            return self._containers.create(spec).state()

    def inspect(self, container_id: str) -> ContainerState:
        with self._call("inspect", container_id):
            return self._containers.find(container_id).state()

    def list(self, labels: dict[str, str]) -> builtins.list[ContainerState]:
        """Every container (running or not) carrying all of ``labels``."""
        with self._call("list", "containers"):
            return [c.state() for c in self._containers.labelled(labels)]

    def stop(self, container_id: str, timeout: int) -> None:
        with self._call("stop", container_id):
            self._end(self._containers.find(container_id), self.stop_exit_code)

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        """The container exits with 128 + the signal's number, as a shell reports it."""
        with self._call("kill", container_id):
            self._end(self._containers.find(container_id), killed_by(signal))

    def remove(self, container_id: str) -> None:
        with self._call("remove", container_id):
            try:
                container = self._containers.find(container_id)
            except NotFound:
                return
            self._end(container, 137)
            self._containers.delete(container)

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        with self._call("wait", container_id):
            container = self._containers.find(container_id)
            if not self._changed.wait_for(lambda: not container.running, timeout):
                raise TimeoutError(f"container {container_id} still running")
            return container.exit_code if container.exit_code is not None else -1

    def logs(
        self, container_id: str, follow: bool = False, timestamps: bool = False
    ) -> Iterator[bytes]:
        """Each chunk ``write_logs`` was given is one frame (prefixed with its time when
        ``timestamps``), as the engine frames one line."""
        with self._call("logs", container_id):
            container = self._containers.find(container_id)
            if not follow or not container.running:
                return iter(_framed(container, 0, len(container.logs), timestamps))
        return self._follow(container, timestamps)

    def _follow(self, container: Container, timestamps: bool) -> Iterator[bytes]:
        sent = 0
        while True:
            with self._changed:
                self._changed.wait_for(partial(container.has_news, sent))
                frames = _framed(container, sent, len(container.logs), timestamps)
                done = not container.running
            sent += len(frames)
            yield from frames
            if done:
                return

    def stats(self, container_id: str) -> ContainerStats | None:
        with self._call("stats", container_id):
            container = self._containers.find(container_id)
            if not container.running:
                return None
            at = container.usage_at if container.usage_at is not None else time.time()
            return ContainerStats(container.cpu_used_ns, container.memory_bytes, None, at)

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        """Kept as is; ``get_archive`` of the same path hands it back (no extraction)."""
        with self._call("put_archive", f"{container_id}:{path}"):
            self._containers.find(container_id).archives[path] = tar_bytes

    def get_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        with self._call("get_archive", f"{container_id}:{path}"):
            tar = self._containers.find(container_id).archives.get(path)
        if tar is None:
            raise missing("path", f"{container_id}:{path}", f"Could not find the file {path}")
        return iter([tar])

    # ------------------------------------------------------------------ task cgroups

    def task_cgroup(self, name: str, cpus: float | None, memory_mib: int | None) -> str | None:
        with self._call("task_cgroup", name):
            if not self.task_cgroups_supported or (cpus is None and memory_mib is None):
                return None
            self.task_cgroups[name] = (cpus, memory_mib)
            return f"/dockyard/{name}"

    def remove_task_cgroup(self, name: str) -> None:
        with self._call("remove_task_cgroup", name):
            self.task_cgroups.pop(name, None)

    # ------------------------------------------------------------------ networks

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        with self._call("ensure_network", name):
            self._networks.add(name)

    def remove_network(self, name: str) -> None:
        with self._call("remove_network", name):
            self._networks.discard(name)

    # ------------------------------------------------------------------ images

    def build(
        self,
        context_dir: str,
        tag: str,
        dockerfile: str = "Dockerfile",
        labels: dict[str, str] | None = None,
        buildargs: dict[str, str] | None = None,
    ) -> Iterator[BuildEvent]:
        """Two lines of output, then the new image's id (a new one per build).

        As with the real builder, a missing Dockerfile is a :class:`NotFound` at once,
        and nothing is built until the events are consumed.
        """
        with self._call("build", tag):
            path = Path(context_dir) / dockerfile
        if not path.is_file():
            raise NotFound(
                f"no {dockerfile} in build context {context_dir}",
                resource=str(path),
                hint="write the Dockerfile first, or pass the right context directory",
            )
        return self._build(tag, dockerfile, labels)

    def _build(
        self, tag: str, dockerfile: str, labels: dict[str, str] | None
    ) -> Iterator[BuildEvent]:
        yield BuildEvent(stream=f"Step 1/1 : FROM scratch ({dockerfile})\n")
        with self._changed:
            info = self._images.add(tag, labels=labels)
        yield BuildEvent(stream=f"Successfully tagged {normalized(tag)}\n")
        yield BuildEvent(image_id=info.id)

    def image(self, ref: str) -> ImageInfo | None:
        with self._call("image", ref):
            return self._images.find(ref)

    def pull(self, ref: str, auth: RegistryAuth | None = None) -> bool:
        """Always False: no registry is reachable from memory (use :meth:`add_image`)."""
        with self._call("pull", ref):
            return False

    def push(
        self, ref: str, auth: RegistryAuth, progress: Callable[[str], None] | None = None
    ) -> str:
        """Refused: no registry is reachable from memory."""
        with self._call("push", ref):
            raise DockyardError(f"pushing {ref} failed: no registry in memory", resource=ref)

    def import_rootfs(self, tar_path: str, ref: str, changes: builtins.list[str]) -> None:
        with self._call("import_rootfs", ref):
            if not Path(tar_path).is_file():
                raise DockyardError(f"importing {tar_path} as {ref} failed: no such file")
            self._images.add(ref)

    def tag(self, source: str, target: str) -> None:
        with self._call("tag", source):
            self._images.tag(source, target)

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _call(self, method: str, resource: str) -> Iterator[None]:
        """One port call: under the lock, counted, refused while the engine is down."""
        with self._changed:
            self.calls[method] += 1
            if not self._available:
                raise EngineUnavailable(
                    "the container engine stopped answering (fake engine set unavailable)",
                    resource=resource,
                    hint="check that dockerd/podman is running (`dockyard doctor`), then retry",
                )
            yield

    def _end(self, container: Container, code: int, oom: bool = False) -> None:
        """The container's process ended (no-op if it had); wake ``wait`` and followers."""
        if container.end(code, oom):
            self._changed.notify_all()


def _framed(container: Container, start: int, end: int, timestamps: bool) -> list[bytes]:
    chunks = container.logs[start:end]
    if not timestamps:
        return builtins.list(chunks)
    times = container.log_times[start:end]
    return [f"{at} ".encode() + chunk for at, chunk in zip(times, chunks, strict=True)]


def rfc3339_now() -> str:
    """Now as the engine stamps log lines (UTC, nanoseconds)."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1e9):09d}Z"
