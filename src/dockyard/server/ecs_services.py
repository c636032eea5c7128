"""ECS services a user creates, the API side: CreateService, UpdateService, DeleteService.

A user's service is the same kind of service an endpoint variant runs on (one
:class:`~dockyard.records.service.ServiceRecord`, reconciled by
:class:`~dockyard.server.services.ServiceReconciler`), with ``owner`` None and the
ECS parts kept beside it (:class:`~dockyard.records.service.EcsService`: the request
as validated, its deployments, ACTIVE or DRAINING).

Every check runs before anything is written, so a refused request changes nothing:
the request's shape and types, the task definition revision (it must exist, and be
ACTIVE to start something new), the load balancer against the task definition's
containers and ports, and the names (a service name is taken by any service,
endpoint variants included; a load-balancer route by an endpoint or another service).
Handlers then write the desired state and wake the service; they never wait for it.

Locally a service's target group is a route of Dockyard's load balancer:
``http://127.0.0.1:9080/endpoints/<target group>/invocations`` reaches the
container port named in ``loadBalancers`` (``/invocations`` on it), and
``/endpoints/<target group>/ping`` reaches its ``/ping``, which is also the
health check each task must pass before it takes traffic.

The target group's attributes (:mod:`dockyard.spec.target_group`: algorithm, slow
start, deregistration delay) come with CreateService and UpdateService as Dockyard's
``targetGroupAttributes`` member (ELB's ``Attributes`` list; ECS itself has no such
member: on AWS they are set on the target group), or later through
ModifyTargetGroupAttributes on the target group's name (:func:`modify_attributes`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from dockyard.control.deployments import (
    ServiceStatus,
    delete_refusal,
    deployment_views,
    next_deployments,
    task_label,
)
from dockyard.control.service import ServiceState, saved_state, service_state
from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.records.placement import Placement
from dockyard.records.service import EcsService, LbTarget, ServiceRecord
from dockyard.server import task_definitions
from dockyard.server.ecs_shapes import (
    GROUP_LABEL,
    LAUNCH_TYPE_LABEL,
    arn_name,
    describe_service,
    describe_task,
)
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer
from dockyard.server.services import replica_health
from dockyard.spec.ecs_requests import (
    parse_create_service,
    parse_update_service,
    updated_spec,
)
from dockyard.spec.errors import SpecValueError
from dockyard.spec.names import target_group_name
from dockyard.spec.placement import request_placement
from dockyard.spec.service import ServiceSpec, check_service_fits
from dockyard.spec.target_group import TargetGroupAttributes, modify_attributes
from dockyard.spec.task_definition import RegisteredTaskDefinition

KIND = ServiceRecord.KIND
SERVICE_LABEL = "dockyard.service"

__all__ = [
    "create",
    "delete",
    "describe",
    "describe_attributes",
    "list_services",
    "modify_attributes_of",
    "update",
]
#: Dockyard's member of CreateService/UpdateService bodies: ELB's ``Attributes`` list
ATTRIBUTES_MEMBER = "targetGroupAttributes"


def new_deployment_id() -> str:
    """ECS's form: ``ecs-svc/`` and 19 digits."""
    return f"ecs-svc/{secrets.randbelow(10**19):019d}"


@contextmanager
def _field(field: str) -> Iterator[None]:
    """Errors about a named task definition name the request's field that named it."""
    try:
        yield
    except NotFound as error:
        raise SpecError(error.message, field=field, hint=error.hint) from None
    except Conflict as error:
        error.field = field
        raise


def launchable(platform: Platform, text: str, field: str) -> RegisteredTaskDefinition:
    """The ACTIVE revision ``text`` names; errors name the request's ``field``.

    Images its containers name in Dockyard's registry and the engine lacks are pulled
    now, with a pull-only credential for their repository (as an ECS agent pulls with
    the task execution role): tasks then start from the local image. Other missing
    images are left to the task's start to report, as ECS reports CannotPullContainer.
    """
    with _field(field):
        registered = task_definitions.launchable(platform.store, text)
    for container in registered.definition.container_definitions:
        if platform.engine.image(container.image) is None:
            transfer.ensure_local(platform, container.image)
    return registered


