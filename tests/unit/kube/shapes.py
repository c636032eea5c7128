"""Dockyard records of every shape the Kubernetes renderer knows, built as the server
builds them (validated specs, control's values), for the renderer's tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockyard.control.autoscaling import (
    MetricType,
    StepAdjustment,
    StepAlarm,
    StepScaling,
    TargetTracking,
)
from dockyard.control.endpoint import EndpointStatus, VariantService, variant_services
from dockyard.control.pipeline import model_dir_key
from dockyard.control.service import service_state
from dockyard.control.task_state import new_task
from dockyard.control.training_status import new_training_job
from dockyard.kube.autoscaling import Scaling
from dockyard.kube.workloads import Variant
from dockyard.records.autoscaling import ScalableTargetRecord, ScalingPolicyRecord
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.records.placement import Placement
from dockyard.records.service import EcsService, ServiceRecord
from dockyard.records.task import TaskRecord
from dockyard.records.training import ScriptMode, TrainingJobRecord
from dockyard.spec.endpoint import (
    EndpointConfig,
    Model,
    parse_endpoint,
    parse_endpoint_config,
    parse_model,
)
from dockyard.spec.service import parse_service
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition
from dockyard.spec.training_job import parse_training_job

NOW = 1_700_000_000.0
MODEL_IMAGE = "registry.example.com/iris:1"
PINNED = "sha256:" + "ab" * 32


def sidecar_task_definition() -> TaskDefinition:
    """An ECS task with a sidecar, an init step, secrets, a role, volumes and checks."""
    return parse_task_definition(
        {
            "family": "Web_App",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["EC2"],
            "cpu": "1024",
            "memory": "2048",
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-reader",
            "volumes": [
                {"name": "scratch"},
                {"name": "static", "host": {"sourcePath": "/srv/static"}},
                {
                    "name": "shared-cache",
                    "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True},
                },
            ],
            "containerDefinitions": [
                {
                    "name": "migrate",
                    "image": "registry.example.com/web:2",
                    "essential": False,
                    "command": ["python", "-m", "web.migrate"],
                    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "prod/db-password"}],
                },
                {
                    "name": "envoy",
                    "image": "registry.example.com/envoy:1.30",
                    "essential": True,
                    "cpu": 256,
                    "memoryReservation": 128,
                    "portMappings": [{"containerPort": 9901}],
                    "healthCheck": {
                        "command": ["CMD-SHELL", "curl -fs http://localhost:9901/ready"],
                        "interval": 10,
                        "retries": 3,
                        "startPeriod": 5,
                    },
                    "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}},
                },
                {
                    "name": "app",
                    "image": "registry.example.com/web:2",
                    "cpu": 768,
                    "memory": 1536,
                    "memoryReservation": 1024,
                    "entryPoint": ["gunicorn"],
                    "command": ["web:app", "-b", "0.0.0.0:8080"],
                    "workingDirectory": "/srv",
                    "user": "1000:1000",
                    "readonlyRootFilesystem": True,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                    "environment": [{"name": "MODE", "value": "prod"}],
                    "secrets": [
                        {"name": "DB_PASSWORD", "valueFrom": "prod/db-password"},
                        {
                            "name": "API_KEY",
                            "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:"
                            "secret:api-keys-AbCdEf:primary::",
                        },
                    ],
                    "dependsOn": [
                        {"containerName": "migrate", "condition": "SUCCESS"},
                        {"containerName": "envoy", "condition": "HEALTHY"},
                    ],
                    "mountPoints": [
                        {"sourceVolume": "scratch", "containerPath": "/tmp/work"},
                        {
                            "sourceVolume": "static",
                            "containerPath": "/srv/static",
                            "readOnly": True,
                        },
                        {"sourceVolume": "shared-cache", "containerPath": "/cache"},
                    ],
                    "linuxParameters": {
                        "tmpfs": [{"containerPath": "/run", "size": 64}],
                        "sharedMemorySize": 256,
                    },
                    "healthCheck": {"command": ["CMD", "/bin/health"], "timeout": 3},
                    "stopTimeout": 45,
                    "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192}],
                },
                {
                    "name": "log-router",
                    "image": "registry.example.com/fluent-bit:3",
                    "essential": False,
                    "volumesFrom": [{"sourceContainer": "app", "readOnly": True}],
                },
            ],
        }
    )


def ecs_service(definition: TaskDefinition, desired: int = 3) -> ServiceRecord:
    spec = parse_service(
        {
            "serviceName": "Web_App",
            "taskDefinition": "Web_App:4",
            "desiredCount": desired,
            "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150},
            "loadBalancers": [
                {"targetGroupArn": "web", "containerName": "app", "containerPort": 8080}
            ],
        }
    )
    return ServiceRecord(
        state=service_state(spec, "Web_App:4"),
        placement=Placement(name_prefix="Web_App"),
        ecs=EcsService(spec=spec, created_at=NOW),
    )


def scaling(service: str, *, step: bool = False) -> Scaling:
    policies = [
        ScalingPolicyRecord(
            service=service,
            policy_name="cpu70",
            created_at=NOW,
            target_tracking=TargetTracking(MetricType.CPU, 70.0, scale_in_cooldown_s=120),
        ),
        ScalingPolicyRecord(
            service=service,
            policy_name="requests",
            created_at=NOW,
            target_tracking=TargetTracking(MetricType.REQUESTS, 250.5),
        ),
    ]
    if step:
        policies.append(
            ScalingPolicyRecord(
                service=service,
                policy_name="burst",
                created_at=NOW,
                step=StepScaling(
                    StepAlarm(MetricType.MEMORY, 90.0), (StepAdjustment(2, lower=0.0),)
                ),
            )
        )
    target = ScalableTargetRecord(service=service, min_capacity=2, max_capacity=10, created_at=NOW)
    return Scaling(target, tuple(policies))


def _stored(
    name: str, config: EndpointConfig, model: Model, services: Sequence[VariantService]
) -> tuple[EndpointRecord, list[Variant]]:
    """The endpoint record the server stores for ``services``, and its variants."""
    variants = tuple(
        VariantRecord(s.variant_name, s.service_name, s.desired_count, s.startup_timeout_s)
        for s in services
    )
    record = EndpointRecord(
        name=name,
        config=config,
        model=model,
        image_id=PINNED,
        variants=variants,
        status=EndpointStatus.IN_SERVICE,
        status_since=NOW,
        created_at=NOW,
        last_modified_at=NOW,
    )
    return record, [Variant(v, s.task_definition) for v, s in zip(variants, services, strict=True)]


def endpoint(*, model_data: bool = True) -> tuple[EndpointRecord, list[Variant]]:
    """An endpoint with two variants as the server stores it (images pinned by id)."""
    container: dict[str, Any] = {"Image": PINNED, "Environment": {"SAGEMAKER_PROGRAM": "x.py"}}
    if model_data:
        container["ModelDataUrl"] = "s3://models/iris/model.tar.gz"
    model = parse_model({"ModelName": "iris-model", "PrimaryContainer": container})
    config = parse_endpoint_config(
        {
            "EndpointConfigName": "iris-config",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "iris-model",
                    "InitialInstanceCount": 2,
                    "InitialVariantWeight": 0.8,
                },
                {
                    "VariantName": "Canary",
                    "ModelName": "iris-model",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 0.2,
                    "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                },
            ],
        }
    )
    spec = parse_endpoint({"EndpointName": "iris", "EndpointConfigName": "iris-config"})
    dirs = {"iris-model": "/var/lib/dockyard/models/abc"} if model_data else {}
    services = variant_services(spec, config, {"iris-model": model}, dirs)
    return _stored("iris", config, model, services)


ROUTER_IMAGE = "registry.example.com/dockyard-router:1"


def one_variant_endpoint(name: str, model: dict[str, Any]) -> tuple[EndpointRecord, list[Variant]]:
    """An endpoint of one variant serving ``model`` (a CreateModel request), its model
    folders and its router as the server would give them."""
    parsed = parse_model(model)
    config = parse_endpoint_config(
        {
            "EndpointConfigName": f"{name}-config",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": parsed.model_name,
                    "InitialInstanceCount": 2,
                }
            ],
        }
    )
    spec = parse_endpoint({"EndpointName": name, "EndpointConfigName": f"{name}-config"})
    dirs = {parsed.model_name: f"/var/lib/dockyard/models/{name}"}
    dirs |= {
        model_dir_key(parsed.model_name, i): f"/var/lib/dockyard/models/{name}-{i}"
        for i in range(len(parsed.containers))
    }
    services = variant_services(
        spec, config, {parsed.model_name: parsed}, dirs, router_image=ROUTER_IMAGE
    )
    return _stored(name, config, parsed, services)


def pipeline_endpoint() -> tuple[EndpointRecord, list[Variant]]:
    """A serial inference pipeline: two containers with their own models, and the router."""
    return one_variant_endpoint(
        "pipe",
        {
            "ModelName": "pipe-model",
            "Containers": [
                {"Image": PINNED, "ModelDataUrl": "s3://models/pipe/preprocess.tar.gz"},
                {"Image": PINNED, "ModelDataUrl": "s3://models/pipe/model.tar.gz"},
            ],
        },
    )


def multi_model_endpoint() -> tuple[EndpointRecord, list[Variant]]:
    """A multi-model endpoint: one container loading models from a prefix."""
    return one_variant_endpoint(
        "mme",
        {
            "ModelName": "mme-model",
            "PrimaryContainer": {
                "Image": PINNED,
                "Mode": "MultiModel",
                "ModelDataUrl": "s3://models/many/",
            },
        },
    )


def training_job(hosts: int, *, code_dir: Path | None = None) -> TrainingJobRecord:
    spec = parse_training_job(
        {
            "TrainingJobName": "iris-train",
            "AlgorithmSpecification": {
                "TrainingImage": "registry.example.com/sklearn:1",
                "TrainingInputMode": "File",
            },
            "HyperParameters": {"epochs": "2"},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/iris/train"}
                    },
                },
                {
                    "ChannelName": "validation",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://data/iris/validation",
                            "S3DataDistributionType": "ShardedByS3Key",
                        }
                    },
                },
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://models/training"},
            "ResourceConfig": {
                "InstanceCount": hosts,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "Environment": {"LOG_LEVEL": "info"},
            "CheckpointConfig": {"S3Uri": "s3://models/checkpoints"},
        }
    )
    script = ScriptMode(
        user_hyperparameters={"epochs": "2"},
        program="train.py" if code_dir else None,
        container_submit_dir="/opt/ml/code" if code_dir else None,
        code_source=code_dir,
    )
    return TrainingJobRecord(spec=spec, state=new_training_job(NOW), script=script)


def standalone_task() -> TaskRecord:
    definition = parse_task_definition(
        {
            "family": "batch-report",
            "containerDefinitions": [
                {
                    "name": "report",
                    "image": "registry.example.com/report:5",
                    "command": ["python", "report.py"],
                    "environment": [{"name": "DAY", "value": "2024-01-01"}],
                    "memory": 512,
                },
                {
                    "name": "metrics-agent",
                    "image": "registry.example.com/agent:1",
                    "essential": False,
                    "portMappings": [{"containerPort": 9100}],
                },
            ],
        }
    )
    task = new_task("0f1e2d3c4b5a69788796a5b4c3d2e1f0", definition, "batch-report:1", NOW)
    return TaskRecord(
        task=task,
        owner="run-task",
        definition=definition,
        placement=Placement(name_prefix="batch-report"),
    )
