"""What a cluster reports, as the statuses Dockyard reports for the local backend (pure).

The adapter reads Deployments, Jobs and pods back into the small values here
(:class:`DeploymentStatus`, :class:`JobStatus`, pod phases); these functions turn them
into what ``describe`` shows for the same resource run locally: an endpoint's
EndpointStatus, a training job's TrainingJobStatus and SecondaryStatus (and
FailureReason), an ECS service's desired/running/pending counts, a task's lastStatus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.control.endpoint import EndpointStatus
from dockyard.control.task_state import TaskStatus
from dockyard.control.training_status import SecondaryStatus, TrainingJobStatus
from dockyard.kube.names import resource_labels

#: the kinds the read-back asks the cluster about (the workloads; the rest has no status)
WORKLOAD_KINDS = {"Deployment": "apps/v1", "Job": "batch/v1"}

PROGRESS_DEADLINE_REASON = "ProgressDeadlineExceeded"
DEADLINE_REASON = "DeadlineExceeded"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" / "False" / "Unknown"
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class DeploymentStatus:
    """A Deployment's spec.replicas and status (``None`` counts read as 0)."""

    name: str
    desired: int
    replicas: int = 0
    available: int = 0
    updated: int = 0
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class JobStatus:
    name: str
    completions: int
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Observation:
    """Everything read back for one resource (its workloads and its pods' phases)."""

    resource: str
    deployments: tuple[DeploymentStatus, ...] = ()
    jobs: tuple[JobStatus, ...] = ()
    pod_phases: Mapping[str, int] = field(default_factory=dict)


def _condition(conditions: Sequence[Condition], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind and c.status == "True"), None)


def endpoint_status(deployments: Sequence[DeploymentStatus]) -> tuple[EndpointStatus, str | None]:
    """InService once every variant has its replicas available; Failed when one's
    rollout passed its progress deadline; Creating before."""
    for deployment in deployments:
        stalled = next(
            (
                c
                for c in deployment.conditions
                if c.type == "Progressing"
                and c.status == "False"
                and c.reason == PROGRESS_DEADLINE_REASON
            ),
            None,
        )
        if stalled is not None:
            return EndpointStatus.FAILED, f"{deployment.name}: {stalled.message}".strip()
    if deployments and all(d.available >= d.desired for d in deployments):
        return EndpointStatus.IN_SERVICE, None
    return EndpointStatus.CREATING, None


def training_status(
    job: JobStatus,
) -> tuple[TrainingJobStatus, SecondaryStatus, str | None]:
    """The job's status, secondary status and FailureReason, as DescribeTrainingJob has them."""
    if _condition(job.conditions, "Complete") or job.succeeded >= job.completions:
        return TrainingJobStatus.COMPLETED, SecondaryStatus.COMPLETED, None
    failed = _condition(job.conditions, "Failed")
    if failed is not None and failed.reason == DEADLINE_REASON:
        return TrainingJobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED, None
    if failed is not None or job.failed:
        reason = failed.message if failed and failed.message else "a training host failed"
        return TrainingJobStatus.FAILED, SecondaryStatus.FAILED, f"AlgorithmError: {reason}"
    if job.active:
        return TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING, None
    return TrainingJobStatus.IN_PROGRESS, SecondaryStatus.STARTING, None


def service_counts(deployment: DeploymentStatus) -> dict[str, int]:
    """DescribeServices' desiredCount, runningCount and pendingCount."""
    running = deployment.available
    return {
        "desiredCount": deployment.desired,
        "runningCount": running,
        "pendingCount": max(0, deployment.replicas - running),
    }


def task_status(job: JobStatus, pod_phases: Mapping[str, int]) -> TaskStatus:
    """A standalone task's lastStatus from its Job and its pod's phase."""
    if job.succeeded or job.failed or _condition(job.conditions, "Failed"):
        return TaskStatus.STOPPED
    if pod_phases.get("Running"):
        return TaskStatus.RUNNING
    if pod_phases.get("Pending") or job.active:
        return TaskStatus.PENDING
    return TaskStatus.PROVISIONING


@dataclass(frozen=True)
class Replicas:
    """Desired, running (available) and pending replicas over a resource's Deployments."""

    desired: int
    running: int
    pending: int


def replica_counts(deployments: Sequence[DeploymentStatus]) -> Replicas:
    """What ``describe`` shows as desired/healthy replicas for an endpoint or a service:
    the sums of :func:`service_counts` over every Deployment."""
    counts = [service_counts(d) for d in deployments]
    return Replicas(
        desired=sum(c["desiredCount"] for c in counts),
        running=sum(c["runningCount"] for c in counts),
        pending=sum(c["pendingCount"] for c in counts),
    )


def applied_workloads(resource: str, applied: Iterable[str]) -> list[dict[str, Any]]:
    """The workloads among ``applied`` (``KIND/NAMESPACE/NAME``, as the cluster port's
    ``apply`` returns them) as the stubs its ``observe`` reads: kind, name, namespace and
    the labels that select the resource's pods (``resource`` is ``KIND/NAME``)."""
    kind, _, name = resource.partition("/")
    labels = resource_labels(kind, name)
    stubs = []
    for item in applied:
        object_kind, namespace, object_name = item.split("/", 2)
        if object_kind in WORKLOAD_KINDS:
            stubs.append(
                {
                    "apiVersion": WORKLOAD_KINDS[object_kind],
                    "kind": object_kind,
                    "metadata": {"name": object_name, "namespace": namespace, "labels": labels},
                }
            )
    return stubs
