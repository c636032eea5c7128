"""The Kubernetes API, through the official ``kubernetes`` client's typed API.

Applies rendered manifests with **server-side apply** (``PATCH`` with
``application/apply-patch+yaml``, ``fieldManager=dockyard``, ``force=true``: Dockyard
owns the fields it renders and takes them back from a hand edit, while fields others
own — an HPA's replica count, data a user put in a Secret — are left alone), and
reads Deployments, Jobs and pods back as :mod:`dockyard.kube.status` values. Deletes
with ``propagationPolicy=Background`` (always sent: the API's default for a Job orphans
its pods, which would leave a stopped task running); a 404 means already gone.

Only used when a kubeconfig is configured (``DOCKYARD_KUBECONFIG``); the
``kubernetes`` package is imported then, not before (``pip install
'dockyard[kubernetes]'``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, DockyardError, SpecError
from dockyard.kube.names import KIND_LABEL, RESOURCE_LABEL
from dockyard.kube.status import Condition, DeploymentStatus, JobStatus, Observation

FIELD_MANAGER = "dockyard"
APPLY_PATCH = "application/apply-patch+yaml"

#: (apiVersion, kind) → (typed API class name, its server-side apply method, namespaced)
APPLY_METHODS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("v1", "Namespace"): ("CoreV1Api", "patch_namespace", False),
    ("v1", "ServiceAccount"): ("CoreV1Api", "patch_namespaced_service_account", True),
    ("v1", "Secret"): ("CoreV1Api", "patch_namespaced_secret", True),
    ("v1", "ConfigMap"): ("CoreV1Api", "patch_namespaced_config_map", True),
    ("v1", "PersistentVolumeClaim"): (
        "CoreV1Api",
        "patch_namespaced_persistent_volume_claim",
        True,
    ),
    ("v1", "Service"): ("CoreV1Api", "patch_namespaced_service", True),
    ("apps/v1", "Deployment"): ("AppsV1Api", "patch_namespaced_deployment", True),
    ("batch/v1", "Job"): ("BatchV1Api", "patch_namespaced_job", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): (
        "AutoscalingV2Api",
        "patch_namespaced_horizontal_pod_autoscaler",
        True,
    ),
}


#: kind → (typed API class name, its delete method, namespaced); every kind Dockyard applies
DELETE_METHODS: dict[str, tuple[str, str, bool]] = {
    kind: (api, method.replace("patch_", "delete_", 1), namespaced)
    for (_, kind), (api, method, namespaced) in APPLY_METHODS.items()
}
#: dependents go after their owner is gone (see :meth:`KubernetesCluster.delete_objects`)
PROPAGATION = "Background"


class ClusterError(DockyardError):
    """The cluster refused a request (or could not be reached)."""

    status_code = 502


class KubernetesCluster:
    """A :class:`~dockyard.ports.cluster.Cluster` over one ``kubernetes.client.ApiClient``."""

    def __init__(self, api_client: Any) -> None:
        import urllib3  # noqa: PLC0415 - the client's transport, installed with it
        from kubernetes import client  # noqa: PLC0415 - only with a kubeconfig

        self._client = client
        #: no answer at all: refused/reset connections, and urllib3's retries given up
        self._unreachable: tuple[type[Exception], ...] = (OSError, urllib3.exceptions.HTTPError)
        self.api_client = api_client

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None) -> KubernetesCluster:
        from kubernetes import config  # noqa: PLC0415 - only with a kubeconfig

        if not path.is_file():
            raise SpecError(
                f"kubeconfig {path} does not exist",
                field="DOCKYARD_KUBECONFIG",
                hint="point DOCKYARD_KUBECONFIG at your cluster's kubeconfig, or unset it",
            )
        try:
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(path), context=context
            )
        except config.ConfigException as error:
            raise SpecError(
                f"kubeconfig {path} cannot be used: {error}",
                field="DOCKYARD_KUBECONFIG",
                hint="check the file (`kubectl --kubeconfig PATH config view`) and "
                "DOCKYARD_KUBE_CONTEXT",
            ) from None
        return cls(api_client)

    def _api(self, name: str) -> Any:
        return getattr(self._client, name)(self.api_client)

    def apply(self, manifests: Sequence[dict[str, Any]]) -> list[str]:
        applied = []
        for manifest in manifests:
            key = (manifest["apiVersion"], manifest["kind"])
            if key not in APPLY_METHODS:
                raise SpecError(
                    f"Dockyard does not apply {key[1]} ({key[0]}) objects",
                    field="kind",
                    hint=f"apply it with kubectl; Dockyard applies {sorted(APPLY_METHODS)}",
                )
            api_name, method, namespaced = APPLY_METHODS[key]
            meta = manifest["metadata"]
            call: Callable[..., Any] = getattr(self._api(api_name), method)
            where = {"namespace": meta["namespace"]} if namespaced else {}
            self._call(
                call,
                immutable=key[1] == "Job",
                name=meta["name"],
                body=manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type=APPLY_PATCH,
                **where,
            )
            applied.append(f"{key[1]}/{meta.get('namespace', '')}/{meta['name']}")
        return applied

    def delete_objects(self, objects: Sequence[str]) -> list[str]:
        gone = []
        for item in objects:
            kind, namespace, name = item.split("/", 2)
            if kind not in DELETE_METHODS:
                raise SpecError(
                    f"Dockyard does not delete {kind} objects",
                    field="kind",
                    hint=f"delete {item} with kubectl; Dockyard deletes {sorted(DELETE_METHODS)}",
                )
            api_name, method, namespaced = DELETE_METHODS[kind]
            call: Callable[..., Any] = getattr(self._api(api_name), method)
            where: dict[str, Any] = {"namespace": namespace} if namespaced else {}
            self._call(call, missing_ok=True, name=name, propagation_policy=PROPAGATION, **where)
            gone.append(item)
        return gone

    def observe(self, resource: str, manifests: Sequence[dict[str, Any]]) -> Observation:
        deployments = []
        jobs = []
        namespace = ""
        selector = ""
        for manifest in manifests:
            meta = manifest["metadata"]
            if manifest["kind"] == "Deployment":
                apps = self._api("AppsV1Api")
                read = self._call(
                    apps.read_namespaced_deployment_status,
                    name=meta["name"],
                    namespace=meta["namespace"],
                )
                deployments.append(_deployment(read))
            elif manifest["kind"] == "Job":
                batch = self._api("BatchV1Api")
                read = self._call(
                    batch.read_namespaced_job_status, name=meta["name"], namespace=meta["namespace"]
                )
                jobs.append(_job(read))
            else:
                continue
            labels = meta["labels"]
            namespace = meta["namespace"]
            selector = (
                f"{KIND_LABEL}={labels[KIND_LABEL]},{RESOURCE_LABEL}={labels[RESOURCE_LABEL]}"
            )
        phases: dict[str, int] = {}
        if selector:
            pods = self._call(
                self._api("CoreV1Api").list_namespaced_pod,
                namespace=namespace,
                label_selector=selector,
            )
            for pod in pods.items:
                phase = (pod.status.phase if pod.status else None) or "Unknown"
                phases[phase] = phases.get(phase, 0) + 1
        return Observation(resource, tuple(deployments), tuple(jobs), dict(sorted(phases.items())))

    def _call(
        self,
        call: Callable[..., Any],
        *,
        immutable: bool = False,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> Any:
        try:
            return call(**kwargs)
        except self._client.ApiException as error:
            if missing_ok and error.status == 404:
                return None  # already gone: what a delete wants
            if immutable and error.status == 422 and "immutable" in str(error.body or ""):
                raise _job_changed(kwargs) from None
            raise ClusterError(
                f"the cluster answered {_api_message(error)}",
                hint="check the kubeconfig's user can manage these objects in the namespace",
            ) from None
        except self._unreachable as error:
            raise ClusterError(
                f"the cluster cannot be reached: {error}",
                hint="check DOCKYARD_KUBECONFIG and that its server answers",
            ) from None


def _api_message(error: Any) -> str:
    """``STATUS Reason: message`` from the API's Status body (its ``message`` is what
    kubectl prints), or the raw body when it is not one."""
    body = error.body.decode() if isinstance(error.body, bytes) else str(error.body or "")
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("message"):
        reason = error.reason or status.get("reason") or ""
        return f"{error.status} {reason}: {status['message']}".replace("  ", " ")
    return f"{error.status} {error.reason or ''}: {body}".strip().rstrip(":")


def _job_changed(request: dict[str, Any]) -> Conflict:
    """A Job's pod template cannot change once created. Dockyard refuses rather than
    deleting and recreating it: that would kill the pods of a training job or a task
    that may be halfway through its work, and start it over."""
    name, namespace = request["name"], request["namespace"]
    return Conflict(
        f"Job {namespace}/{name} already exists on the cluster with another pod template, "
        "and a Job's template cannot change",
        resource=f"Job/{namespace}/{name}",
        hint=f"delete it (`kubectl delete job -n {namespace} {name}`: its pods stop) and "
        "apply again, which starts it over",
    )


def _conditions(items: Any) -> tuple[Condition, ...]:
    return tuple(Condition(c.type, c.status, c.reason or "", c.message or "") for c in items or ())


def _deployment(read: Any) -> DeploymentStatus:
    status = read.status
    return DeploymentStatus(
        name=read.metadata.name,
        desired=read.spec.replicas if read.spec.replicas is not None else 1,
        replicas=status.replicas or 0,
        available=status.available_replicas or 0,
        updated=status.updated_replicas or 0,
        conditions=_conditions(status.conditions),
    )


def _job(read: Any) -> JobStatus:
    status = read.status
    return JobStatus(
        name=read.metadata.name,
        completions=read.spec.completions if read.spec.completions is not None else 1,
        active=status.active or 0,
        succeeded=status.succeeded or 0,
        failed=status.failed or 0,
        conditions=_conditions(status.conditions),
    )
