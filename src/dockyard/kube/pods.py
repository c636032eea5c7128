"""An ECS task definition as one Kubernetes pod.

A task is containers started together that share a network namespace (``awsvpc``)
— exactly a pod. The mapping, field by field:

* ``entryPoint`` → ``command``, ``command`` → ``args``; ``environment`` → ``env``;
  ``secrets`` → ``env[].valueFrom.secretKeyRef`` on a Secret per local secret
  (key ``value``, or the ``valueFrom``'s JSON key);
* ``portMappings`` → ``ports`` (the Service that exposes them is the caller's);
* ``cpu`` (units, 1024 a vCPU) → ``requests.cpu``; ``memory`` → ``limits.memory``,
  ``memoryReservation`` → ``requests.memory``; the task's own ``cpu``/``memory`` →
  the pod-level ``resources`` (ECS caps the whole task, as pod resources do);
* ``healthCheck`` → an exec liveness and readiness probe (``CMD-SHELL`` through
  ``/bin/sh -c``), ECS's interval, timeout, retries and start period;
* ``dependsOn``: a container others wait for until it COMPLETEs or SUCCEEDs becomes an
  init container; one they wait for until it STARTs or is HEALTHY becomes a native
  sidecar (an init container with ``restartPolicy: Always``; HEALTHY adds its health
  check as the sidecar's startup probe, which the kubelet waits for). Init containers
  are ordered so every dependency comes first;
* ``essential: false`` in a run-to-completion pod (a Job) → a sidecar, so the pod
  completes when the essential containers exit, as an ECS task stops;
* ``mountPoints``/``volumesFrom`` → ``volumeMounts``; volumes: a host ``sourcePath``
  → ``hostPath``, a scratch host volume or a task-scoped Docker volume → ``emptyDir``,
  a shared Docker volume or EFS → a PersistentVolumeClaim of that name;
* ``linuxParameters``: capabilities → ``securityContext.capabilities``, ``tmpfs`` and
  ``sharedMemorySize`` → memory-backed ``emptyDir``; ``user`` (numeric) →
  ``runAsUser``/``runAsGroup``; ``readonlyRootFilesystem`` → the same;
* ``stopTimeout`` → ``terminationGracePeriodSeconds`` (the longest of the task);
* ``taskRoleArn`` → a ServiceAccount named after the role, annotated with the role
  ARN as EKS's IAM roles for service accounts expect.

What has no pod equivalent (ulimits, log drivers, swap) is listed in the pod's
:data:`~dockyard.kube.names.NOT_RENDERED_ANNOTATION` instead of being dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.kube.names import (
    NOT_RENDERED_ANNOTATION,
    SOURCE_ANNOTATION,
    dns_label,
    metadata,
)
from dockyard.spec.container import ContainerDefinition, HealthCheck
from dockyard.spec.secret_refs import parse_value_from
from dockyard.spec.task_definition import TaskDefinition, Volume

CPU_UNITS_PER_VCPU = 1024
SECRET_VALUE_KEY = "value"
SIDECAR_CONDITIONS = frozenset({"START", "HEALTHY"})
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
DEFAULT_CLAIM_SIZE = "1Gi"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    """A pod spec and the namespaced objects it needs (Secrets, a ServiceAccount, PVCs)."""

    spec: dict[str, Any]
    objects: tuple[Manifest, ...] = ()
    not_rendered: tuple[str, ...] = ()

    @property
    def annotations(self) -> dict[str, str]:
        if not self.not_rendered:
            return {}
        return {NOT_RENDERED_ANNOTATION: "; ".join(self.not_rendered)}


@dataclass(frozen=True)
class PodContext:
    """Where the pod's objects live and what they belong to.

    ``images`` rewrites image references (a locally pinned image id to a reference
    the cluster can pull); ``secret_values`` fills the Secrets (local secret name →
    value in clear): without it the Secrets carry no data, so an export never holds
    a secret in clear. ``extra_volumes`` replace task volumes of the same name.
    """

    namespace: str
    resource: str  # "service/NAME": the record every object renders
    labels: Mapping[str, str]
    images: Mapping[str, str] = field(default_factory=dict)
    secret_values: Mapping[str, str] | None = None
    extra_volumes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    claim_size: str = DEFAULT_CLAIM_SIZE


def render_pod(definition: TaskDefinition, context: PodContext, *, run_to_completion: bool) -> Pod:
    """The pod that runs ``definition``'s containers (and the objects it refers to).

    ``run_to_completion``: a Job's pod (``restartPolicy: Never``; non-essential
    containers as sidecars) rather than a Deployment's (``Always``).
    """
    objects: list[Manifest] = []
    skipped: list[str] = []
    roles = _roles(definition, run_to_completion)
    by_name = {c.name: c for c in definition.container_definitions}
    mounts = {c.name: _mounts(c, by_name) for c in definition.container_definitions}
    init: list[dict[str, Any]] = []
    main: list[dict[str, Any]] = []
    for name in _init_order(definition, roles):
        container = by_name[name]
        rendered = _container(container, mounts[name], context, objects, skipped)
        if roles[name] == "sidecar":
            rendered["restartPolicy"] = "Always"
            if container.health_check is not None and _waited_healthy(definition, name):
                rendered["startupProbe"] = _probe(container.health_check)
        init.append(rendered)
    for container in definition.container_definitions:
        if roles[container.name] == "main":
            main.append(_container(container, mounts[container.name], context, objects, skipped))
    spec: dict[str, Any] = {}
    if init:
        spec["initContainers"] = init
    spec["containers"] = main
    spec["restartPolicy"] = "Never" if run_to_completion else "Always"
    spec["terminationGracePeriodSeconds"] = max(
        c.effective_stop_timeout for c in definition.container_definitions
    )
    resources = _pod_resources(definition)
    if resources:
        spec["resources"] = resources
    if definition.task_role_arn:
        account = _service_account(definition.task_role_arn, context)
        objects.append(account)
        spec["serviceAccountName"] = account["metadata"]["name"]
    volumes = _volumes(definition, context, objects)
    if volumes:
        spec["volumes"] = volumes
    return Pod(spec, tuple(_unique(objects)), tuple(dict.fromkeys(skipped)))


# -- container roles and order ------------------------------------------------------------


def _roles(definition: TaskDefinition, run_to_completion: bool) -> dict[str, str]:
    """``init``, ``sidecar`` or ``main`` for each container (see the module's notes)."""
    waited: dict[str, set[str]] = {}
    for container in definition.container_definitions:
        for dependency in container.depends_on:
            waited.setdefault(dependency.container_name, set()).add(dependency.condition)
    roles: dict[str, str] = {}
    for container in definition.container_definitions:
        conditions = waited.get(container.name, set())
        if conditions - SIDECAR_CONDITIONS:
            roles[container.name] = "init"
        elif conditions or (run_to_completion and not container.essential):
            roles[container.name] = "sidecar"
        else:
            roles[container.name] = "main"
    if all(role != "main" for role in roles.values()):
        # a pod needs a main container: the last one of the definition stays one
        roles[definition.container_definitions[-1].name] = "main"
    return roles


def _init_order(definition: TaskDefinition, roles: Mapping[str, str]) -> list[str]:
    """Init and sidecar containers, each after what it depends on (else in file order)."""
    pending = [c.name for c in definition.container_definitions if roles[c.name] != "main"]
    needs = {
        c.name: {d.container_name for d in c.depends_on if roles.get(d.container_name) != "main"}
        for c in definition.container_definitions
    }
    ordered: list[str] = []
    while pending:
        ready = next(
            (name for name in pending if needs[name] <= set(ordered)), pending[0]
        )  # a cycle (rejected by the spec's rules) would otherwise spin
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _waited_healthy(definition: TaskDefinition, name: str) -> bool:
    return any(
        d.container_name == name and d.condition == "HEALTHY"
        for c in definition.container_definitions
        for d in c.depends_on
    )


# -- one container ------------------------------------------------------------------------


def _container(
    container: ContainerDefinition,
    mounts: list[dict[str, Any]],
    context: PodContext,
    objects: list[Manifest],
    skipped: list[str],
) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "name": dns_label(container.name),
        "image": context.images.get(container.image, container.image),
    }
    if container.entry_point is not None:
        rendered["command"] = list(container.entry_point)
    if container.command is not None:
        rendered["args"] = list(container.command)
    if container.working_directory:
        rendered["workingDir"] = container.working_directory
    env = [{"name": k, "value": v} for k, v in container.environment_map.items()]
    env += [_secret_env(s.name, s.value_from, context, objects) for s in container.secrets]
    if env:
        rendered["env"] = env
    if container.port_mappings:
        rendered["ports"] = [
            {"containerPort": p.container_port, "protocol": p.protocol.upper()}
            for p in container.port_mappings
        ]
    resources = _container_resources(container)
    if resources:
        rendered["resources"] = resources
    if mounts:
        rendered["volumeMounts"] = mounts
    if container.health_check is not None:
        rendered["livenessProbe"] = _probe(container.health_check)
        rendered["readinessProbe"] = _probe(container.health_check)
    security = _security_context(container, skipped)
    if security:
        rendered["securityContext"] = security
    if container.ulimits:
        skipped.append(f"{container.name}: ulimits")
    if container.log_configuration is not None:
        skipped.append(f"{container.name}: logConfiguration (the cluster's logging applies)")
    return rendered


