"""Service event messages, in ECS's wording (``describe-services`` → ``events``).

Kept in one place so the plan (which knows what it stops and registers) and the server
(which learns task ids only once it has started them) word events identically.
"""

from __future__ import annotations

from collections.abc import Sequence


def _tasks(task_ids: Sequence[str]) -> str:
    return " ".join(f"(task {task_id})" for task_id in task_ids)


def started(service: str, task_ids: Sequence[str]) -> str:
    """``(service web) has started 2 tasks: (task a) (task b).``"""
    return f"(service {service}) has started {len(task_ids)} tasks: {_tasks(task_ids)}."


def stopped(service: str, task_ids: Sequence[str], *, running: bool = True) -> str:
    """``(service web) has stopped 1 running tasks: (task a).``"""
    kind = "running" if running else "pending"
    return f"(service {service}) has stopped {len(task_ids)} {kind} tasks: {_tasks(task_ids)}."


def steady_state(service: str) -> str:
    return f"(service {service}) has reached a steady state."


def registered(service: str, target_group: str, count: int) -> str:
    return f"(service {service}) registered {count} targets in (target-group {target_group})"


def deregistered(service: str, target_group: str, count: int) -> str:
    return f"(service {service}) deregistered {count} targets in (target-group {target_group})"


def failed_container_health(service: str, task_id: str) -> str:
    return f"(service {service}) (task {task_id}) failed container health checks."


def failed_target_health(service: str, task_id: str, target_group: str) -> str:
    return (
        f"(service {service}) (task {task_id}) is unhealthy in (target-group {target_group}) "
        "due to (reason Health checks failed)."
    )


def missed_startup(service: str, task_id: str, seconds: float) -> str:
    return (
        f"(service {service}) (task {task_id}) did not pass its health checks within "
        f"{seconds:g} seconds of starting."
    )


def deployment_failed(service: str, deployment: str) -> str:
    """``(service web) (deployment ecs-svc/1) deployment failed: tasks failed to start.``"""
    return (
        f"(service {service}) (deployment {deployment}) deployment failed: tasks failed to start."
    )


def rolling_back(service: str, deployment: str) -> str:
    """``(service web) rolling back to deployment ecs-svc/0.``"""
    return f"(service {service}) rolling back to deployment {deployment}."
