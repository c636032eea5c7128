"""``ecs`` (JSON 1.1, target prefix ``AmazonEC2ContainerServiceV20141113``).

Task definitions go to :mod:`dockyard.server.task_definitions`, services to
:mod:`dockyard.server.ecs_services`, RunTask/StopTask to
:mod:`dockyard.server.standalone_tasks`, and every answer is built by
:mod:`dockyard.server.ecs_shapes`: the functions and shapes Dockyard's own API uses,
so a service created here is the one ``dockyard service list`` shows. There is one
cluster, ``default``; naming another is ClusterNotFoundException, as on AWS.

Errors carry the names ECS documents: InvalidParameterException for a request the
model or Dockyard's rules refuse (and for a name in use: "Creation of service was not
idempotent"), ClientException for a missing task definition, ServiceNotFoundException
and ServiceNotActiveException for UpdateService and DeleteService. DescribeServices,
DescribeTasks, DescribeClusters, DescribeContainerInstances and
UpdateContainerInstancesState answer what is missing in ``failures`` (reason MISSING),
which is what the ``services_stable``, ``tasks_running`` and ``tasks_stopped`` waiters
read. Container instances are :mod:`dockyard.server.instances`' (engines registered by
URL), and RunTask, CreateService and UpdateService place EC2 tasks by the request's
``placementStrategy`` and ``placementConstraints``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dockyard.control.deployments import ServiceStatus
from dockyard.control.task_state import STARTING_STATUSES, TaskStatus
from dockyard.errors import NotFound
from dockyard.records.instance import InstanceStatus
from dockyard.records.service import ServiceRecord
from dockyard.records.task import TaskRecord
from dockyard.server import ecs_services, instances, standalone_tasks, task_definitions
from dockyard.server.aws.errors import AwsError, ErrorNames
from dockyard.server.aws.listing import token_page
from dockyard.server.aws.service import AwsService, Call, Handler
from dockyard.server.ecs_shapes import (
    ARN_PREFIX,
    CLUSTER,
    CLUSTER_ARN,
    arn_name,
    describe_task,
    service_arn,
    task_arn,
    task_definition_arn,
)
from dockyard.spec.task_definition import RegisteredTaskDefinition, parse_task_definition

ERRORS = ErrorNames(
    invalid="InvalidParameterException",
    missing="ClientException",
    conflict="InvalidParameterException",
    server="ServerException",
)
INVALID = ERRORS.invalid
#: ListServices and ListTasks answer 10 by default, the task definition lists 100
SMALL_PAGE, LARGE_PAGE = 10, 100


def _cluster(call: Call) -> None:
    """Only ``default`` (by name or ARN) exists; AWS's answer for any other."""
    cluster = call.params.get("cluster")
    if cluster is not None and arn_name(str(cluster)) != CLUSTER:
        raise AwsError(
            "ClusterNotFoundException",
            f"Cluster not found: {cluster} (Dockyard runs one cluster, {CLUSTER}: "
            "leave cluster out or write default)",
        )


def _request(call: Call) -> dict[str, Any]:
    """The request as Dockyard's ECS functions read it: the cluster checked and dropped."""
    _cluster(call)
    return {k: v for k, v in call.params.items() if k != "cluster"}


# -- task definitions ---------------------------------------------------------------------


def _task_definition(registered: RegisteredTaskDefinition) -> dict[str, Any]:
    return {**registered.to_aws(), "taskDefinitionArn": task_definition_arn(registered.key)}


def register_task_definition(call: Call) -> Mapping[str, Any]:
    registered = task_definitions.register(
        call.platform.store, parse_task_definition(dict(call.params))
    )
    return {"taskDefinition": _task_definition(registered), "tags": registered.tags}


def describe_task_definition(call: Call) -> Mapping[str, Any]:
    text = str(call.params["taskDefinition"])
    try:
        registered = task_definitions.describe(call.platform.store, text)
    except NotFound as error:
        raise AwsError("ClientException", f"Unable to describe task definition. {error}") from None
    answer: dict[str, Any] = {"taskDefinition": _task_definition(registered)}
    if "TAGS" in (call.params.get("include") or []):
        answer["tags"] = registered.tags
    return answer


