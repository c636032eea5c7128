"""A SageMaker training job as an Indexed Job whose pods resolve each other as algo-1..N.

What a training host needs, and how each part is rendered:

* **One pod per host**, run to completion: an Indexed Job with ``completions`` and
  ``parallelism`` = InstanceCount, ``backoffLimit`` 0 (SageMaker does not retry),
  ``activeDeadlineSeconds`` = MaxRuntimeInSeconds, 120 s between SIGTERM and SIGKILL.
* **algo-1..N resolve**: an Indexed Job names its pods' hosts ``<job>-<index>``
  counting from 0, so the contract's 1-based short names need their own records. Each
  host gets a headless Service ``algo-<i>`` selecting the pod of completion index
  ``i-1`` (with ``publishNotReadyAddresses``, so peers resolve while starting); a
  short name resolves within one namespace, so every job gets its own namespace
  (:func:`training_namespace`) and two jobs never claim the same ``algo-1``.
* **/opt/ml/input/config**: one ConfigMap holds ``hyperparameters.json``,
  ``inputdataconfig.json`` and one ``resourceconfig-<index>.json`` per host (its
  ``current_host`` differs); each file is mounted at its contract path, the host's
  resource config through ``subPathExpr`` on the pod's completion index. The text is
  :mod:`dockyard.control.training_contract`'s, the same the local backend writes.
* **Channels** (``/opt/ml/input/data/<channel>``, read-only) and **output**
  (``/opt/ml/model``, ``/opt/ml/output``, the checkpoint path, each host under its own
  sub-directory) are PersistentVolumeClaims annotated with the S3 URI they stand for;
  local script-mode code (``/opt/ml/code``) is one more claim.
* ``ResourceLimits`` (or the instance type's published size) → requests = limits.
"""

from __future__ import annotations

from typing import Any

from dockyard.control.training_channels import channel_infos
from dockyard.control.training_contract import (
    CONFIG_DIR,
    HYPERPARAMETERS_FILE,
    INPUT_DATA_CONFIG_FILE,
    RESOURCE_CONFIG_FILE,
    TrainingHostConfig,
    hyperparameters_json,
    render_config_files,
)
from dockyard.kube.names import dns_label, metadata, resource_labels
from dockyard.kube.pods import Manifest, PodContext, claim_object
from dockyard.kube.workloads import RenderOptions
from dockyard.records.training import TrainingJobRecord

ML = "/opt/ml"
CODE_DIR = f"{ML}/code"
CONTAINER = "training"
STOP_TIMEOUT_S = 120
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
INDEX_ENV = "DOCKYARD_HOST_INDEX"
CONFIG_VOLUME = "input-config"
OUTPUT_VOLUME = "output"
CODE_VOLUME = "code"


def training_namespace(job_name: str) -> str:
    """The namespace a job's objects live in: its own, so algo-1..N are the job's."""
    return dns_label("training", job_name)


def resource_config_key(index: int) -> str:
    return f"resourceconfig-{index}.json"


def render_training_job(record: TrainingJobRecord, options: RenderOptions) -> list[Manifest]:
    """Namespace, ConfigMap, claims, one headless Service per host and the Indexed Job."""
    spec = record.spec
    namespace = training_namespace(record.name)
    resource = f"training-job/{record.name}"
    labels = resource_labels("training-job", record.name)
    job_name = dns_label(record.name)
    context = PodContext(namespace=namespace, resource=resource, labels=labels)
    claims = _claims(record, context, options)
    manifests: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                key: value
                for key, value in metadata(namespace, "", labels, resource).items()
                if key != "namespace"
            },
        },
        _config_map(record, job_name, namespace, labels, resource),
        *claims.values(),
    ]
    for number, host in enumerate(spec.hosts, start=1):
        manifests.append(_host_service(host, number - 1, job_name, namespace, labels, resource))
    manifests.append(_job(record, job_name, namespace, labels, resource, claims, options))
    return manifests


def _config_map(
    record: TrainingJobRecord,
    job_name: str,
    namespace: str,
    labels: dict[str, str],
    resource: str,
) -> Manifest:
    data: dict[str, str] = {}
    for index, host in enumerate(record.spec.hosts):
        files = render_config_files(_host_config(record, host))
        data[HYPERPARAMETERS_FILE] = files[HYPERPARAMETERS_FILE]
        data[INPUT_DATA_CONFIG_FILE] = files[INPUT_DATA_CONFIG_FILE]
        data[resource_config_key(index)] = files[RESOURCE_CONFIG_FILE]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(dns_label(job_name, "config"), namespace, labels, resource),
        "data": dict(sorted(data.items())),
    }


def _host_config(record: TrainingJobRecord, host: str) -> TrainingHostConfig:
    """The same inputs the local backend writes a host's config files from."""
    spec, script = record.spec, record.script
    return TrainingHostConfig(
        current_host=host,
        hosts=spec.hosts,
        instance_type=spec.resource_config.instance_type,
        hyperparameters=hyperparameters_json(
            dict(script.user_hyperparameters), script.program, script.container_submit_dir
        ),
        channels=channel_infos(spec),
    )


