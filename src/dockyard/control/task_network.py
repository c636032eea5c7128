"""Which tasks have their network namespace held, how, and when the holder may go.

In ECS's ``awsvpc`` mode a task has one network interface that all its containers
share: a sidecar reaches the app on ``localhost:PORT`` and the load balancer targets
the task's one address. ECS holds that namespace in a small "pause" container of its
own, so it outlives any one container (an init container that exits, a sidecar that
the app waits on). Dockyard does the same for tasks of more than one container; a
single-container task (an endpoint replica) owns its namespace already.

Training hosts of a job of several hosts are held too, for another reason: each is
``algo-i`` on the job's private network, and an engine's DNS answers for a container
only while it runs. A host that finished first would stop resolving, and a peer still
waiting for every name (the training toolkit does) or connecting to it later would
never get there. So the holder, not the host's container, carries the name on the
network, and it stays until the task is reaped (the job's end), not when its container
exits. That needs an engine on which a container can join another's namespace; where
it cannot (swarm places every container on its own), hosts keep their own namespace
and their name lives as long as their container.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.control.task_state import Task
from dockyard.spec.task_definition import TaskDefinition

#: the namespace holder's name among a task's containers (never a valid ECS name)
NAMESPACE_HOLDER = "~netns"
SHARED_MODES = frozenset({"awsvpc"})


@dataclass(frozen=True)
class NamespaceHolder:
    """The holder a task's containers join, as it is to be started.

    ``ports``: what it publishes (a container that joins a namespace cannot publish
    its own). ``network``: where it is attached (None: the engine's default);
    ``hostname``: its name there (an alias on ``network``, and the host name the
    joining containers see). ``until_reaped``: kept while the task's containers have
    exited, so its name still resolves; gone only with the task.
    """

    ports: tuple[int, ...] = ()
    network: str | None = None
    hostname: str | None = None
    until_reaped: bool = False


def shares_namespace(definition: TaskDefinition, *, own_network: str | None = None) -> bool:
    """Do the task's containers join one namespace held for the task (awsvpc)?"""
    return (
        own_network is None
        and definition.effective_network_mode in SHARED_MODES
        and len(definition.container_definitions) > 1
    )


def namespace_holder(
    definition: TaskDefinition,
    *,
    own_network: str | None = None,
    hostnames: Mapping[str, str] | None = None,
    hold_names: bool = False,
    engine_joins: bool = True,
) -> NamespaceHolder | None:
    """The holder the task needs; None when its containers keep their own namespaces.

    ``own_network``/``hostnames``: the task's private network and its containers'
    names there (a training host's placement); ``hold_names``: those names must
    resolve for as long as the task exists (a host of a job of several hosts);
    ``engine_joins``: the engine can start a container in another's namespace.
    """
    if shares_namespace(definition, own_network=own_network):
        return NamespaceHolder(ports=namespace_ports(definition))
    names = set((hostnames or {}).values())
    if hold_names and engine_joins and own_network is not None and len(names) == 1:
        (name,) = names
        return NamespaceHolder(
            ports=namespace_ports(definition),
            network=own_network,
            hostname=name,
            until_reaped=True,
        )
    return None


def namespace_ports(definition: TaskDefinition) -> tuple[int, ...]:
    """Every container port of the task: all answer on the namespace's address."""
    ports = (m.container_port for c in definition.container_definitions for m in c.port_mappings)
    return tuple(dict.fromkeys(ports))


def release_namespace(task: Task, holder: NamespaceHolder | None = None) -> bool:
    """May the holder stop? Once nothing of the task runs any more, unless it holds
    the task's name until the task is reaped."""
    if holder is not None and holder.until_reaped:
        return False
    return task.is_done
