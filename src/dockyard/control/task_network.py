"""Which tasks share one network namespace, and when it may go.

In ECS's ``awsvpc`` mode a task has one network interface that all its containers
share: a sidecar reaches the app on ``localhost:PORT`` and the load balancer targets
the task's one address. ECS holds that namespace in a small "pause" container of its
own, so it outlives any one container (an init container that exits, a sidecar that
the app waits on). Dockyard does the same for tasks of more than one container; a
single-container task (an endpoint replica) owns its namespace already, and training
hosts keep their own network where they resolve as algo-1..N.
"""

from __future__ import annotations

from dockyard.control.task_state import Task
from dockyard.spec.task_definition import TaskDefinition

#: the namespace holder's name among a task's containers (never a valid ECS name)
NAMESPACE_HOLDER = "~netns"
SHARED_MODES = frozenset({"awsvpc"})


def shares_namespace(definition: TaskDefinition, *, own_network: str | None = None) -> bool:
    """Do the task's containers join one namespace held for the task?"""
    return (
        own_network is None
        and definition.effective_network_mode in SHARED_MODES
        and len(definition.container_definitions) > 1
    )


def namespace_ports(definition: TaskDefinition) -> tuple[int, ...]:
    """Every container port of the task: all answer on the namespace's address."""
    ports = (m.container_port for c in definition.container_definitions for m in c.port_mappings)
    return tuple(dict.fromkeys(ports))


def release_namespace(task: Task) -> bool:
    """May the holder stop? Once nothing of the task runs any more."""
    return task.is_done