def user_service(platform: Platform, name: str) -> ServiceRecord:
    """A service a user created, by name or ARN; NotFound for endpoints' variants."""
    name = arn_name(name)
    record = platform.store.services.get(name)
    if record is None or record.ecs is None:
        hint = "list services with `dockyard service list`"
        if record is not None:
            hint = f"{name} runs endpoint {record.owner}; manage it with `dockyard deploy`"
        raise NotFound(f"no service {name}", resource=f"service/{name}", hint=hint)
    return record


def route_owner(platform: Platform, route: str) -> str | None:
    """Who uses load-balancer route ``route`` now: ``endpoint/NAME``, ``service/NAME``."""
    if platform.store.endpoints.get(route) is not None:
        return f"endpoint/{route}"
    for record in platform.store.services.list():
        if (
            record.ecs is not None
            and record.target is not None
            and (record.state.target_group == route)
        ):
            return f"service/{record.name}"
    return None


def _check_names(platform: Platform, spec: ServiceSpec) -> None:
    name = spec.service_name
    existing = platform.store.services.get(name)
    if existing is not None:
        draining = existing.ecs is not None and existing.ecs.status is ServiceStatus.DRAINING
        raise Conflict(
            f"a service named {name} already exists"
            + (" and is being deleted" if draining else ""),
            field="serviceName",
            resource=f"service/{name}",
            hint="wait until it is gone, or choose another name"
            if draining
            else "choose another serviceName, or change it with `dockyard service update`",
        )
    route = spec.target_group
    if route is not None and (owner := route_owner(platform, route)) is not None:
        raise Conflict(
            f"the load-balancer route {route} is already used by {owner}",
            field="loadBalancers[0].targetGroupArn",
            resource=owner,
            hint="name another target group (locally a target group is a route of "
            "Dockyard's load balancer)",
        )


def _placement(spec: ServiceSpec) -> Placement:
    name = spec.service_name
    return Placement(
        name_prefix=name,
        labels={
            SERVICE_LABEL: name,
            GROUP_LABEL: f"service:{name}",
            LAUNCH_TYPE_LABEL: spec.launch_type or "EC2",
        },
    )


def _state(
    spec: ServiceSpec, revision: str, deployment: str, attributes: TargetGroupAttributes
) -> ServiceState:
    return replace(service_state(spec, revision, attributes=attributes), deployment=deployment)


def _split_attributes(doc: Any) -> tuple[Any, Any]:
    """(the ECS request, Dockyard's ``targetGroupAttributes`` list or None)."""
    if isinstance(doc, dict) and ATTRIBUTES_MEMBER in doc:
        doc = dict(doc)
        return doc, doc.pop(ATTRIBUTES_MEMBER)
    return doc, None


def _attributes(
    spec: ServiceSpec, current: TargetGroupAttributes, requested: Any
) -> TargetGroupAttributes:
    """``current`` with the requested attributes applied; refused without a target group."""
    if requested is None:
        return current
    if spec.target_group is None:
        raise SpecError(
            f"service {spec.service_name} has no load balancer, so no target group to set "
            "attributes on",
            field=ATTRIBUTES_MEMBER,
            hint="add loadBalancers (--load-balancer CONTAINER:PORT), or leave the attributes out",
        )
    return modify_attributes(current, requested, at=ATTRIBUTES_MEMBER)


def create(platform: Platform, doc: Any) -> dict[str, Any]:
    """CreateService: validate everything, then store the service and wake it."""
    doc, requested = _split_attributes(doc)
    spec = parse_create_service(doc)
    attributes = _attributes(spec, TargetGroupAttributes(), requested)
    request_placement(
        spec.aws_field("placementStrategy"),
        spec.aws_field("placementConstraints"),
        spec.launch_type,
    )
    registered = launchable(platform, spec.task_definition, "taskDefinition")
    check_service_fits(spec, registered.definition)
    _check_names(platform, spec)
    spec = spec.model_copy(update={"task_definition": registered.key})
    now = platform.clock()
    balancer = spec.load_balancers[0] if spec.load_balancers else None
    if spec.target_group is not None:
        platform.lb.ensure_route(spec.target_group, attributes.route_settings())
    deployments, _ = next_deployments(
        (), registered.key, force=False, steady=False, now=now, new_id=new_deployment_id()
    )
    record = ServiceRecord(
        _state(spec, registered.key, deployments[-1].id, attributes),
        _placement(spec),
        LbTarget(balancer.container_name, balancer.container_port) if balancer else None,
        owner=None,
        ecs=EcsService(
            spec, created_at=now, deployments=deployments, target_group_attributes=attributes
        ),
    )
    with platform.store.transaction():
        _check_names(platform, spec)  # a create side by side took the name meanwhile
        platform.store.services.put(record)
    platform.wake(KIND, spec.service_name)
    return describe(platform, spec.service_name)