def _container_resources(container: ContainerDefinition) -> dict[str, Any]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if container.cpu:
        requests["cpu"] = _millicores(container.cpu)
    if container.memory_reservation is not None:
        requests["memory"] = f"{container.memory_reservation}Mi"
    if container.memory is not None:
        limits["memory"] = f"{container.memory}Mi"
    resources: dict[str, Any] = {}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    return resources


def _pod_resources(definition: TaskDefinition) -> dict[str, Any]:
    """The task's size as pod-level resources (requests = limits: ECS reserves it)."""
    size: dict[str, str] = {}
    if definition.cpu_units is not None:
        size["cpu"] = _millicores(definition.cpu_units)
    if definition.memory_mib is not None:
        size["memory"] = f"{definition.memory_mib}Mi"
    return {"limits": dict(size), "requests": dict(size)} if size else {}


def _millicores(units: int) -> str:
    return f"{math.ceil(units * 1000 / CPU_UNITS_PER_VCPU)}m"


def probe_command(check: HealthCheck) -> list[str]:
    kind, *rest = check.command
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    return list(rest)


def _probe(check: HealthCheck) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "exec": {"command": probe_command(check)},
        "periodSeconds": check.interval,
        "timeoutSeconds": check.timeout,
        "failureThreshold": check.retries,
    }
    if check.start_period:
        probe["initialDelaySeconds"] = check.start_period
    return probe


