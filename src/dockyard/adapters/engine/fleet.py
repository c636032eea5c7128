"""The :class:`~dockyard.ports.engine.Engine` port over several engines: container instances.

EC2-launch-type tasks run on registered container instances (see
:mod:`dockyard.records.instance`); each instance is an engine reached at its own URL,
the local engine among them. The task runner keeps talking to one engine, this one:

* a container is created on the engine of the instance its ``dockyard.container-instance``
  label names (the local engine when unlabelled, or labelled with an instance not
  attached here: the local instance is never attached, it *is* ``local``);
* reads and actions on a container go to the engine that has it (remembered from
  :meth:`run` and :meth:`list`; else each engine is asked in turn);
* :meth:`list` is the union over every engine (a container seen twice, as when two
  instances are the same engine reached by two URLs, counts once);
* images, builds, networks and task cgroups are the local engine's. An image missing on
  an instance's engine is pulled by that engine before the container is created (as an
  ECS agent pulls); a task-level cgroup is made on this machine, so a task with a
  task-level size can run on another instance only if that engine runs on this machine.

Where an instance's engine does not route to its containers' own addresses (a remote
or TCP-reached engine), its containers' ports are published, and the balancer targets
those: on the address the instance was registered with (the engine adapter's
``publish_address``, reported as each container's ``host_address``), which this host
reaches.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from dockyard.adapters.engine.local_images import ImagesOnLocalEngine
from dockyard.errors import NotFound
from dockyard.ports.engine import (
    ContainerSpec,
    ContainerState,
    ContainerStats,
    Engine,
)

INSTANCE_LABEL = "dockyard.container-instance"


class FleetEngine(ImagesOnLocalEngine):
    """``local`` plus the engines of attached container instances."""

    def __init__(self, local: Engine) -> None:
        self.local = local
        self.kind = local.kind
        self.routes_to_containers = local.routes_to_containers
        self._instances: dict[str, Engine] = {}
        self._where: dict[str, Engine] = {}  # container id -> engine that has it
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        """Anything else (``base_url``, ``close``...) is the local engine's."""
        return getattr(self.local, name)

    def __repr__(self) -> str:
        return f"FleetEngine({self.local!r} + {len(self._instances)} instance(s))"

    # -- instances ----------------------------------------------------------------------

    def attach(self, instance_id: str, engine: Engine) -> None:
        """Containers labelled with ``instance_id`` run on ``engine`` from now on."""
        with self._lock:
            self._instances[instance_id] = engine

    def detach(self, instance_id: str) -> None:
        """Forget the instance's engine (its containers are no longer listed)."""
        with self._lock:
            engine = self._instances.pop(instance_id, None)
            self._where = {cid: e for cid, e in self._where.items() if e is not engine}

    def attached(self) -> builtins.list[str]:
        with self._lock:
            return sorted(self._instances)

    def _engines(self) -> builtins.list[Engine]:
        with self._lock:
            return [self.local, *self._instances.values()]

    def _remember(self, state: ContainerState, engine: Engine) -> ContainerState:
        with self._lock:
            self._where[state.id] = engine
        return state

    def _holder(self, container_id: str) -> Engine:
        """The engine that has the container; NotFound (the local engine's) if none."""
        with self._lock:
            known = self._where.get(container_id)
        if known is not None:
            return known
        engines = self._engines()
        for engine in engines[1:]:
            try:
                self._remember(engine.inspect(container_id), engine)
            except NotFound:
                continue
            return engine
        return self.local

    def _call(self, container_id: str, action: Callable[[Engine], Any]) -> Any:
        return action(self._holder(container_id))

    # -- containers ---------------------------------------------------------------------

    def run(self, spec: ContainerSpec) -> ContainerState:
        instance = spec.labels.get(INSTANCE_LABEL)
        with self._lock:
            engine = self._instances.get(instance or "", self.local)
        if engine is not self.local:
            if not engine.routes_to_containers:
                spec = replace(spec, publish=True)
            if engine.image(spec.image) is None:
                engine.pull(spec.image)
        return self._remember(engine.run(spec), engine)

    def inspect(self, container_id: str) -> ContainerState:
        state: ContainerState = self._call(container_id, lambda e: e.inspect(container_id))
        return state

    def list(self, labels: dict[str, str]) -> builtins.list[ContainerState]:
        seen: dict[str, ContainerState] = {}
        for engine in self._engines():
            for state in engine.list(labels):
                if state.id not in seen:
                    seen[state.id] = self._remember(state, engine)
        return builtins.list(seen.values())

    def stop(self, container_id: str, timeout: int) -> None:
        self._call(container_id, lambda e: e.stop(container_id, timeout))

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        self._call(container_id, lambda e: e.kill(container_id, signal))

    def remove(self, container_id: str) -> None:
        self._call(container_id, lambda e: e.remove(container_id))
        with self._lock:
            self._where.pop(container_id, None)

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        code: int = self._call(container_id, lambda e: e.wait(container_id, timeout))
        return code

    def logs(
        self, container_id: str, follow: bool = False, timestamps: bool = False
    ) -> Iterator[bytes]:
        lines: Iterator[bytes] = self._call(
            container_id, lambda e: e.logs(container_id, follow, timestamps)
        )
        return lines

    def stats(self, container_id: str) -> ContainerStats | None:
        stats: ContainerStats | None = self._call(container_id, lambda e: e.stats(container_id))
        return stats

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        self._call(container_id, lambda e: e.put_archive(container_id, path, tar_bytes))

    def get_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        chunks: Iterator[bytes] = self._call(
            container_id, lambda e: e.get_archive(container_id, path)
        )
        return chunks

    # -- the local engine's -------------------------------------------------------------

    def ping(self) -> None:
        self.local.ping()

    def capacity(self) -> tuple[int, int]:
        return self.local.capacity()

    def task_cgroup(self, name: str, cpus: float | None, memory_mib: int | None) -> str | None:
        return self.local.task_cgroup(name, cpus, memory_mib)

    def remove_task_cgroup(self, name: str) -> None:
        self.local.remove_task_cgroup(name)

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        self.local.ensure_network(name, labels)

    def remove_network(self, name: str) -> None:
        self.local.remove_network(name)
