"""Endpoints, ECS services and standalone tasks as Deployments, Services and Jobs.

* An **ECS service** is a Deployment of its task definition's pod (every container in
  one pod, sharing its network as under ``awsvpc``) with ``desiredCount`` replicas;
  ``minimumHealthyPercent``/``maximumPercent`` become the rolling update's
  ``maxUnavailable``/``maxSurge``; its port mappings a ClusterIP Service; its
  target-tracking policies an HPA (which then owns the replica count, so the
  Deployment leaves ``replicas`` out).
* An **endpoint** is one Deployment per production variant (``serve`` on 8080, ready
  once ``GET /ping`` answers, ``ContainerStartupHealthCheckTimeoutInSeconds`` as the
  startup probe's budget) behind one Service that selects every variant; the model
  directory comes from a PersistentVolumeClaim annotated with its ``ModelDataUrl``.
  A Service spreads requests per pod, so variant weights hold through replica counts.
* A **standalone task** (RunTask) is a Job of one pod that runs to completion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.endpoint import MODEL_DIR, MODEL_PORT, MODEL_VOLUME
from dockyard.control.pipeline import model_volume
from dockyard.kube.autoscaling import Scaling, render_hpa
from dockyard.kube.names import (
    KIND_LABEL,
    RESOURCE_LABEL,
    REVISION_ANNOTATION,
    VARIANT_LABEL,
    dns_label,
    label_value,
    metadata,
    resource_labels,
)
from dockyard.kube.pods import Manifest, Pod, PodContext, claim_object, render_pod
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.records.service import ServiceRecord
from dockyard.records.task import TaskRecord
from dockyard.spec.task_definition import TaskDefinition

PING_PERIOD_S = 5
WEIGHT_ANNOTATION = "dockyard.io/variant-weight"


@dataclass(frozen=True)
class RenderOptions:
    """How to render: the namespace, image references the cluster can pull (keyed by
    the reference the record holds, e.g. a locally pinned image id), secret values
    (only when applying; an export never carries them), and the size of the volume
    claims Dockyard makes for data (models, channels, shared volumes)."""

    namespace: str = "default"
    images: Mapping[str, str] | None = None
    secret_values: Mapping[str, str] | None = None
    claim_size: str = "1Gi"

    def pod_context(
        self,
        resource: str,
        labels: Mapping[str, str],
        extra_volumes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> PodContext:
        return PodContext(
            namespace=self.namespace,
            resource=resource,
            labels=labels,
            images=self.images or {},
            secret_values=self.secret_values,
            extra_volumes=extra_volumes or {},
            claim_size=self.claim_size,
        )


@dataclass(frozen=True)
class Variant:
    """A production variant, the task definition its service runs, and its scaling."""

    record: VariantRecord
    definition: TaskDefinition
    scaling: Scaling | None = None


# -- ECS services ---------------------------------------------------------------------------


def render_service(
    record: ServiceRecord,
    definition: TaskDefinition,
    options: RenderOptions,
    scaling: Scaling | None = None,
) -> list[Manifest]:
    """An ECS service (``record``) running ``definition`` (its current revision)."""
    name = dns_label(record.name)
    resource = f"service/{record.name}"
    labels = resource_labels("service", record.name)
    pod = render_pod(definition, options.pod_context(resource, labels), run_to_completion=False)
    state = record.state
    hpa = render_hpa(name, options.namespace, labels, resource, name, scaling) if scaling else None
    surge = max(0, state.maximum_percent - 100)
    unavailable = max(0, 100 - state.minimum_healthy_percent)
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {
            # both 0 would forbid any progress; ECS refuses that pair too
            "maxSurge": f"{surge}%" if surge or unavailable else 1,
            "maxUnavailable": f"{unavailable}%",
        },
    }
    manifests = [
        *pod.objects,
        _deployment(
            name,
            options.namespace,
            labels,
            resource,
            pod,
            replicas=None if hpa else state.desired_count,
            strategy=strategy,
            annotations={REVISION_ANNOTATION: state.revision},
        ),
    ]
    ports = _service_ports(definition)
    if ports:
        manifests.append(_service(name, options.namespace, labels, resource, ports))
    if hpa:
        manifests.append(hpa)
    return manifests


# -- endpoints ------------------------------------------------------------------------------


def render_endpoint(
    record: EndpointRecord, variants: Sequence[Variant], options: RenderOptions
) -> list[Manifest]:
    """An endpoint: a Deployment (and HPA) per variant, one Service over all of them."""
    resource = f"endpoint/{record.name}"
    labels = resource_labels("endpoint", record.name)
    manifests: list[Manifest] = []
    for variant in variants:
        manifests += _variant(record, variant, labels, resource, options)
    port = {"name": "http", "port": MODEL_PORT, "targetPort": MODEL_PORT, "protocol": "TCP"}
    manifests.append(_service(dns_label(record.name), options.namespace, labels, resource, [port]))
    return manifests


def _variant(
    record: EndpointRecord,
    variant: Variant,
    endpoint_labels: Mapping[str, str],
    resource: str,
    options: RenderOptions,
) -> list[Manifest]:
    name = dns_label(variant.record.service_name)
    labels = {**endpoint_labels, VARIANT_LABEL: label_value(variant.record.variant_name)}
    claims: list[Manifest] = []
    extra: dict[str, Mapping[str, Any]] = {}
    for volume, source in _model_sources(record, variant.definition).items():
        suffix = "model" if volume == MODEL_VOLUME else volume
        claim = claim_object(
            dns_label(variant.record.service_name, suffix),
            options.pod_context(resource, labels),
            source,
            access="ReadOnlyMany",
            size=options.claim_size,
        )
        claims.append(claim)
        extra[volume] = {
            "persistentVolumeClaim": {"claimName": claim["metadata"]["name"], "readOnly": True}
        }
    pod = render_pod(
        variant.definition, options.pod_context(resource, labels, extra), run_to_completion=False
    )
    for container in pod.spec["containers"]:
        if any(p["containerPort"] == MODEL_PORT for p in container.get("ports", ())):
            _add_ping_probes(container, variant.record.startup_timeout_s)
    hpa = (
        render_hpa(name, options.namespace, labels, resource, name, variant.scaling)
        if variant.scaling
        else None
    )
    deployment = _deployment(
        name,
        options.namespace,
        labels,
        resource,
        pod,
        replicas=None if hpa else variant.record.desired,
        strategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
        },
        annotations={WEIGHT_ANNOTATION: _weight(record, variant.record.variant_name)},
    )
    return [*claims, *pod.objects, deployment, *([hpa] if hpa else [])]


def _model_sources(record: EndpointRecord, definition: TaskDefinition) -> dict[str, str]:
    """The variant's model volumes (a model's own machine's folders) and where each
    model comes from: one claim each on a cluster. A single model's volume, or each
    container's of a multi-container model (its ``ModelDataUrl`` when the record's
    model is the variant's, else the folder it was extracted to)."""
    sources = {}
    names = {c.name for c in definition.container_definitions}
    containers = record.model.containers if record.model.primary_container is None else ()
    for volume in definition.volumes:
        if volume.name == MODEL_VOLUME:
            sources[volume.name] = _model_source(record, definition)
            continue
        for index, container in enumerate(containers):
            if volume.name == model_volume(index):
                hostname = record.model.hostname_of(index)
                url = container.model_data_url if hostname in names else None
                sources[volume.name] = url or f"model/{hostname}{MODEL_DIR}"
    return sources