def _security_context(container: ContainerDefinition, skipped: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if container.user:
        user, _, group = container.user.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            context["runAsUser"] = int(user)
            if group:
                context["runAsGroup"] = int(group)
        else:
            skipped.append(f"{container.name}: user {container.user} (Kubernetes takes a uid)")
    if container.readonly_root_filesystem is not None:
        context["readOnlyRootFilesystem"] = container.readonly_root_filesystem
    linux = container.linux_parameters
    if linux is not None and linux.capabilities is not None:
        capabilities: dict[str, list[str]] = {}
        if linux.capabilities.add:
            capabilities["add"] = list(linux.capabilities.add)
        if linux.capabilities.drop:
            capabilities["drop"] = list(linux.capabilities.drop)
        if capabilities:
            context["capabilities"] = capabilities
    if linux is not None and (linux.max_swap is not None or linux.swappiness is not None):
        skipped.append(f"{container.name}: maxSwap/swappiness")
    return context


# -- secrets and the task role ------------------------------------------------------------


def secret_object_name(local_name: str) -> str:
    return dns_label("dockyard-secret", local_name)


def _secret_env(
    env_name: str, value_from: str, context: PodContext, objects: list[Manifest]
) -> dict[str, Any]:
    ref = parse_value_from(value_from)
    key = ref.json_key or SECRET_VALUE_KEY
    objects.append(_secret(ref.name, context))
    return {
        "name": env_name,
        "valueFrom": {"secretKeyRef": {"name": secret_object_name(ref.name), "key": key}},
    }


def _secret(local_name: str, context: PodContext) -> Manifest:
    secret: Manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            secret_object_name(local_name),
            context.namespace,
            dict(context.labels),
            context.resource,
            {SOURCE_ANNOTATION: f"secret/{local_name}"},
        ),
        "type": "Opaque",
    }
    values = context.secret_values
    if values is not None and local_name in values:
        secret["stringData"] = _secret_data(values[local_name])
    return secret