def deregister_task_definition(call: Call) -> Mapping[str, Any]:
    text = str(call.params["taskDefinition"])
    registered = task_definitions.deregister(call.platform.store, text)
    return {"taskDefinition": _task_definition(registered)}


def _revisions(call: Call, status: str | None) -> list[RegisteredTaskDefinition]:
    prefix = str(call.params.get("familyPrefix") or "")
    revisions = task_definitions.list_revisions(call.platform.store, None, status)
    return [r for r in revisions if r.family.startswith(prefix)]


def list_task_definitions(call: Call) -> Mapping[str, Any]:
    revisions = _revisions(call, str(call.params.get("status") or "ACTIVE"))
    if call.params.get("sort") == "DESC":
        revisions.reverse()
    arns = [task_definition_arn(r.key) for r in revisions]
    return token_page(
        arns, call.params, "taskDefinitionArns", default_size=LARGE_PAGE, invalid=INVALID
    )


def list_task_definition_families(call: Call) -> Mapping[str, Any]:
    """Families with an ACTIVE revision (``status`` ACTIVE, the default), with none
    (INACTIVE), or all (ALL)."""
    status = str(call.params.get("status") or "ACTIVE")
    active: dict[str, bool] = {}
    for revision in _revisions(call, None):
        active[revision.family] = active.get(revision.family, False) or revision.active
    families = [
        family
        for family, has_active in sorted(active.items())
        if status == "ALL" or has_active == (status == "ACTIVE")
    ]
    return token_page(families, call.params, "families", default_size=LARGE_PAGE, invalid=INVALID)


# -- services -----------------------------------------------------------------------------


def _existing_service(call: Call) -> ServiceRecord:
    """The service UpdateService or DeleteService names, as ECS refuses a missing one."""
    name = arn_name(str(call.params["service"]))
    try:
        return ecs_services.user_service(call.platform, name)
    except NotFound as error:
        raise AwsError("ServiceNotFoundException", f"Service not found: {error}") from None


def create_service(call: Call) -> Mapping[str, Any]:
    return {"service": ecs_services.create(call.platform, _request(call))["service"]}


def update_service(call: Call) -> Mapping[str, Any]:
    doc = _request(call)
    record = _existing_service(call)
    if record.ecs is not None and record.ecs.status is not ServiceStatus.ACTIVE:
        raise AwsError(
            "ServiceNotActiveException",
            f"Service was not ACTIVE: {record.name} is {record.ecs.status} (being deleted)",
        )
    doc["service"] = record.name  # ECS takes the ARN too; Dockyard's request, the name
    return {"service": ecs_services.update(call.platform, record.name, doc)["service"]}


