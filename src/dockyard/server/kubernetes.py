"""Render a stored resource as Kubernetes manifests (the daemon's side of the export).

The renderer (:mod:`dockyard.kube`) is pure; this module gathers what it needs from
the store — an endpoint's variants and the task definitions their services run, an
ECS service's current revision and its scaling, a training job, a standalone task —
and resolves what only this machine knows: images the local backend pinned by id
become the references they were tagged with, so a cluster can pull them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.kube import KUBERNETES_VERSION
from dockyard.kube.autoscaling import Scaling
from dockyard.kube.bundle import ordered
from dockyard.kube.training import render_training_job
from dockyard.kube.workloads import (
    RenderOptions,
    Variant,
    render_endpoint,
    render_service,
    render_task,
)
from dockyard.ports.store import Store
from dockyard.server.platform import Platform
from dockyard.spec.task_definition import TaskDefinition

KINDS = ("endpoint", "service", "training-job", "task")


@dataclass(frozen=True)
class Rendered:
    resource: str  # "endpoint/NAME"
    manifests: list[dict[str, Any]]

    def to_api(self) -> dict[str, Any]:
        return {
            "Resource": self.resource,
            "KubernetesVersion": KUBERNETES_VERSION,
            "Manifests": self.manifests,
        }


def resolve(store: Store, ref: str) -> tuple[str, str]:
    """``(kind, name)`` of ``KIND/NAME``, or of a bare NAME that one resource has."""
    kind, slash, name = ref.partition("/")
    if slash and kind in KINDS:
        return kind, name
    if slash:
        raise SpecError(
            f"{kind!r} is not a kind Dockyard renders for Kubernetes",
            field="NAME",
            hint=f"write NAME or KIND/NAME with KIND one of {', '.join(KINDS)}",
        )
    found = [
        kind
        for kind, exists in (
            ("endpoint", store.endpoints.get(ref) is not None),
            ("service", _user_service(store, ref)),
            ("training-job", store.training_jobs.get(ref) is not None),
            ("task", store.tasks.get(ref) is not None),
        )
        if exists
    ]
    if not found:
        raise NotFound(
            f"no endpoint, service, training job or task is named {ref!r}",
            resource=ref,
            hint="`dockyard endpoints`, `dockyard service list`, `dockyard training-jobs` "
            "list what exists",
        )
    if len(found) > 1:
        raise Conflict(
            f"{ref!r} names more than one resource: {', '.join(found)}",
            resource=ref,
            hint=f"say which: {' or '.join(f'{k}/{ref}' for k in found)}",
        )
    return found[0], ref


def _user_service(store: Store, name: str) -> bool:
    record = store.services.get(name)
    return record is not None and record.ecs is not None


def render(
    platform: Platform, ref: str, *, secret_values: Mapping[str, str] | None = None
) -> Rendered:
    """The manifests of the resource ``ref`` names, in apply order."""
    store = platform.store
    kind, name = resolve(store, ref)
    options = RenderOptions(namespace=platform.settings.kube_namespace, secret_values=secret_values)
    if kind == "endpoint":
        endpoint = store.endpoints.require(name)
        variants = []
        for variant in endpoint.variants:
            service = store.services.require(variant.service_name)
            definition = _definition(store, service.state.revision)
            variants.append(Variant(variant, definition, _scaling(store, variant.service_name)))
        options = _with_images(platform, options, (v.definition for v in variants))
        return Rendered(f"endpoint/{name}", ordered(render_endpoint(endpoint, variants, options)))
    if kind == "service":
        service = store.services.require(name)
        if service.ecs is None:
            raise NotFound(
                f"{name!r} is an endpoint's variant, not a service a user created",
                resource=f"service/{name}",
                hint=f"export the endpoint: {service.owner or 'endpoint/NAME'}",
            )
        definition = _definition(store, service.state.revision)
        options = _with_images(platform, options, [definition])
        return Rendered(
            f"service/{name}",
            ordered(render_service(service, definition, options, _scaling(store, name))),
        )
    if kind == "training-job":
        job = store.training_jobs.require(name)
        return Rendered(f"training-job/{name}", ordered(render_training_job(job, options)))
    task = store.tasks.require(name)
    options = _with_images(platform, options, [task.definition])
    return Rendered(f"task/{name}", ordered(render_task(task, options)))


def _definition(store: Store, revision: str) -> TaskDefinition:
    return store.task_definitions.require(revision).registered.definition


def _scaling(store: Store, service: str) -> Scaling | None:
    target = store.scalable_targets.get(service)
    if target is None:
        return None
    return Scaling(target, tuple(store.scaling_policies.list(service)))


def _with_images(
    platform: Platform, options: RenderOptions, definitions: Iterable[TaskDefinition]
) -> RenderOptions:
    """Images pinned by id (``sha256:…``) as the first tag the engine knows them by."""
    images: dict[str, str] = {}
    for definition in definitions:
        for container in definition.container_definitions:
            if not container.image.startswith("sha256:"):
                continue
            info = platform.engine.image(container.image)
            if info is not None and info.tags:
                images[container.image] = sorted(info.tags)[0]
    return RenderOptions(
        namespace=options.namespace,
        images=images,
        secret_values=options.secret_values,
        claim_size=options.claim_size,
    )