def _secret_data(value: str) -> dict[str, str]:
    """The value under ``value``, and a JSON object's keys beside it (ECS's JSON keys)."""
    data = {SECRET_VALUE_KEY: value}
    try:
        parsed = json.loads(value)
    except ValueError:
        return data
    if isinstance(parsed, dict):
        for key, item in parsed.items():
            if key != SECRET_VALUE_KEY:
                data[str(key)] = item if isinstance(item, str) else json.dumps(item)
    return dict(sorted(data.items()))


def _service_account(role_arn: str, context: PodContext) -> Manifest:
    role = role_arn.rsplit("/", 1)[-1]
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(
            dns_label("dockyard-role", role),
            context.namespace,
            dict(context.labels),
            context.resource,
            {ROLE_ANNOTATION: role_arn},
        ),
    }


# -- volumes ------------------------------------------------------------------------------


def volume_name(name: str) -> str:
    return dns_label(name)


def _mounts(
    container: ContainerDefinition, by_name: Mapping[str, ContainerDefinition]
) -> list[dict[str, Any]]:
    mounts = [
        _mount(m.source_volume, m.container_path, m.read_only) for m in container.mount_points
    ]
    for source in container.volumes_from:
        other = by_name.get(source.source_container)
        for point in other.mount_points if other else ():
            mounts.append(
                _mount(
                    point.source_volume, point.container_path, point.read_only or source.read_only
                )
            )
    linux = container.linux_parameters
    if linux is not None:
        mounts += [
            _mount(_tmpfs_volume(container.name, t.container_path), t.container_path, False)
            for t in linux.tmpfs
        ]
        if linux.shared_memory_size is not None:
            mounts.append(_mount(_shm_volume(container.name), "/dev/shm", False))
    return mounts


def _mount(volume: str, path: str, read_only: bool) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": volume_name(volume), "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _tmpfs_volume(container: str, path: str) -> str:
    return f"tmpfs-{container}-{path}"


def _shm_volume(container: str) -> str:
    return f"shm-{container}"


def _volumes(
    definition: TaskDefinition, context: PodContext, objects: list[Manifest]
) -> list[dict[str, Any]]:
    volumes = []
    for volume in definition.volumes:
        if volume.name in context.extra_volumes:
            volumes.append({"name": volume_name(volume.name), **context.extra_volumes[volume.name]})
        else:
            volumes.append(_volume(volume, context, objects))
    for container in definition.container_definitions:
        linux = container.linux_parameters
        if linux is None:
            continue
        for tmpfs in linux.tmpfs:
            volumes.append(
                {
                    "name": volume_name(_tmpfs_volume(container.name, tmpfs.container_path)),
                    "emptyDir": {"medium": "Memory", "sizeLimit": f"{tmpfs.size}Mi"},
                }
            )
        if linux.shared_memory_size is not None:
            volumes.append(
                {
                    "name": volume_name(_shm_volume(container.name)),
                    "emptyDir": {"medium": "Memory", "sizeLimit": f"{linux.shared_memory_size}Mi"},
                }
            )
    return volumes


def _volume(volume: Volume, context: PodContext, objects: list[Manifest]) -> dict[str, Any]:
    name = volume_name(volume.name)
    if volume.host is not None and volume.host.source_path:
        return {"name": name, "hostPath": {"path": volume.host.source_path}}
    docker = volume.docker_volume_configuration
    shared = docker is not None and docker.scope == "shared"
    if not shared and volume.efs_volume_configuration is None:
        return {"name": name, "emptyDir": {}}
    source = (
        f"efs/{volume.efs_volume_configuration.file_system_id}"
        if volume.efs_volume_configuration is not None
        else f"docker-volume/{volume.name}"
    )
    claim = claim_object(
        dns_label(volume.name), context, source, access="ReadWriteMany", size=context.claim_size
    )
    objects.append(claim)
    return {"name": name, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}


def claim_object(
    name: str, context: PodContext, source: str, *, access: str, size: str
) -> Manifest:
    """A PersistentVolumeClaim for data that lives outside the pod (``source`` says where)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            name,
            context.namespace,
            dict(context.labels),
            context.resource,
            {SOURCE_ANNOTATION: source},
        ),
        "spec": {"accessModes": [access], "resources": {"requests": {"storage": size}}},
    }


def _unique(objects: Sequence[Manifest]) -> list[Manifest]:
    """One object per (kind, name): two containers naming one secret need one Secret."""
    seen: dict[tuple[str, str], Manifest] = {}
    for item in objects:
        seen.setdefault((item["kind"], item["metadata"]["name"]), item)
    return list(seen.values())