def delete_service(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    record = _existing_service(call)
    force = bool(call.params.get("force"))
    return {"service": ecs_services.delete(call.platform, record.name, force=force)["service"]}


def describe_services(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    services, failures = [], []
    for text in call.params["services"]:
        name = arn_name(str(text))
        try:
            services.append(ecs_services.describe(call.platform, name)["service"])
        except NotFound:
            failures.append({"arn": service_arn(name), "reason": "MISSING"})
    return {"services": services, "failures": failures}


def list_services(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    launch_type = call.params.get("launchType")
    if call.params.get("schedulingStrategy") == "DAEMON":  # every service here is REPLICA
        return {"serviceArns": []}
    arns = [
        service_arn(record.name)
        for record in call.platform.store.services.list()
        if record.ecs is not None
        and (launch_type is None or (record.ecs.spec.launch_type or "EC2") == launch_type)
    ]
    return token_page(arns, call.params, "serviceArns", default_size=SMALL_PAGE, invalid=INVALID)


# -- tasks --------------------------------------------------------------------------------


def run_task(call: Call) -> Mapping[str, Any]:
    return standalone_tasks.run_task(call.platform, _request(call))


def stop_task(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    reason = call.params.get("reason")
    try:
        stopped = standalone_tasks.stop_task(
            call.platform, str(call.params["task"]), str(reason) if reason else None
        )
    except NotFound as error:
        raise AwsError(INVALID, f"The referenced task was not found: {error}") from None
    return {"task": stopped["task"]}


def describe_tasks(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    tasks, failures = [], []
    for text in call.params["tasks"]:
        task_id = arn_name(str(text))
        record = call.platform.store.tasks.get(task_id)
        if record is None:
            failures.append({"arn": task_arn(task_id), "reason": "MISSING"})
        else:
            tasks.append(describe_task(record))
    return {"tasks": tasks, "failures": failures}


def _desired(status: str) -> Callable[[TaskRecord], bool]:
    """ListTasks' ``desiredStatus``: RUNNING (the default), STOPPED, or PENDING (meant to
    run, not running yet)."""
    if status == "STOPPED":
        return lambda r: r.task.desired_status == "STOPPED"
    if status == "PENDING":
        return lambda r: (
            r.task.desired_status == "RUNNING" and (r.task.last_status in STARTING_STATUSES)
        )
    return lambda r: r.task.desired_status == "RUNNING"


def list_tasks(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    params = call.params
    records = call.platform.store.tasks.list()
    if params.get("serviceName"):
        name = arn_name(str(params["serviceName"]))
        try:
            owner = ecs_services.user_service(call.platform, name).tasks_owner
        except NotFound as error:
            raise AwsError("ServiceNotFoundException", f"Service not found: {error}") from None
        records = [r for r in records if r.owner == owner]
    wanted = _desired(str(params.get("desiredStatus") or "RUNNING"))
    described = [describe_task(r) for r in records if wanted(r)]
    if params.get("family"):
        family = str(params["family"])
        described = [t for t in described if str(t["taskDefinition"]).split(":")[0] == family]
    for member in ("startedBy", "launchType"):
        if params.get(member):
            described = [t for t in described if t.get(member) == params[member]]
    arns = [t["taskArn"] for t in described]
    return token_page(arns, params, "taskArns", default_size=LARGE_PAGE, invalid=INVALID)


# -- the cluster --------------------------------------------------------------------------


def _default_cluster(call: Call) -> dict[str, Any]:
    """The one cluster, with the counts ECS keeps on it."""
    live = [r.task for r in call.platform.store.tasks.list() if not r.task.is_done]
    services = [
        r
        for r in call.platform.store.services.list()
        if r.ecs is not None and r.ecs.status is ServiceStatus.ACTIVE
    ]
    return {
        "clusterArn": CLUSTER_ARN,
        "clusterName": CLUSTER,
        "status": "ACTIVE",
        "runningTasksCount": sum(1 for t in live if t.last_status is TaskStatus.RUNNING),
        "pendingTasksCount": sum(1 for t in live if t.last_status in STARTING_STATUSES),
        "activeServicesCount": len(services),
    }


def describe_clusters(call: Call) -> Mapping[str, Any]:
    clusters, failures = [], []
    for text in call.params.get("clusters") or [CLUSTER]:
        name = arn_name(str(text))
        if name == CLUSTER:
            clusters.append(_default_cluster(call))
        else:
            failures.append({"arn": f"{ARN_PREFIX}:cluster/{name}", "reason": "MISSING"})
    return {"clusters": clusters, "failures": failures}


def list_clusters(call: Call) -> Mapping[str, Any]:
    return token_page(
        [CLUSTER_ARN], call.params, "clusterArns", default_size=LARGE_PAGE, invalid=INVALID
    )


def create_cluster(call: Call) -> Mapping[str, Any]:
    """``default`` exists already (CreateCluster of an existing name answers it, as on
    AWS); any other name is refused, since Dockyard runs one cluster."""
    name = str(call.params.get("clusterName") or CLUSTER)
    if name != CLUSTER:
        raise AwsError(
            INVALID,
            f"Dockyard runs one cluster, {CLUSTER}: it cannot create cluster {name} "
            "(leave clusterName out, or write default)",
        )
    return {"cluster": _default_cluster(call)}


# -- container instances ----------------------------------------------------------------
#
# An instance is a container engine registered by URL (``dockyard instances register``;
# RegisterContainerInstance's identity documents have no local meaning). The rest works
# as on ECS: list, describe, drain or activate, deregister.


def list_container_instances(call: Call) -> Mapping[str, Any]:
    """ACTIVE and DRAINING instances (a deregistered one is no longer listed), or those of
    ``status``; ``filter`` (the cluster query language) is refused by name."""
    _cluster(call)
    if call.params.get("filter"):
        raise AwsError(
            INVALID,
            "filter: Dockyard does not evaluate the cluster query language; leave filter "
            "out (status filters ACTIVE or DRAINING)",
        )
    instances.ensure_default(call.platform)
    status = call.params.get("status")
    arns = [
        instances.instance_arn(record.instance_id)
        for record in call.platform.store.container_instances.list()
        if (record.status == status if status else record.status is not InstanceStatus.INACTIVE)
    ]
    return token_page(
        arns, call.params, "containerInstanceArns", default_size=LARGE_PAGE, invalid=INVALID
    )


def _each_instance(call: Call, action: Callable[[str], Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``action`` on every instance the request names; the missing ones in ``failures``."""
    _cluster(call)
    instances.ensure_default(call.platform)
    found, failures = [], []
    for text in call.params["containerInstances"]:
        try:
            found.append(action(str(text)))
        except NotFound:
            failures.append(
                {"arn": instances.instance_arn(arn_name(str(text))), "reason": "MISSING"}
            )
    return {"containerInstances": found, "failures": failures}


def describe_container_instances(call: Call) -> Mapping[str, Any]:
    def describe(name: str) -> Mapping[str, Any]:
        return instances.describe_instance(call.platform, instances.require(call.platform, name))

    return _each_instance(call, describe)


def update_container_instances_state(call: Call) -> Mapping[str, Any]:
    """DRAINING moves services' tasks away and takes the instance out of placement;
    ACTIVE puts it back."""
    status = str(call.params["status"])
    if status not in (InstanceStatus.ACTIVE, InstanceStatus.DRAINING):
        raise AwsError(INVALID, f"status: {status} cannot be set; use ACTIVE or DRAINING")

    def update(name: str) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = instances.set_status(call.platform, name, status)
        return dict(answer["containerInstance"])

    return _each_instance(call, update)


def deregister_container_instance(call: Call) -> Mapping[str, Any]:
    _cluster(call)
    instances.ensure_default(call.platform)
    name = str(call.params["containerInstance"])
    force = bool(call.params.get("force"))
    try:
        answer = instances.deregister(call.platform, name, force=force)
    except NotFound as error:
        raise AwsError(
            INVALID, f"The referenced container instance was not found: {error}"
        ) from None
    return {"containerInstance": answer["containerInstance"]}


HANDLERS: dict[str, Handler] = {
    "RegisterTaskDefinition": register_task_definition,
    "DescribeTaskDefinition": describe_task_definition,
    "DeregisterTaskDefinition": deregister_task_definition,
    "ListTaskDefinitions": list_task_definitions,
    "ListTaskDefinitionFamilies": list_task_definition_families,
    "CreateService": create_service,
    "UpdateService": update_service,
    "DeleteService": delete_service,
    "DescribeServices": describe_services,
    "ListServices": list_services,
    "RunTask": run_task,
    "StopTask": stop_task,
    "DescribeTasks": describe_tasks,
    "ListTasks": list_tasks,
    "DescribeClusters": describe_clusters,
    "ListClusters": list_clusters,
    "CreateCluster": create_cluster,
    "ListContainerInstances": list_container_instances,
    "DescribeContainerInstances": describe_container_instances,
    "UpdateContainerInstancesState": update_container_instances_state,
    "DeregisterContainerInstance": deregister_container_instance,
}

SERVICE = AwsService(name="ecs", arn_namespace="ecs", handlers=HANDLERS, errors=ERRORS)