def update(platform: Platform, name: str, doc: Any) -> dict[str, Any]:
    """UpdateService: a new revision or a forced deployment rolls; a count resizes."""
    name = arn_name(name)
    doc, requested = _split_attributes(doc)
    if isinstance(doc, dict):
        doc = {"service": name, **doc}
    request = parse_update_service(doc)
    if arn_name(request.service) != name:
        raise SpecError(
            f"the request names service {request.service}, the path {name}",
            field="service",
            hint=f'leave "service" out, or write "{name}"',
        )
    record = user_service(platform, name)
    ecs = _active(record)
    revision = record.state.revision
    if request.task_definition is not None:
        revision = launchable(platform, request.task_definition, "taskDefinition").key
    spec = updated_spec(ecs.spec, request, revision)
    request_placement(
        spec.aws_field("placementStrategy"),
        spec.aws_field("placementConstraints"),
        spec.launch_type,
    )
    definition = task_definitions.get(platform.store, revision).definition
    check_service_fits(spec, definition)
    attributes = _attributes(spec, ecs.target_group_attributes, requested)
    if requested is not None and spec.target_group is not None:
        platform.lb.ensure_route(spec.target_group, attributes.route_settings())
    now = platform.clock()
    new_id = new_deployment_id()
    with platform.store.transaction():
        current = user_service(platform, name)
        ecs = _active(current)
        deployments, _ = next_deployments(
            ecs.deployments,
            revision,
            force=request.force_new_deployment,
            steady=current.state.steady,
            now=now,
            new_id=new_id,
        )
        # a deployment the circuit breaker halted stays halted until a new one begins
        halted = current.state.halted and deployments[-1].id == current.state.deployment
        wanted = replace(
            _state(spec, revision, deployments[-1].id, attributes),
            steady=current.state.steady,
            halted=halted,
        )
        state, _ = saved_state(current.state, wanted)
        ecs = replace(ecs, spec=spec, deployments=deployments, target_group_attributes=attributes)
        platform.store.services.put(replace(current, state=state, ecs=ecs))
    platform.wake(KIND, name)
    return describe(platform, name)


def _active(record: ServiceRecord) -> EcsService:
    assert record.ecs is not None
    if record.ecs.status is not ServiceStatus.ACTIVE:
        raise Conflict(
            f"service {record.name} is {record.ecs.status}: it is being deleted",
            resource=f"service/{record.name}",
            hint="create a new service once it is gone (`dockyard service list`)",
        )
    return record.ecs


def delete(platform: Platform, name: str, *, force: bool = False) -> dict[str, Any]:
    """DeleteService: DRAINING now (desired count 0), gone once its last task stopped."""
    name = arn_name(name)
    record = user_service(platform, name)
    refusal = delete_refusal(name, record.state.desired_count, force=force)
    if refusal is not None:
        raise Conflict(
            refusal,
            resource=f"service/{name}",
            hint=f"scale it to 0 first (`dockyard service update {name} --desired-count 0`), "
            "or delete with --force (the API: ?force=true)",
        )
    with platform.store.transaction():
        current = user_service(platform, name)
        assert current.ecs is not None
        if current.ecs.status is not ServiceStatus.DRAINING:
            state = replace(current.state, desired_count=0, steady=False)
            ecs = replace(current.ecs, status=ServiceStatus.DRAINING)
            platform.store.services.put(replace(current, state=state, ecs=ecs))
    platform.store.add_event(KIND, name, f"(service {name}) is DRAINING: it was deleted.")
    platform.wake(KIND, name)
    return describe(platform, name)


def describe(platform: Platform, name: str) -> dict[str, Any]:
    """``{"service": ECS's Service, "url": where it answers, "tasks": [...]}``."""
    return describe_record(platform, user_service(platform, name))


