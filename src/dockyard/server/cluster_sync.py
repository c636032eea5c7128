"""The kubernetes backend's reconciler: apply, delete, and read the cluster's report back.

With ``DOCKYARD_BACKEND=kubernetes`` the control loop runs this reconciler instead of
the local backend's workload reconcilers. Its keys are the resources the cluster runs
(``endpoint/NAME``, ``service/NAME``, ``training-job/NAME``, ``task/ID``: every one a
user made, training jobs and tasks until they end). Reconciling one:

1. **removal** — the API marked it for deletion (DeleteEndpoint, DeleteService) or to
   stop (StopTrainingJob, StopTask): delete its objects through the cluster port and
   finish the record (:mod:`.cluster_removal`);
2. **apply** — never applied (a create), or, for an endpoint or a service, its records
   now render differently from what was applied (an update: the digest in its
   :class:`~dockyard.records.cluster.ClusterState` differs): apply it exactly as
   ``dockyard export kubernetes NAME --apply`` does (:func:`.kubernetes.apply`);
3. **read-back** — ask the cluster port about its Deployments or Job and its pods, map
   the answer with :mod:`dockyard.kube.status` (pure), and write the result where the
   local backend writes its own: an endpoint's EndpointStatus and FailureReason, a
   training job's status, secondary status and transitions, and the replica counts and
   status that ``describe`` shows for endpoints, ECS services and tasks.

A refused apply or delete (the cluster's message, a missing secret) is logged and
evented, the record keeps its mark, and the resource is tried again after a backoff
(:data:`SYNC_INTERVAL_S` doubling up to :data:`RETRY_MAX_S`): never lost, never given up.

The loop reconciles every key at each resync; the cluster is asked at most every
:data:`SYNC_INTERVAL_S` per resource, sooner when the API changes the resource (the
control plane routes the API's wakes here through :meth:`ClusterSync.waker`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from dockyard.control.endpoint import EndpointStatus
from dockyard.control.task_state import StopCode, TaskStatus, stopped
from dockyard.control.training_status import SecondaryStatus, enter
from dockyard.errors import DockyardError
from dockyard.kube import status as kube
from dockyard.kube.status import Observation
from dockyard.ports.cluster import Cluster
from dockyard.records.cluster import ClusterState
from dockyard.server import cluster_removal, kubernetes
from dockyard.server.ecs_shapes import STANDALONE_OWNER
from dockyard.server.kubernetes import SYNC_KIND
from dockyard.server.platform import Platform, Wake

log = logging.getLogger("dockyard.cluster")

KIND = SYNC_KIND
SYNC_INTERVAL_S = 5.0
RETRY_MAX_S = 60.0
#: the API's wake kinds → the kinds of this reconciler's ``KIND/NAME`` keys
WOKEN_KINDS = {
    "endpoint": "endpoint",
    "service": "service",
    "training_job": "training-job",
    "task": "task",
}
#: resources whose records change in place (UpdateEndpoint, UpdateService): re-applied
#: when they render differently; a Job's template cannot change, so jobs and tasks are
#: applied once
UPDATABLE = ("endpoint", "service")
#: ECS's stoppedReason for a task whose essential container ended by itself
EXITED = "Essential container in task exited"


@dataclass(frozen=True)
class _Failure:
    attempts: int
    message: str
    retry_at: float


class ClusterSync:
    kind = KIND

    def __init__(self, platform: Platform, cluster: Cluster) -> None:
        self.platform = platform
        self.cluster = cluster
        self._synced_at: dict[str, float] = {}  # memory only: a restart asks at once
        self._failures: dict[str, _Failure] = {}  # memory only: a restart retries at once

    def keys(self) -> list[str]:
        store = self.platform.store
        keys = [f"endpoint/{r.name}" for r in store.endpoints.list()]
        keys += [f"service/{r.name}" for r in store.services.list() if r.ecs]
        keys += [
            f"training-job/{r.name}" for r in store.training_jobs.list() if not r.state.is_terminal
        ]
        keys += [f"task/{r.key}" for r in store.tasks.list(STANDALONE_OWNER) if not r.task.is_done]
        return keys

    def waker(self, wake: Wake) -> Wake:
        """``wake`` with the API's wakes of an endpoint, service, training job or task
        turned into this reconciler's: the change is looked at now, not at the next
        sync interval."""

        def wake_resource(kind: str, key: str | None = None) -> None:
            if key is not None and kind == KIND:  # an apply: read it back at once
                self._synced_at.pop(key, None)
            if key is None or kind not in WOKEN_KINDS:
                wake(kind, key)
                return
            resource = f"{WOKEN_KINDS[kind]}/{key}"
            self._synced_at.pop(resource, None)
            wake(KIND, resource)

        return wake_resource

    def reconcile(self, key: str, now: float) -> float | None:
        kind, _, name = key.partition("/")
        record = cluster_removal.record_of(self.platform.store, kind, name)
        if record is None:
            self._forget(key)
            return None
        failure = self._failures.get(key)
        if failure is not None and now < failure.retry_at:
            return failure.retry_at
        last = self._synced_at.get(key)
        due = last is None or now - last >= SYNC_INTERVAL_S
        removing = cluster_removal.being_removed(kind, record)
        try:
            if removing:
                self._remove(key)
                self._forget(key)
                return None
            if record.cluster is None or (
                due
                and kind in UPDATABLE
                and kubernetes.rendered_digest(self.platform, key) != record.cluster.digest
            ):
                kubernetes.apply(self.platform, key)
                due = True
        except DockyardError as error:
            return self._failed(key, "delete" if removing else "apply", error, now)
        self._failures.pop(key, None)
        if not due and last is not None:
            return last + SYNC_INTERVAL_S
        return self._read_back(key, now)

    def _remove(self, key: str) -> None:
        try:
            rendered = kubernetes.render(self.platform, key).manifests
        except DockyardError as error:  # e.g. its task definition is gone: what was recorded
            log.info("%s: deleting what was applied only (%s)", key, error)
            rendered = []
        deleted = cluster_removal.delete_objects(self.platform, self.cluster, key, rendered)
        cluster_removal.finish(self.platform, key, deleted)

    def _failed(self, key: str, action: str, error: DockyardError, now: float) -> float:
        """Keep the record as it is, say why, and try again later (later each time)."""
        previous = self._failures.get(key)
        attempts = previous.attempts + 1 if previous is not None else 1
        retry_at = now + min(SYNC_INTERVAL_S * (1 << min(attempts - 1, 8)), RETRY_MAX_S)
        message = str(error)
        self._failures[key] = _Failure(attempts, message, retry_at)
        log.warning("%s: %s on the cluster failed (attempt %d): %s", key, action, attempts, message)
        if previous is None or previous.message != message:
            kind, _, name = key.partition("/")
            self.platform.store.add_event(
                kubernetes.EVENT_KINDS[kind],
                name,
                f"{action} on the cluster failed, will retry: {message}",
            )
        return retry_at

    def _forget(self, key: str) -> None:
        self._synced_at.pop(key, None)
        self._failures.pop(key, None)

    def _read_back(self, key: str, now: float) -> float | None:
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
        record = cluster_removal.record_of(self.platform.store, kind, name)
        cluster: ClusterState | None = record.cluster if record is not None else None
        return cluster

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
                task = record.task
                if status is TaskStatus.STOPPED:  # its Job ended: so did the task (ECS's words)
                    task = stopped(task, StopCode.ESSENTIAL_CONTAINER_EXITED, EXITED, now)
                store.tasks.put(replace(record, cluster=cluster, task=task))


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
