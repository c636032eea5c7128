"""Deleting what the cluster runs for a resource that goes, then finishing its record.

With ``DOCKYARD_BACKEND=kubernetes`` no local reconciler drains an endpoint, an ECS
service, a training job or a task: the API only marks them (Deleting, DRAINING, stop
requested, desired STOPPED). The read-back sync (:mod:`.cluster_sync`) sees the mark,
deletes the resource's objects through the cluster port (which ones:
:mod:`dockyard.kube.removal`), and only once the cluster took every delete finishes the
record as the local backend would: the endpoint and the service are gone, the training
job is Stopped, the task STOPPED. A refused delete leaves the record marked, so the
sync tries again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dockyard.control.deployments import ServiceStatus
from dockyard.control.endpoint import EndpointStatus
from dockyard.control.task_state import StopCode, stopped
from dockyard.control.training_status import (
    SecondaryStatus,
    StopCause,
    TrainingJobStatus,
    enter,
)
from dockyard.kube.removal import removal, stale
from dockyard.ports.cluster import Cluster
from dockyard.ports.store import Store
from dockyard.records.cluster import ClusterState
from dockyard.server.ecs_shapes import STANDALONE_OWNER
from dockyard.server.platform import Platform


def record_of(store: Store, kind: str, name: str) -> Any:
    """The record ``kind``/``name`` stands for, or None (a service that is an endpoint's
    variant, or a task no user started, is not a resource of its own here)."""
    if kind == "endpoint":
        return store.endpoints.get(name)
    if kind == "service":
        service = store.services.get(name)
        return service if service is not None and service.ecs is not None else None
    if kind == "training-job":
        return store.training_jobs.get(name)
    if kind == "task":
        task = store.tasks.get(name)
        return task if task is not None and task.owner == STANDALONE_OWNER else None
    return None


def being_removed(kind: str, record: Any) -> bool:
    """True once the API asked for the resource to go (or, a training job, to stop)."""
    if kind == "endpoint":
        return bool(record.status is EndpointStatus.DELETING)
    if kind == "service":
        return bool(record.ecs.status is not ServiceStatus.ACTIVE)
    if kind == "training-job":
        return bool(record.stop_requested and not record.state.is_terminal)
    return bool(record.task.is_stopping)


def objects_in_use(store: Store, resource: str) -> set[str]:
    """Every object another cluster-run record lists (an endpoint's variant services
    mirror the endpoint's own list, so they are the endpoint's, not others')."""
    listed: list[tuple[str, ClusterState | None]] = [
        *((f"endpoint/{r.name}", r.cluster) for r in store.endpoints.list()),
        *((f"service/{r.name}", r.cluster) for r in store.services.list() if r.ecs is not None),
        *((f"training-job/{r.name}", r.cluster) for r in store.training_jobs.list()),
        *((f"task/{r.key}", r.cluster) for r in store.tasks.list(STANDALONE_OWNER)),
    ]
    return {o for key, cluster in listed if cluster and key != resource for o in cluster.objects}


def delete_objects(
    platform: Platform, cluster: Cluster, resource: str, rendered: Sequence[dict[str, Any]]
) -> list[str]:
    """Delete the resource's objects (those its last apply recorded and those its records
    render now, so an apply that failed halfway leaves nothing behind)."""
    kind, _, name = resource.partition("/")
    record = record_of(platform.store, kind, name)
    recorded = record.cluster.objects if record is not None and record.cluster else ()
    chosen = removal(
        recorded,
        rendered,
        objects_in_use(platform.store, resource),
        workloads_only=kind == "training-job",
    )
    return cluster.delete_objects(chosen) if chosen else []


def prune(
    platform: Platform,
    cluster: Cluster,
    resource: str,
    previous: Sequence[str],
    applied: Sequence[str],
) -> list[str]:
    """Delete what an earlier apply made and this one no longer renders (a variant an
    update removed, an autoscaler deregistered): apply alone would leave it running."""
    old = stale(previous, set(applied), objects_in_use(platform.store, resource))
    return cluster.delete_objects(old) if old else []


def finish(platform: Platform, resource: str, deleted: Sequence[str]) -> None:
    """The record once its objects are gone, as the local backend leaves it."""
    kind, _, name = resource.partition("/")
    store = platform.store
    now = platform.clock()
    gone = f"{len(deleted)} objects deleted from the cluster"
    if kind == "endpoint":
        with store.transaction():
            endpoint = store.endpoints.get(name)
            if endpoint is None or endpoint.status is not EndpointStatus.DELETING:
                return
            for variant_service in endpoint.service_names:
                store.services.delete(variant_service)
            store.endpoints.delete(name)
        for route in endpoint.routes:
            platform.lb.remove_route(route)
        store.add_event("endpoint", name, f"deleted ({gone})")
    elif kind == "service":
        with store.transaction():
            service = store.services.get(name)
            if service is None or service.ecs is None or service.ecs.status is ServiceStatus.ACTIVE:
                return
            store.services.delete(name)
        if service.target is not None and service.state.target_group:
            platform.lb.remove_route(service.state.target_group)
        store.add_event("service", name, f"(service {name}) was deleted ({gone}).")
    elif kind == "training-job":
        with store.transaction():
            job = store.training_jobs.get(name)
            if job is None or job.state.is_terminal:
                return
            state = enter(
                job.state, SecondaryStatus.STOPPING, now, status=TrainingJobStatus.STOPPING
            )
            state = enter(state, SecondaryStatus.STOPPED, now, status=TrainingJobStatus.STOPPED)
            state = replace(state, stop_cause=StopCause.USER, training_ended_at=now)
            store.training_jobs.put(replace(job, state=state, done=True))
        store.add_event("training_job", name, f"Stopped [Stopped] ({gone}: its Job)")
    else:
        with store.transaction():
            record = store.tasks.get(name)
            if record is None or record.task.is_done:
                return
            task = stopped(record.task, StopCode.USER_INITIATED, "Task stopped by user", now)
            store.tasks.put(replace(record, task=task))
        store.add_event(
            "task", name, f"stopped: {record.task.stopped_reason or 'stopped'} ({gone})"
        )