def _claims(
    record: TrainingJobRecord, context: PodContext, options: RenderOptions
) -> dict[str, Manifest]:
    """Volume name → claim: one per channel, the output, and local code if any."""
    spec = record.spec
    size = (
        f"{spec.resource_config.volume_size_in_gb}Gi"
        if spec.resource_config.volume_size_in_gb
        else options.claim_size
    )
    claims: dict[str, Manifest] = {}
    for channel in spec.input_data_config:
        source = channel.data_source.s3_data_source
        uri = source.s3_uri if source else channel.channel_name
        volume = dns_label("channel", channel.channel_name)
        claims[volume] = claim_object(
            dns_label(record.name, volume), context, uri, access="ReadOnlyMany", size=size
        )
    output = f"{spec.output_data_config.s3_output_path.rstrip('/')}/{spec.training_job_name}"
    claims[OUTPUT_VOLUME] = claim_object(
        dns_label(record.name, OUTPUT_VOLUME), context, output, access="ReadWriteMany", size=size
    )
    if record.script.code_source is not None:
        claims[CODE_VOLUME] = claim_object(
            dns_label(record.name, CODE_VOLUME),
            context,
            record.script.code_source.as_uri(),
            access="ReadOnlyMany",
            size=options.claim_size,
        )
    return claims


def _host_service(
    host: str, index: int, job_name: str, namespace: str, labels: dict[str, str], resource: str
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(host, namespace, labels, resource, {"dockyard.io/host": host}),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {JOB_NAME_LABEL: job_name, INDEX_LABEL: str(index)},
        },
    }


def _job(
    record: TrainingJobRecord,
    job_name: str,
    namespace: str,
    labels: dict[str, str],
    resource: str,
    claims: dict[str, Manifest],
    options: RenderOptions,
) -> Manifest:
    spec = record.spec
    count = spec.resource_config.instance_count
    pod_spec: dict[str, Any] = {
        "containers": [_container(record, options)],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": STOP_TIMEOUT_S,
        "volumes": [
            {"name": CONFIG_VOLUME, "configMap": {"name": dns_label(job_name, "config")}},
            *(
                {"name": volume, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
                for volume, c in claims.items()
            ),
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(job_name, namespace, labels, resource),
        "spec": {
            "completionMode": "Indexed",
            "completions": count,
            "parallelism": count,
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.max_runtime_s,
            "template": {"metadata": {"labels": dict(sorted(labels.items()))}, "spec": pod_spec},
        },
    }


def _container(record: TrainingJobRecord, options: RenderOptions) -> dict[str, Any]:
    spec = record.spec
    algorithm = spec.algorithm_specification
    image = algorithm.training_image
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": (options.images or {}).get(image, image),
    }
    if algorithm.container_entrypoint:
        container["command"] = list(algorithm.container_entrypoint)
    container["args"] = list(algorithm.container_arguments or ["train"])
    env = [
        {
            "name": INDEX_ENV,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_ANNOTATION}']"}},
        },
        {"name": "TRAINING_JOB_NAME", "value": spec.training_job_name},
        *({"name": k, "value": v} for k, v in sorted(spec.environment.items())),
    ]
    container["env"] = env
    limits = spec.host_limits()
    size: dict[str, str] = {}
    if limits.cpus:
        size["cpu"] = f"{round(limits.cpus * 1000)}m"
    if limits.memory_mib:
        size["memory"] = f"{limits.memory_mib}Mi"
    if size:
        container["resources"] = {"limits": dict(size), "requests": dict(size)}
    container["volumeMounts"] = _mounts(record)
    return container


def _mounts(record: TrainingJobRecord) -> list[dict[str, Any]]:
    spec = record.spec
    host_dir = f"host-$({INDEX_ENV})"
    mounts: list[dict[str, Any]] = [
        {
            "name": CONFIG_VOLUME,
            "mountPath": f"{CONFIG_DIR}/{name}",
            "subPath": name,
            "readOnly": True,
        }
        for name in (HYPERPARAMETERS_FILE, INPUT_DATA_CONFIG_FILE)
    ]
    mounts.append(
        {
            "name": CONFIG_VOLUME,
            "mountPath": f"{CONFIG_DIR}/{RESOURCE_CONFIG_FILE}",
            "subPathExpr": f"resourceconfig-$({INDEX_ENV}).json",
            "readOnly": True,
        }
    )
    for channel in spec.input_data_config:
        mounts.append(
            {
                "name": dns_label("channel", channel.channel_name),
                "mountPath": f"{ML}/input/data/{channel.channel_name}",
                "readOnly": True,
            }
        )
    for directory in ("model", "output"):
        mounts.append(
            {
                "name": OUTPUT_VOLUME,
                "mountPath": f"{ML}/{directory}",
                "subPathExpr": f"{host_dir}/{directory}",
            }
        )
    checkpoints = spec.checkpoint_config.local_path if spec.checkpoint_config else None
    mounts.append(
        {
            "name": OUTPUT_VOLUME,
            "mountPath": checkpoints or f"{ML}/checkpoints",
            "subPathExpr": f"{host_dir}/checkpoints",
        }
    )
    if record.script.code_source is not None:
        mounts.append({"name": CODE_VOLUME, "mountPath": CODE_DIR, "readOnly": True})
    return mounts
