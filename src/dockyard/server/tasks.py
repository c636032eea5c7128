"""Tasks onto containers, one owner at a time: create, observe, act, reap.

ECS services, endpoint replicas and training hosts all become tasks here. What a
task's state *is* (RUNNING, STOPPED and why) is decided in :mod:`dockyard.control.task`
from the observations gathered here; this module only looks and acts. Everything goes
through the store first: a task is written (PROVISIONING) before any container
exists, and its containers carry its id as a label, so a daemon that dies at any
point finds the task again and carries on from what it sees.

Nothing here waits: containers are stopped in the background (a stop may take the
container's whole stopTimeout), and the next observation shows the result.

The API writes one thing into a task record: a stop request (ECS ``StopTask``). Every
write here keeps a stop requested meanwhile (:meth:`TaskRunner._put`), so a reconcile
that read the task before the request cannot undo it.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from dockyard.control.task import (
    ContainerObservation,
    EngineState,
    StopCode,
    abandoned_containers,
    containers_to_start,
    containers_to_stop,
    kept_stop,
    new_task,
    observe,
    request_stop,
)
from dockyard.control.task_limits import task_size
from dockyard.control.task_network import NAMESPACE_HOLDER
from dockyard.errors import DockyardError
from dockyard.ports.engine import ContainerState, Engine
from dockyard.ports.store import Store
from dockyard.records.placement import Placement
from dockyard.records.task import PortAddress, TaskRecord
from dockyard.server.containers import (
    CONTAINER_LABEL,
    DEFAULT_STOP_TIMEOUT,
    INSTALLATION_LABEL,
    MANAGED,
    OWNER_LABEL,
    TASK_LABEL,
    container_spec,
    new_task_id,
    observation,
)
from dockyard.server.task_env import TaskInjections
from dockyard.server.task_network import TaskNamespaces, joined
from dockyard.server.task_output import TaskOutput
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.task_definition import TaskDefinition

#: the engine's view of an owner's tasks: task id -> container name -> state
Seen = dict[str, dict[str, ContainerState]]


class TaskRunner:
    """The I/O half of the task lifecycle, shared by every kind of owner."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        volumes_root: Path,
        *,
        installation: str,
        output: TaskOutput,
        injections: TaskInjections | None = None,
    ) -> None:
        self.engine = engine
        #: secrets and role credentials added at start (None: none can be, and a
        #: container with secrets fails to start)
        self.injections = injections
        self.store = store
        self.volumes_root = volumes_root
        self.installation = installation
        self.output = output
        self._stopper = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stop")
        self._stopping: set[str] = set()  # container ids with a stop in flight
        self._stopping_lock = threading.Lock()
        #: the namespace a task of several containers shares (awsvpc)
        self.namespaces = TaskNamespaces(engine, installation)

    def close(self) -> None:
        self._stopper.shutdown(wait=False, cancel_futures=True)

    # -- looking --------------------------------------------------------------------------

    def records(self, owner: str) -> list[TaskRecord]:
        return self.store.tasks.list(owner)

    def observe_owner(self, owner: str) -> Seen:
        """Every container of the owner's tasks, in one engine query."""
        seen: Seen = defaultdict(dict)
        for state in self.engine.list({OWNER_LABEL: owner, INSTALLATION_LABEL: self.installation}):
            task_id = state.labels.get(TASK_LABEL)
            if task_id:
                seen[task_id][state.labels.get(CONTAINER_LABEL, state.name)] = state
        return seen

    def observe_task(self, task_id: str) -> dict[str, ContainerState]:
        return {
            state.labels.get(CONTAINER_LABEL, state.name): state
            for state in self.engine.list({TASK_LABEL: task_id})
        }

    # -- acting ---------------------------------------------------------------------------

    def create(
        self,
        owner: str,
        definition: TaskDefinition,
        revision: str,
        placement: Placement,
        *,
        now: float,
        deployment: str = "",
    ) -> TaskRecord:
        """Record a new task, then start the containers that may start now."""
        task = new_task(
            new_task_id(), definition, revision, now, started_by=owner, deployment=deployment
        )
        record = TaskRecord(task, owner, definition, placement)
        self.store.tasks.put(record)
        return self.step(record, {}, now)

    def step(
        self, record: TaskRecord, seen: dict[str, ContainerState], now: float, *, held: bool = False
    ) -> TaskRecord:
        """Observe, let control decide, act; store the record when anything changed.

        ``seen``: the task's containers as last observed; ``held``: the task is still
        a load-balancer target, so its containers are not stopped yet.
        """
        before = record
        seen = self._without_abandoned(record, seen)
        record = self._observed(record, seen, now)
        starting = containers_to_start(record.task)
        if starting:
            for name in starting:
                record = self._start(record, name)
            record = self._observed(record, self.observe_task(record.task.task_id), now)
        if record != before:
            record = self._put(record)
        self._stop_containers(record, held=held)
        self.namespaces.release(record, seen)
        return record

    def request_stop(
        self, record: TaskRecord, code: StopCode, reason: str, now: float, *, held: bool = False
    ) -> TaskRecord:
        """Ask the task to stop (its containers get SIGTERM now unless ``held``)."""
        record = self._put(replace(record, task=request_stop(record.task, code, reason, now)))
        self._stop_containers(record, held=held)
        return record

    def save(self, record: TaskRecord) -> TaskRecord:
        """Store ``record`` (keeping a stop the API requested meanwhile); what was stored."""
        return self._put(record)

    def reap(self, record: TaskRecord) -> None:
        """Remove a STOPPED task's containers, scratch volumes and record.

        The tail of each container's output is kept first (see :mod:`task_output`):
        the output of a replica that crashed is what explains the crash.
        """
        tails = {}
        for state in self.engine.list({TASK_LABEL: record.task.task_id}):
            name = state.labels.get(CONTAINER_LABEL, state.name)
            if name != NAMESPACE_HOLDER:
                tails[name] = self.output.tail(state)
            self._remove_quietly(state.id)
        with contextlib.suppress(DockyardError, OSError):
            self.engine.remove_task_cgroup(record.task.task_id)
        for container, tail in tails.items():  # once removed: a kept log means it is gone
            if tail is not None:
                self.output.keep(record.owner, record.task.task_id, container, tail)
        shutil.rmtree(self.volumes_root / record.task.task_id, ignore_errors=True)
        self.store.tasks.delete(record.task.task_id)

    def remove_orphans(self) -> list[str]:
        """This installation's containers whose task is unknown: stop and remove them,
        and their tasks' cgroups with them.

        Only containers labelled with this installation's id: another daemon on the
        same engine (another state directory) owns the rest.
        """
        known = {record.task.task_id for record in self.store.tasks.list()}
        removed: list[str] = []
        unknown: set[str] = set()
        for state in self.engine.list({MANAGED: "1", INSTALLATION_LABEL: self.installation}):
            task_id = state.labels.get(TASK_LABEL)
            if task_id and task_id not in known:
                self._remove_quietly(state.id)
                removed.append(state.name)
                unknown.add(task_id)
        for task_id in unknown:
            with contextlib.suppress(DockyardError, OSError):
                self.engine.remove_task_cgroup(task_id)
        return removed

    # -- internals ------------------------------------------------------------------------

    def _put(self, record: TaskRecord) -> TaskRecord:
        """Store ``record``, keeping a stop requested since it was read (StopTask)."""
        with self.store.transaction():
            stored = self.store.tasks.get(record.key)
            if stored is not None:
                record = replace(record, task=kept_stop(record.task, stored.task))
            self.store.tasks.put(record)
        return record

    def _without_abandoned(
        self, record: TaskRecord, seen: dict[str, ContainerState]
    ) -> dict[str, ContainerState]:
        """``seen`` less the containers a killed daemon created but never started
        (see :func:`~dockyard.control.task.abandoned_containers`), removed from the
        engine so that they are made again under the same names."""
        observed = {name: observation(state) for name, state in seen.items()}
        abandoned = abandoned_containers(record.task, observed)
        for name in abandoned:
            self._remove_quietly(seen[name].id)
        return {name: state for name, state in seen.items() if name not in abandoned}

    def _observed(
        self, record: TaskRecord, seen: dict[str, ContainerState], now: float
    ) -> TaskRecord:
        observations: dict[str, ContainerObservation | None] = {
            name: observation(state) for name, state in seen.items()
        }
        for name, error in record.start_errors.items():
            observations.setdefault(name, ContainerObservation(EngineState.EXITED, "", error=error))
        holder = seen.get(NAMESPACE_HOLDER)  # where the task's ports are, when it has one
        addresses = tuple(
            address
            for name, state in sorted(seen.items())
            if state.running and name != NAMESPACE_HOLDER
            for address in self._addresses(name, holder or state, record.definition.container(name))
        )
        task = observe(record.task, observations, now)
        if addresses and addresses != record.addresses:
            record = replace(record, addresses=addresses)
        return replace(record, task=task) if task != record.task else record

    @staticmethod
    def _addresses(
        name: str, state: ContainerState, container: ContainerDefinition
    ) -> list[PortAddress]:
        """Where each of the container's ports answers: its published port (on the
        loopback, or on the node that runs it), or its own address where the port is
        not published (see ``container_spec``)."""
        found = []
        for mapping in container.port_mappings:
            port = mapping.container_port
            if port in state.host_ports:
                host = state.host_address or "127.0.0.1"
                found.append(PortAddress(name, port, f"{host}:{state.host_ports[port]}"))
            elif state.ip_address:
                found.append(PortAddress(name, port, f"{state.ip_address}:{port}"))
        return found

    def _start(self, record: TaskRecord, name: str) -> TaskRecord:
        definition = record.definition
        try:
            container = definition.container(name)
            injected = self.injections.env_for(record, container) if self.injections else {}
            if record.placement.network:
                self.engine.ensure_network(record.placement.network, {MANAGED: "1"})
            size = task_size(definition)
            cgroup = self.engine.task_cgroup(record.task.task_id, size.cpus, size.memory_mib)
            network = self.namespaces.network_for(record, cgroup)
            spec = container_spec(
                record.task.task_id,
                record.owner,
                definition,
                container,
                record.placement,
                self.volumes_root,
                publish=not self.engine.routes_to_containers,
                injected_env=injected,
                cgroup_parent=cgroup,
            )
            labels = {**spec.labels, INSTALLATION_LABEL: self.installation}
            auth = self.injections.pull_auth(container.image) if self.injections else None
            self.engine.run(replace(joined(spec, network), labels=labels, pull_auth=auth))
        except DockyardError as error:
            errors = {**record.start_errors, name: error.message}
            record = self._put(replace(record, start_errors=errors))
        return record

    def _stop_containers(self, record: TaskRecord, *, held: bool) -> None:
        for name in containers_to_stop(record.task, held=held):
            container_id = record.task.container(name).container_id
            if container_id is None:
                continue
            with self._stopping_lock:
                if container_id in self._stopping:
                    continue
                self._stopping.add(container_id)
            timeout = record.definition.container(name).stop_timeout or DEFAULT_STOP_TIMEOUT
            self._stopper.submit(self._stop_quietly, container_id, timeout)

    def _stop_quietly(self, container_id: str, timeout: int) -> None:
        try:
            with contextlib.suppress(DockyardError):
                self.engine.stop(container_id, timeout)
        finally:
            with self._stopping_lock:
                self._stopping.discard(container_id)

    def _remove_quietly(self, container_id: str) -> None:
        with contextlib.suppress(DockyardError):
            self.engine.remove(container_id)
