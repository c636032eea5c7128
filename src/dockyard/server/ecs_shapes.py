"""ECS's response shapes for tasks and services, and the local ARNs in them.

Programs written against ECS read ``taskArn``, ``serviceArn``, ``deployments[]``…, so
the API answers in botocore's member names (``Task``, ``Container``, ``Service``,
``Deployment``, ``ServiceEvent``), with times as epoch seconds. ARNs are local: region
``local``, account ``000000000000``, one cluster ``default``; they are stable, so a
program may keep them, and every call that takes a name also takes its ARN's last part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockyard.adapters.engine.fleet import INSTANCE_LABEL
from dockyard.control.deployments import DeploymentView
from dockyard.control.task import Task
from dockyard.ports.store import Event
from dockyard.records.service import ServiceRecord
from dockyard.records.task import TaskRecord

ARN_PREFIX = "arn:aws:ecs:local:000000000000"
CLUSTER = "default"
CLUSTER_ARN = f"{ARN_PREFIX}:cluster/{CLUSTER}"
#: the owner of standalone tasks (RunTask): no service or job started them
STANDALONE_OWNER = "run-task"
GROUP_LABEL = "dockyard.group"
LAUNCH_TYPE_LABEL = "dockyard.launch-type"

#: events DescribeServices returns, newest first (ECS returns up to 100)
SERVICE_EVENTS = 100


def task_arn(task_id: str) -> str:
    return f"{ARN_PREFIX}:task/{CLUSTER}/{task_id}"


def service_arn(name: str) -> str:
    return f"{ARN_PREFIX}:service/{CLUSTER}/{name}"


def task_definition_arn(key: str) -> str:
    return f"{ARN_PREFIX}:task-definition/{key}"


def arn_name(text: str) -> str:
    """A service name or task id from itself or its ARN (the part after the last '/')."""
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def describe_task(record: TaskRecord) -> dict[str, Any]:
    """DescribeTasks' task object; ``taskId`` added (the ARN's last part)."""
    task = record.task
    definition = record.definition
    labels = record.placement.labels
    standalone = record.owner == STANDALONE_OWNER
    bindings: dict[str, list[dict[str, Any]]] = {}
    for address in record.addresses:
        host, _, port = address.address.rpartition(":")
        bindings.setdefault(address.container, []).append(
            {
                "bindIP": host,
                "containerPort": address.port,
                "hostPort": int(port),
                "protocol": "tcp",
            }
        )
    return {
        "taskArn": task_arn(task.task_id),
        "taskId": task.task_id,
        "clusterArn": CLUSTER_ARN,
        "taskDefinitionArn": task_definition_arn(task.revision),
        "taskDefinition": task.revision,
        "group": labels.get(GROUP_LABEL),
        "launchType": labels.get(LAUNCH_TYPE_LABEL),
        "containerInstanceArn": (
            f"{ARN_PREFIX}:container-instance/{CLUSTER}/{labels[INSTANCE_LABEL]}"
            if INSTANCE_LABEL in labels
            else None
        ),
        "cpu": definition.cpu,
        "memory": definition.memory,
        "startedBy": task.started_by if standalone else record.owner,
        # a task the cluster runs: what the cluster last reported
        "lastStatus": (record.cluster.status if record.cluster else None) or task.last_status,
        "desiredStatus": task.desired_status,
        "healthStatus": task.health_status,
        "createdAt": task.created_at,
        "startedAt": task.started_at,
        "stoppingAt": task.stopping_at,
        "stoppedAt": task.stopped_at,
        "stopCode": task.stop_code,
        "stoppedReason": task.stopped_reason,
        "containers": [
            {
                "containerArn": f"{task_arn(task.task_id)}/{c.name}",
                "taskArn": task_arn(task.task_id),
                "name": c.name,
                "image": definition.container(c.name).image,
                "runtimeId": c.container_id,
                "lastStatus": c.last_status,
                "exitCode": c.exit_code,
                "reason": c.reason,
                "healthStatus": c.health,
                "essential": c.essential,
                "networkBindings": bindings.get(c.name, []),
            }
            for c in task.containers
        ],
    }


def describe_deployment(view: DeploymentView, launch_type: str | None) -> dict[str, Any]:
    deployment = view.deployment
    return {
        "id": deployment.id,
        "status": view.status,
        "taskDefinition": task_definition_arn(deployment.revision),
        "desiredCount": view.desired_count,
        "pendingCount": view.pending_count,
        "runningCount": view.running_count,
        "failedTasks": deployment.failed_tasks,
        "createdAt": deployment.created_at,
        "updatedAt": deployment.updated_at,
        "launchType": launch_type,
        "rolloutState": view.rollout_state,
        "rolloutStateReason": view.rollout_state_reason,
    }


def describe_events(events: Sequence[Event]) -> list[dict[str, Any]]:
    """ServiceEvents, newest first (as ECS lists them)."""
    return [
        {"id": str(e.id), "createdAt": e.at, "message": e.message}
        for e in reversed(events[-SERVICE_EVENTS:])
    ]


def describe_service(
    record: ServiceRecord,
    views: Sequence[DeploymentView],
    tasks: Sequence[TaskRecord],
    events: Sequence[Event],
) -> dict[str, Any]:
    """DescribeServices' service object for a service a user created."""
    assert record.ecs is not None
    spec = record.ecs.spec
    live = [t.task for t in tasks if not t.task.is_done and not t.task.is_stopping]
    aws = spec.to_aws()
    return {
        "serviceArn": service_arn(record.name),
        "serviceName": record.name,
        "clusterArn": CLUSTER_ARN,
        "status": record.ecs.status,
        "desiredCount": record.state.desired_count,
        **_counts(record, live),
        "launchType": spec.launch_type or "EC2",
        "taskDefinition": task_definition_arn(record.state.revision),
        "deploymentConfiguration": aws.get("deploymentConfiguration")
        or {"minimumHealthyPercent": 100, "maximumPercent": 200},
        "deployments": [describe_deployment(v, spec.launch_type or "EC2") for v in views],
        "loadBalancers": aws.get("loadBalancers", []),
        "healthCheckGracePeriodSeconds": spec.health_check_grace_period_seconds,
        "placementStrategy": spec.aws_field("placementStrategy") or [],
        "placementConstraints": spec.aws_field("placementConstraints") or [],
        "schedulingStrategy": "REPLICA",
        "events": describe_events(events),
        "createdAt": record.ecs.created_at,
        "createdBy": "dockyard",
    }


def _counts(record: ServiceRecord, live: Sequence[Task]) -> dict[str, int]:
    """runningCount and pendingCount: the local tasks', or what the cluster last reported
    for a service the cluster runs."""
    if record.cluster is not None:
        return {"runningCount": record.cluster.running, "pendingCount": record.cluster.pending}
    return {
        "runningCount": sum(1 for t in live if t.last_status == "RUNNING"),
        "pendingCount": sum(1 for t in live if t.last_status != "RUNNING"),
    }
