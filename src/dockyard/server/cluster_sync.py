"""Read-back: the cluster's report on applied resources, into the same records.

With ``DOCKYARD_BACKEND=kubernetes`` the control loop runs this reconciler instead of
the local backend's workload reconcilers. Each resource applied to the cluster (its
record has a :class:`~dockyard.records.cluster.ClusterState`) is one key; reconciling
it asks the cluster port about its Deployments or Job and its pods, maps the answer
with :mod:`dockyard.kube.status` (pure), and writes the result where the local backend
writes its own: an endpoint's EndpointStatus and FailureReason, a training job's
status, secondary status and transitions, and the replica counts and status that
``describe`` shows for cluster-run endpoints, ECS services and tasks.

The loop reconciles every key at each resync; the cluster is asked at most every
:data:`SYNC_INTERVAL_S` per resource (sooner when the API wakes one, e.g. on apply).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from dockyard.control.endpoint import EndpointStatus
from dockyard.control.training_status import SecondaryStatus, enter
from dockyard.kube import status as kube
from dockyard.kube.status import Observation
from dockyard.ports.cluster import Cluster
from dockyard.records.cluster import ClusterState
from dockyard.server.kubernetes import SYNC_KIND
from dockyard.server.platform import Platform

log = logging.getLogger("dockyard.cluster")

KIND = SYNC_KIND
SYNC_INTERVAL_S = 5.0


class ClusterSync:
    kind = KIND

    def __init__(self, platform: Platform, cluster: Cluster) -> None:
        self.platform = platform
        self.cluster = cluster
        self._synced_at: dict[str, float] = {}  # memory only: a restart asks at once

    def keys(self) -> list[str]:
        store = self.platform.store
        keys = [f"endpoint/{r.name}" for r in store.endpoints.list() if r.cluster]
        keys += [f"service/{r.name}" for r in store.services.list() if r.cluster and r.ecs]
        keys += [
            f"training-job/{r.name}"
            for r in store.training_jobs.list()
            if r.cluster and not r.state.is_terminal
        ]
        keys += [f"task/{r.key}" for r in store.tasks.list() if r.cluster and not r.task.is_done]
        return keys

    def reconcile(self, key: str, now: float) -> float | None:
        last = self._synced_at.get(key)
        if last is not None and now - last < SYNC_INTERVAL_S:
            return last + SYNC_INTERVAL_S
        kind, _, name = key.partition("/")
        cluster = self._cluster_state(kind, name)
        if cluster is None:
            self._synced_at.pop(key, None)
            return None
        observation = self.cluster.observe(key, kube.applied_workloads(key, cluster.objects))
        self._synced_at[key] = now
        if kind == "endpoint":
            self._endpoint(name, observation, now)
        elif kind == "service":
            self._service(name, observation, now)
        elif kind == "training-job":
            self._training_job(name, observation, now)
        else:
            self._task(name, observation, now)
        return now + SYNC_INTERVAL_S

    def _cluster_state(self, kind: str, name: str) -> ClusterState | None:
        store = self.platform.store
        record = {
            "endpoint": store.endpoints.get,
            "service": store.services.get,
            "training-job": store.training_jobs.get,
            "task": store.tasks.get,
        }[kind](name)
        return record.cluster if record is not None else None

    def _endpoint(self, name: str, observation: Observation, now: float) -> None:
        status, reason = kube.endpoint_status(observation.deployments)
        counts = kube.replica_counts(observation.deployments)
        store = self.platform.store
        with store.transaction():
            record = store.endpoints.get(name)
            if record is None or record.cluster is None:
                return
            cluster = _observed(record.cluster, now, counts, str(status), reason)
            if record.status is EndpointStatus.DELETING or record.status is status:
                store.endpoints.put(replace(record, cluster=cluster))
                return
            store.endpoints.put(
                replace(
                    record,
                    status=status,
                    status_since=now,
                    failure_reason=reason,
                    last_modified_at=now,
                    cluster=cluster,
                )
            )
        store.add_event(
            "endpoint", name, f"{status} on the cluster" + (f": {reason}" if reason else "")
        )

    def _service(self, name: str, observation: Observation, now: float) -> None:
        counts = kube.replica_counts(observation.deployments)
        store = self.platform.store
        with store.transaction():
            record = store.services.get(name)
            if record is not None and record.cluster is not None:
                cluster = _observed(record.cluster, now, counts, None, None)
                store.services.put(replace(record, cluster=cluster))

    def _training_job(self, name: str, observation: Observation, now: float) -> None:
        if not observation.jobs:
            return
        job = observation.jobs[0]
        status, secondary, reason = kube.training_status(job)
        counts = kube.Replicas(job.completions, job.active, 0)
        store = self.platform.store
        with store.transaction():
            record = store.training_jobs.get(name)
            if record is None or record.cluster is None or record.state.is_terminal:
                return
            state = enter(record.state, secondary, now, status=status)
            if secondary is SecondaryStatus.TRAINING and state.training_started_at is None:
                state = replace(state, training_started_at=now)
            if state.is_terminal:
                state = replace(state, training_ended_at=now, failure_reason=reason)
            cluster = _observed(record.cluster, now, counts, str(status), reason)
            store.training_jobs.put(replace(record, state=state, cluster=cluster))
            changed = state.secondary_status is not record.state.secondary_status
        if changed:
            store.add_event("training_job", name, f"{secondary} on the cluster")

    def _task(self, name: str, observation: Observation, now: float) -> None:
        if not observation.jobs:
            return
        status = kube.task_status(observation.jobs[0], observation.pod_phases)
        running = observation.pod_phases.get("Running", 0)
        counts = kube.Replicas(1, running, observation.pod_phases.get("Pending", 0))
        store = self.platform.store
        with store.transaction():
            record = store.tasks.get(name)
            if record is not None and record.cluster is not None:
                cluster = _observed(record.cluster, now, counts, str(status), None)
                store.tasks.put(replace(record, cluster=cluster))


def _observed(
    cluster: ClusterState,
    now: float,
    counts: kube.Replicas,
    status: str | None,
    message: str | None,
) -> ClusterState:
    return replace(
        cluster,
        observed_at=now,
        desired=counts.desired,
        running=counts.running,
        pending=counts.pending,
        status=status,
        message=message,
    )