def describe_record(platform: Platform, record: ServiceRecord) -> dict[str, Any]:
    """:func:`describe` of a record already read: a listing describes the records it
    read, so a service whose delete finishes meanwhile cannot make it a 404."""
    assert record.ecs is not None
    name = record.name
    tasks = platform.store.tasks.list(record.tasks_owner)
    views = deployment_views(
        record.ecs.deployments,
        [t.task for t in tasks],
        desired_count=record.state.desired_count,
        steady=record.state.steady,
    )
    events = platform.store.events(KIND, name, limit=10_000)
    route = record.state.target_group if record.target is not None else None
    targets = {t.name: t for t in platform.lb.targets(route)} if route else {}
    now = platform.clock()
    rows = []
    for task in tasks:
        health = replica_health(task.replica, targets.get(task.task.task_id))
        address = (
            task.address(record.target.container, record.target.port) if record.target else None
        )
        rows.append(
            {
                **describe_task(task),
                "health": task_label(record.state, task.task, health, now),
                "address": address,
                "deployment": task.task.deployment,
            }
        )
    return {
        "service": describe_service(record, views, tasks, events),
        "url": platform.lb.url_for(route) if route else None,
        "tasks": rows,
        ATTRIBUTES_MEMBER: record.ecs.target_group_attributes.as_list() if route else None,
    }


def _by_target_group(platform: Platform, target_group: str) -> ServiceRecord:
    """The service whose route is ``target_group`` (a name or a target group ARN)."""
    try:
        route = target_group_name(target_group)
    except SpecValueError as error:
        raise SpecError(str(error), field="TargetGroupArn", hint=error.hint) from None
    owner = route_owner(platform, route)
    if owner is None or not owner.startswith("service/"):
        raise NotFound(
            f"no target group {route}",
            resource=f"targetgroup/{route}",
            hint=f"{owner} is an endpoint: its route has no target group attributes"
            if owner
            else "a service's target group is named in its loadBalancers; list services "
            "with `dockyard service list`",
        )
    return user_service(platform, owner.removeprefix("service/"))


def describe_attributes(platform: Platform, target_group: str) -> dict[str, Any]:
    """DescribeTargetGroupAttributes: ``{"Attributes": [{"Key", "Value"}]}``."""
    record = _by_target_group(platform, target_group)
    assert record.ecs is not None
    return {"Attributes": record.ecs.target_group_attributes.as_list()}


def modify_attributes_of(platform: Platform, target_group: str, doc: Any) -> dict[str, Any]:
    """ModifyTargetGroupAttributes: apply ``doc["Attributes"]`` to the service's target group.

    A new algorithm takes the next requests; a new slow start the targets registered
    from now on; a new deregistration delay the next target that drains.
    """
    if not isinstance(doc, dict) or "Attributes" not in doc:
        raise SpecError(
            "the request has no Attributes",
            field="Attributes",
            hint='send {"Attributes": [{"Key": "load_balancing.algorithm.type", '
            '"Value": "least_outstanding_requests"}]}',
        )
    unknown = sorted(set(doc) - {"Attributes", "TargetGroupArn"})
    if unknown:
        raise SpecError(
            f"unknown member {unknown[0]}",
            field=unknown[0],
            hint="ModifyTargetGroupAttributes takes TargetGroupArn and Attributes",
        )
    record = _by_target_group(platform, target_group)
    ecs = _active(record)
    attributes = modify_attributes(ecs.target_group_attributes, doc["Attributes"])
    route = record.state.target_group
    assert route is not None
    platform.lb.ensure_route(route, attributes.route_settings())
    with platform.store.transaction():
        current = user_service(platform, record.name)
        assert current.ecs is not None
        state = replace(
            current.state, deregistration_delay_s=float(attributes.deregistration_delay_s)
        )
        ecs = replace(current.ecs, target_group_attributes=attributes)
        platform.store.services.put(replace(current, state=state, ecs=ecs))
    platform.wake(KIND, record.name)
    return {"Attributes": attributes.as_list()}


def list_services(platform: Platform) -> dict[str, Any]:
    """ListServices + DescribeServices of every service a user created (not endpoints')."""
    described = [
        describe_record(platform, record)
        for record in platform.store.services.list()
        if record.ecs is not None
    ]
    return {
        "serviceArns": [d["service"]["serviceArn"] for d in described],
        "services": [{**d["service"], "events": d["service"]["events"][:5]} for d in described],
        "urls": {d["service"]["serviceName"]: d["url"] for d in described},
    }