def _model_source(record: EndpointRecord, definition: TaskDefinition) -> str:
    """Where the variant's model comes from (its ModelDataUrl, when the record has it)."""
    names = {c.name for c in definition.container_definitions}
    container = record.model.primary_container
    if record.model.model_name in names and container and container.model_data_url:
        return container.model_data_url
    return f"model/{next(iter(sorted(names)))}{MODEL_DIR}"


def _weight(record: EndpointRecord, variant_name: str) -> str:
    for variant in record.config.production_variants:
        if variant.variant_name == variant_name:
            return f"{variant.initial_variant_weight:g}"
    return "1"


def _add_ping_probes(container: dict[str, Any], startup_timeout_s: float) -> None:
    """SageMaker's contract: ready once ``GET /ping`` answers 200, within the startup
    timeout; a replica that stops answering is restarted."""
    ping = {"path": "/ping", "port": MODEL_PORT}
    container["startupProbe"] = {
        "httpGet": dict(ping),
        "periodSeconds": PING_PERIOD_S,
        "failureThreshold": max(1, math.ceil(startup_timeout_s / PING_PERIOD_S)),
    }
    container["readinessProbe"] = {"httpGet": dict(ping), "periodSeconds": PING_PERIOD_S}
    container["livenessProbe"] = {
        "httpGet": dict(ping),
        "periodSeconds": 10,
        "failureThreshold": 3,
    }


# -- standalone tasks -----------------------------------------------------------------------


def render_task(record: TaskRecord, options: RenderOptions) -> list[Manifest]:
    """A standalone task: a Job whose one pod runs the task's containers to completion."""
    task_id = record.task.task_id
    resource = f"task/{task_id}"
    labels = resource_labels("task", task_id)
    pod = render_pod(
        record.definition, options.pod_context(resource, labels), run_to_completion=True
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(
            dns_label("task", task_id),
            options.namespace,
            labels,
            resource,
            {REVISION_ANNOTATION: record.task.revision, **pod.annotations},
        ),
        "spec": {
            "backoffLimit": 0,  # an ECS task is not retried
            "template": {"metadata": {"labels": dict(sorted(labels.items()))}, "spec": pod.spec},
        },
    }
    return [*pod.objects, job]


# -- shared shapes --------------------------------------------------------------------------


def selector(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a controller selects its pods by (never the informational ones)."""
    keys = (KIND_LABEL, RESOURCE_LABEL, VARIANT_LABEL)
    return {key: labels[key] for key in keys if key in labels}


def _deployment(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    resource: str,
    pod: Pod,
    *,
    replicas: int | None,
    strategy: dict[str, Any],
    annotations: dict[str, str],
) -> Manifest:
    spec: dict[str, Any] = {}
    if replicas is not None:
        spec["replicas"] = replicas
    spec["selector"] = {"matchLabels": selector(labels)}
    spec["strategy"] = strategy
    spec["template"] = {"metadata": {"labels": dict(sorted(labels.items()))}, "spec": pod.spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            name, namespace, dict(labels), resource, {**annotations, **pod.annotations}
        ),
        "spec": spec,
    }


def _service_ports(definition: TaskDefinition) -> list[dict[str, Any]]:
    ports: dict[tuple[int, str], dict[str, Any]] = {}
    for container in definition.container_definitions:
        for mapping in container.port_mappings:
            protocol = mapping.protocol.upper()
            ports.setdefault(
                (mapping.container_port, protocol),
                {
                    "name": f"{protocol.lower()}-{mapping.container_port}",
                    "port": mapping.container_port,
                    "targetPort": mapping.container_port,
                    "protocol": protocol,
                },
            )
    return [ports[key] for key in sorted(ports)]


def _service(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    resource: str,
    ports: list[dict[str, Any]],
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, dict(labels), resource),
        "spec": {"type": "ClusterIP", "selector": selector(labels), "ports": ports},
    }
