"""Render a stored resource as Kubernetes manifests (the daemon's side of the export).

The renderer (:mod:`dockyard.kube`) is pure; this module gathers what it needs from
the store — an endpoint's variants and the task definitions their services run, an
ECS service's current revision and its scaling, a training job, a standalone task —
and resolves what only this machine knows: images the local backend pinned by id
become the references they were tagged with, so a cluster can pull them.

With ``DOCKYARD_BACKEND=kubernetes`` (:attr:`Platform.cluster` set), :func:`apply`
renders the same objects *with* the values of the secrets they name, decrypted from
Dockyard's secret store for that request only, applies them through the cluster port,
and marks the records as run by the cluster (:class:`~dockyard.records.cluster.ClusterState`);
the daemon's sync (:mod:`.cluster_sync`) reads their status back from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.kube import KUBERNETES_VERSION
from dockyard.kube.autoscaling import Scaling, hpa_warnings
from dockyard.kube.bundle import ordered
from dockyard.kube.names import SOURCE_ANNOTATION
from dockyard.kube.removal import digest
from dockyard.kube.training import render_training_job
from dockyard.kube.workloads import (
    RenderOptions,
    Variant,
    render_endpoint,
    render_service,
    render_task,
)
from dockyard.ports.store import Store
from dockyard.records.cluster import ClusterState
from dockyard.server import cluster_removal
from dockyard.server.platform import Platform
from dockyard.server.secrets import SecretBox, SecretUnavailable
from dockyard.spec.task_definition import TaskDefinition

KINDS = ("endpoint", "service", "training-job", "task")
BACKEND = "kubernetes"
#: the control loop's kind for the read-back (:mod:`.cluster_sync`)
SYNC_KIND = "cluster"


@dataclass(frozen=True)
class Rendered:
    resource: str  # "endpoint/NAME"
    manifests: list[dict[str, Any]]
    #: what will not work as the records mean it (e.g. an HPA without requests)
    warnings: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "Resource": self.resource,
            "KubernetesVersion": KUBERNETES_VERSION,
            "Manifests": self.manifests,
            "Warnings": self.warnings,
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
    """The manifests of the resource ``ref`` names, in apply order, and what to warn of."""
    rendered = _render(platform, ref, secret_values)
    return replace(rendered, warnings=hpa_warnings(rendered.manifests))


def _render(platform: Platform, ref: str, secret_values: Mapping[str, str] | None) -> Rendered:
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


# -- applying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    resource: str
    objects: list[str]  # KIND/NAMESPACE/NAME, in apply order
    warnings: list[str]
    #: what an earlier apply made and this one no longer renders, deleted
    pruned: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "Resource": self.resource,
            "Backend": BACKEND,
            "Applied": self.objects,
            "Deleted": self.pruned,
            "Warnings": self.warnings,
        }


def no_cluster(platform: Platform) -> Conflict:
    """Why there is nothing to apply to, and the fix (the daemon picks its backend at start)."""
    return Conflict(
        f"this daemon runs the {platform.settings.backend} backend (DOCKYARD_BACKEND="
        f"{platform.settings.backend}): there is no Kubernetes cluster to apply to",
        field="DOCKYARD_BACKEND",
        hint="restart the daemon with DOCKYARD_BACKEND=kubernetes and DOCKYARD_KUBECONFIG "
        "(or KUBECONFIG) set to the cluster's kubeconfig; meanwhile `dockyard export "
        "kubernetes NAME` writes the manifests for kubectl",
    )


def apply(platform: Platform, ref: str) -> Applied:
    """Apply the resource ``ref`` names to the cluster, secrets filled in, delete what an
    earlier apply made and this one no longer renders, and mark its records as the
    cluster's. Nothing is marked unless the cluster took every object.

    ``dockyard export kubernetes NAME --apply`` calls it, and so does the daemon's sync
    (:mod:`.cluster_sync`) for every create and update under the kubernetes backend."""
    cluster = platform.cluster
    if cluster is None:
        raise no_cluster(platform)
    kind, name = resolve(platform.store, ref)
    resource = f"{kind}/{name}"
    record = cluster_removal.record_of(platform.store, kind, name)
    if record is not None and cluster_removal.being_removed(kind, record):
        raise Conflict(
            f"{resource} is being deleted (or stopped): there is nothing to apply",
            resource=resource,
            hint="its objects are being removed from the cluster; create it again once it is gone",
        )
    bare = render(platform, resource)
    values = _secret_values(platform, bare.manifests)
    rendered = render(platform, resource, secret_values=values)
    objects = cluster.apply(rendered.manifests)
    previous = record.cluster.objects if record is not None and record.cluster else ()
    pruned = cluster_removal.prune(platform, cluster, resource, previous, objects)
    _mark(platform, kind, name, objects, digest(bare.manifests))
    note = f", deleted {len(pruned)} no longer rendered" if pruned else ""
    platform.store.add_event(
        EVENT_KINDS[kind], name, f"applied to {BACKEND}: {len(objects)} objects{note}"
    )
    platform.wake(SYNC_KIND, resource)
    return Applied(resource, objects, rendered.warnings, pruned)


def rendered_digest(platform: Platform, resource: str) -> str:
    """The digest of what ``resource`` renders now (no secret values), to compare with
    the one its last apply recorded (:attr:`ClusterState.digest`)."""
    return digest(render(platform, resource).manifests)


EVENT_KINDS = {
    "endpoint": "endpoint",
    "service": "service",
    "training-job": "training_job",
    "task": "task",
}


def _secret_values(platform: Platform, manifests: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The value in clear of every Dockyard secret the manifests' Secrets stand for."""
    names = sorted(
        source.removeprefix("secret/")
        for m in manifests
        if m["kind"] == "Secret"
        and (source := m["metadata"].get("annotations", {}).get(SOURCE_ANNOTATION, "")).startswith(
            "secret/"
        )
    )
    if not names:
        return {}
    box = SecretBox(platform.settings.run_dir)
    values = {}
    for name in names:
        record = platform.store.secrets.get(name)
        if record is None:
            raise SecretUnavailable(
                f"secret {name!r} does not exist, and the task definition refers to it",
                resource=f"secret/{name}",
                hint=f"store it with `dockyard secret put {name}`, then apply again",
            )
        values[name] = box.open(record.ciphertext)
    return values


def _mark(platform: Platform, kind: str, name: str, objects: list[str], rendered: str) -> None:
    """Set (or refresh) the records' ClusterState: the cluster runs them from now on."""
    store = platform.store
    now = platform.clock()

    def state(old: ClusterState | None) -> ClusterState:
        if old is None:
            return ClusterState(BACKEND, now, tuple(objects), digest=rendered)
        return replace(
            old, backend=BACKEND, applied_at=now, objects=tuple(objects), digest=rendered
        )

    with store.transaction():
        if kind == "endpoint":
            endpoint = store.endpoints.require(name)
            store.endpoints.put(replace(endpoint, cluster=state(endpoint.cluster)))
            for variant in endpoint.variants:
                service = store.services.get(variant.service_name)
                if service is not None:
                    store.services.put(replace(service, cluster=state(service.cluster)))
        elif kind == "service":
            service = store.services.require(name)
            store.services.put(replace(service, cluster=state(service.cluster)))
        elif kind == "training-job":
            job = store.training_jobs.require(name)
            store.training_jobs.put(replace(job, cluster=state(job.cluster)))
        else:
            task = store.tasks.require(name)
            store.tasks.put(replace(task, cluster=state(task.cluster)))
