"""The network namespace a task's containers share: its holder, made and let go.

Which tasks have one, and when it may go, is decided in
:mod:`dockyard.control.task_network`; this module does it. The holder is a container
of the pause image (:mod:`dockyard.adapters.engine.pause`) labelled as the task's
container :data:`NAMESPACE_HOLDER`, so every look at the task's containers sees it
(its address is the task's address), a reap removes it with them, and the orphan
sweep removes it when its task is unknown. It publishes every port of the task,
because a container that joins another's namespace cannot publish its own. A training
host's holder is also attached to the job's network as the host's name (``algo-i``),
so the name resolves until the job's hosts are reaped, whenever the host's own
container exits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from dockyard.adapters.engine.pause import ensure_pause_image
from dockyard.control.task_network import (
    NAMESPACE_HOLDER,
    NamespaceHolder,
    namespace_holder,
    release_namespace,
)
from dockyard.errors import Conflict, DockyardError
from dockyard.ports.engine import ContainerSpec, ContainerState, Engine
from dockyard.records.task import TaskRecord
from dockyard.server.containers import (
    CONTAINER_LABEL,
    INSTALLATION_LABEL,
    MANAGED,
    OWNER_LABEL,
    TASK_LABEL,
    _safe,
)

HOLDER_STOP_TIMEOUT = 1  # catatonit -P exits at once on SIGTERM


class TaskNamespaces:
    """Start a task's namespace holder before its first container; stop it after its
    last (or, for a holder of names, leave it to the task's reap)."""

    def __init__(
        self,
        engine: Engine,
        installation: str,
        *,
        pause_image: Callable[[Engine], str] = ensure_pause_image,
    ) -> None:
        self.engine = engine
        self.installation = installation
        self._pause_image = pause_image
        self._lock = threading.Lock()  # one holder per task, even from parallel starts

    def holder_of(self, record: TaskRecord) -> NamespaceHolder | None:
        """What holds the task's namespace, as :mod:`control.task_network` decides."""
        placement = record.placement
        return namespace_holder(
            record.definition,
            own_network=placement.network,
            hostnames=placement.hostnames,
            hold_names=placement.hold_names,
            engine_joins=self.engine.joins_namespaces,
        )

    def network_for(self, record: TaskRecord, cgroup_parent: str | None) -> str | None:
        """``container:ID`` for the task's containers to join, starting the holder if
        needed; None for a task whose containers keep their own namespaces."""
        wanted = self.holder_of(record)
        if wanted is None:
            return None
        with self._lock:
            holder = self._holder(record.task.task_id)
            if holder is None:
                holder = self._start_holder(record, wanted, cgroup_parent)
        if not holder.running:
            raise DockyardError(
                f"the network namespace of task {record.task.task_id} is gone "
                "(its holder container stopped)",
                resource=record.task.task_id,
            )
        return f"container:{holder.id}"

    def release(self, record: TaskRecord, seen: Mapping[str, ContainerState]) -> None:
        """Stop the holder once nothing else of the task runs (unless it holds names)."""
        holder = seen.get(NAMESPACE_HOLDER)
        if (
            holder is not None
            and holder.running
            and release_namespace(record.task, self.holder_of(record))
        ):
            with contextlib.suppress(DockyardError):
                self.engine.stop(holder.id, HOLDER_STOP_TIMEOUT)

    def _holder(self, task_id: str) -> ContainerState | None:
        found = self.engine.list({TASK_LABEL: task_id, CONTAINER_LABEL: NAMESPACE_HOLDER})
        return found[0] if found else None

    def _start_holder(
        self, record: TaskRecord, wanted: NamespaceHolder, cgroup_parent: str | None
    ) -> ContainerState:
        task_id = record.task.task_id
        spec = ContainerSpec(
            name=f"{_safe(record.placement.name_prefix)}-{task_id[:8]}-netns",
            image=self._pause_image(self.engine),
            labels={
                **record.placement.labels,
                MANAGED: "1",
                TASK_LABEL: task_id,
                OWNER_LABEL: record.owner,
                CONTAINER_LABEL: NAMESPACE_HOLDER,
                INSTALLATION_LABEL: self.installation,
            },
            ports=list(wanted.ports),
            publish=not self.engine.routes_to_containers,
            network=wanted.network,
            hostname=wanted.hostname,
            network_aliases=[wanted.hostname] if wanted.hostname and wanted.network else [],
            stop_timeout=HOLDER_STOP_TIMEOUT,
            cgroup_parent=cgroup_parent,
        )
        try:
            return self.engine.run(spec)
        except Conflict:  # made meanwhile (by another daemon's pass): use that one
            holder = self._holder(task_id)
            if holder is None:
                raise
            return holder


def joined(spec: ContainerSpec, network: str | None) -> ContainerSpec:
    """``spec`` inside the namespace ``network`` (its ports and its names on a network
    are the holder's; its hostname stays, for an engine that keeps it, see
    :mod:`dockyard.adapters.engine.docker_api`)."""
    if network is None:
        return spec
    return replace(spec, network=network, ports=[], network_aliases=[])
