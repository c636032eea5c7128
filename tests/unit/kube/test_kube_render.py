"""Every manifest the Kubernetes renderer produces, for every shape, against the real
schemas (``kubernetes-validate``, strict: an unknown field is an error), and the
mapping's behaviours one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import shapes
import yaml

from dockyard.kube import KUBERNETES_VERSION
from dockyard.kube.bundle import ordered, to_yaml
from dockyard.kube.names import RESOURCE_ANNOTATION, dns_label, label_value
from dockyard.kube.training import render_training_job
from dockyard.kube.workloads import RenderOptions, render_endpoint, render_service, render_task

pytestmark = pytest.mark.unit

OPTIONS = RenderOptions(namespace="ml", images={shapes.PINNED: shapes.MODEL_IMAGE})


def service_bundle(**kwargs: Any) -> list[dict[str, Any]]:
    definition = shapes.sidecar_task_definition()
    return ordered(render_service(shapes.ecs_service(definition), definition, OPTIONS, **kwargs))


def endpoint_bundle(*, scaled: bool = False, model_data: bool = True) -> list[dict[str, Any]]:
    record, variants = shapes.endpoint(model_data=model_data)
    if scaled:
        first = variants[0]
        variants[0] = type(first)(first.record, first.definition, shapes.scaling("iris-AllTraffic"))
    return ordered(render_endpoint(record, variants, OPTIONS))


SHAPES = {
    "endpoint": endpoint_bundle,
    "endpoint-autoscaled": lambda: endpoint_bundle(scaled=True),
    "endpoint-without-model-data": lambda: endpoint_bundle(model_data=False),
    "endpoint-pipeline": lambda: ordered(render_endpoint(*shapes.pipeline_endpoint(), OPTIONS)),
    "endpoint-multi-model": lambda: ordered(
        render_endpoint(*shapes.multi_model_endpoint(), OPTIONS)
    ),
    "training-single-host": lambda: ordered(render_training_job(shapes.training_job(1), OPTIONS)),
    "training-multi-host": lambda: ordered(
        render_training_job(shapes.training_job(3, code_dir=Path("/src/code")), OPTIONS)
    ),
    "ecs-service-sidecars": service_bundle,
    "ecs-service-autoscaled": lambda: service_bundle(scaling=shapes.scaling("Web_App", step=True)),
    "ecs-service-with-secret-values": lambda: ordered(
        render_service(
            shapes.ecs_service(shapes.sidecar_task_definition()),
            shapes.sidecar_task_definition(),
            RenderOptions(
                namespace="ml",
                secret_values={"prod/db-password": "s3cret", "api-keys-AbCdEf": '{"primary": "k"}'},
            ),
        )
    ),
    "standalone-task": lambda: ordered(render_task(shapes.standalone_task(), OPTIONS)),
}


def kinds(bundle: list[dict[str, Any]]) -> list[str]:
    return [m["kind"] for m in bundle]


def one(bundle: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [m for m in bundle if m["kind"] == kind]
    return found


@pytest.mark.parametrize(
    "version", [KUBERNETES_VERSION, kubernetes_validate.utils.latest_version()]
)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_manifest_validates_against_the_real_schema(shape: str, version: str) -> None:
    bundle = SHAPES[shape]()
    assert bundle
    # what is validated is what is exported: the YAML text, read back
    for manifest in yaml.safe_load_all(to_yaml(bundle)):
        if manifest is None:
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_rejects_a_field_the_schema_lacks() -> None:
    deployment = one(service_bundle(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["essential"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_object_names_the_record_it_renders() -> None:
    for shape, render in SHAPES.items():
        for manifest in render():
            assert manifest["metadata"]["annotations"][RESOURCE_ANNOTATION].split("/")[0] in (
                "endpoint",
                "service",
                "training-job",
                "task",
            ), shape


def test_rendering_is_deterministic() -> None:
    for render in SHAPES.values():
        assert to_yaml(render()) == to_yaml(render())


# -- endpoints ------------------------------------------------------------------------------


def test_endpoint_is_a_deployment_per_variant_behind_one_service() -> None:
    bundle = endpoint_bundle()
    deployments = [m for m in bundle if m["kind"] == "Deployment"]
    assert [d["spec"]["replicas"] for d in deployments] == [2, 1]
    service = one(bundle, "Service")
    assert service["spec"]["ports"][0]["port"] == 8080
    for deployment in deployments:
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()


def test_endpoint_replicas_are_ready_on_ping_within_the_startup_timeout() -> None:
    canary = [m for m in endpoint_bundle() if m["kind"] == "Deployment"][1]
    (container,) = canary["spec"]["template"]["spec"]["containers"]
    assert container["image"] == shapes.MODEL_IMAGE  # the pinned id rewritten
    assert container["args"] == ["serve"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600


def test_endpoint_model_comes_from_a_claim_annotated_with_its_model_data_url() -> None:
    bundle = endpoint_bundle()
    claims = [m for m in bundle if m["kind"] == "PersistentVolumeClaim"]
    assert {c["metadata"]["annotations"]["dockyard.io/source"] for c in claims} == {
        "s3://models/iris/model.tar.gz"
    }
    assert not [
        m for m in endpoint_bundle(model_data=False) if m["kind"] == "PersistentVolumeClaim"
    ]


def test_a_pipeline_is_one_pod_whose_containers_each_mount_their_model_from_a_claim() -> None:
    bundle = SHAPES["endpoint-pipeline"]()
    claims = [m for m in bundle if m["kind"] == "PersistentVolumeClaim"]
    sources = sorted(c["metadata"]["annotations"]["dockyard.io/source"] for c in claims)
    assert sources == ["s3://models/pipe/model.tar.gz", "s3://models/pipe/preprocess.tar.gz"]
    pod = one(bundle, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [
        "container-1",
        "container-2",
        "dockyard-router",
    ]
    assert all("hostPath" not in v for v in pod["volumes"])  # the machine's folders are not there
    claimed = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert claimed == {c["metadata"]["name"] for c in claims}
    router = pod["containers"][-1]
    assert router["image"] == shapes.ROUTER_IMAGE
    assert router["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert all("readinessProbe" not in c for c in pod["containers"][:-1])  # behind the router


def test_a_multi_model_endpoint_loads_from_the_prefix_s_claim() -> None:
    bundle = SHAPES["endpoint-multi-model"]()
    claim = one(bundle, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["dockyard.io/source"] == "s3://models/many/"
    (container,) = one(bundle, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SAGEMAKER_MULTI_MODEL"] == "true"
    mount = container["volumeMounts"][0]
    assert mount["mountPath"] == env["DOCKYARD_MODEL_PREFIX_DIR"]


def test_autoscaled_variant_gets_an_hpa_that_owns_its_replica_count() -> None:
    bundle = endpoint_bundle(scaled=True)
    hpa = one(bundle, "HorizontalPodAutoscaler")
    scaled = next(
        d for d in bundle if d["metadata"]["name"] == hpa["spec"]["scaleTargetRef"]["name"]
    )
    assert "replicas" not in scaled["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)


# -- ECS services ---------------------------------------------------------------------------


def pod_of(bundle: list[dict[str, Any]], kind: str = "Deployment") -> dict[str, Any]:
    spec: dict[str, Any] = one(bundle, kind)["spec"]["template"]["spec"]
    return spec


def test_task_containers_share_one_pod_in_dependency_order() -> None:
    pod = pod_of(service_bundle())
    init = [(c["name"], c.get("restartPolicy")) for c in pod["initContainers"]]
    # migrate must SUCCEED first (init); envoy must be HEALTHY (sidecar + startup probe)
    assert init == [("migrate", None), ("envoy", "Always")]
    assert "startupProbe" in pod["initContainers"][1]
    assert [c["name"] for c in pod["containers"]] == ["app", "log-router"]


def test_rolling_update_follows_the_deployment_configuration() -> None:
    deployment = one(service_bundle(), "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": "50%",
        "maxUnavailable": "50%",
    }


def test_sizes_become_requests_limits_and_pod_resources() -> None:
    pod = pod_of(service_bundle())
    app = pod["containers"][0]
    assert app["resources"] == {
        "limits": {"memory": "1536Mi"},
        "requests": {"cpu": "750m", "memory": "1024Mi"},
    }
    assert pod["resources"]["limits"] == {"cpu": "1000m", "memory": "2048Mi"}
    assert pod["terminationGracePeriodSeconds"] == 45


def test_health_check_becomes_exec_probes() -> None:
    pod = pod_of(service_bundle())
    envoy = pod["initContainers"][1]
    assert envoy["livenessProbe"]["exec"]["command"] == [
        "/bin/sh",
        "-c",
        "curl -fs http://localhost:9901/ready",
    ]
    assert envoy["livenessProbe"]["periodSeconds"] == 10
    assert pod["containers"][0]["readinessProbe"]["exec"]["command"] == ["/bin/health"]


def test_secrets_are_referenced_never_exported() -> None:
    bundle = service_bundle()
    secrets = [m for m in bundle if m["kind"] == "Secret"]
    assert len(secrets) == 2
    assert all("data" not in s and "stringData" not in s for s in secrets)
    env = {e["name"]: e for e in pod_of(bundle)["containers"][0]["env"]}
    assert env["API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "primary"
    assert env["MODE"] == {"name": "MODE", "value": "prod"}


def test_secret_values_fill_the_secrets_when_given() -> None:
    bundle = SHAPES["ecs-service-with-secret-values"]()
    data = {
        s["metadata"]["annotations"]["dockyard.io/source"]: s["stringData"]
        for s in bundle
        if s["kind"] == "Secret"
    }
    assert data["secret/prod/db-password"] == {"value": "s3cret"}
    assert data["secret/api-keys-AbCdEf"]["primary"] == "k"


def test_task_role_becomes_a_service_account_for_irsa() -> None:
    bundle = service_bundle()
    account = one(bundle, "ServiceAccount")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        "role/web-reader"
    )
    assert pod_of(bundle)["serviceAccountName"] == account["metadata"]["name"]


def test_volumes_map_to_empty_dir_host_path_and_claims() -> None:
    volumes = {v["name"]: v for v in pod_of(service_bundle())["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["static"]["hostPath"] == {"path": "/srv/static"}
    assert volumes["shared-cache"]["persistentVolumeClaim"] == {"claimName": "shared-cache"}
    log_router = pod_of(service_bundle())["containers"][1]
    assert all(m.get("readOnly") for m in log_router["volumeMounts"])  # volumesFrom, readOnly


def test_what_has_no_pod_equivalent_is_named_not_dropped() -> None:
    deployment = one(service_bundle(), "Deployment")
    assert "app: ulimits" in deployment["metadata"]["annotations"]["dockyard.io/not-rendered"]
    hpa = one(
        service_bundle(scaling=shapes.scaling("Web_App", step=True)), "HorizontalPodAutoscaler"
    )
    assert "burst" in hpa["metadata"]["annotations"]["dockyard.io/not-rendered"]


def test_target_tracking_policies_become_hpa_metrics() -> None:
    hpa = one(service_bundle(scaling=shapes.scaling("Web_App")), "HorizontalPodAutoscaler")
    metrics = hpa["spec"]["metrics"]
    assert metrics[0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }
    assert metrics[1]["pods"]["target"]["averageValue"] == "250500m"
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


# -- standalone tasks -----------------------------------------------------------------------


def test_standalone_task_is_a_job_whose_non_essential_containers_are_sidecars() -> None:
    bundle = ordered(render_task(shapes.standalone_task(), OPTIONS))
    job = one(bundle, "Job")
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["containers"]] == ["report"]
    assert pod["initContainers"][0]["restartPolicy"] == "Always"


# -- training jobs --------------------------------------------------------------------------


def test_training_job_is_an_indexed_job_with_a_headless_service_per_host() -> None:
    bundle = ordered(render_training_job(shapes.training_job(3), OPTIONS))
    job = one(bundle, "Job")
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 3
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    hosts = [m for m in bundle if m["kind"] == "Service"]
    assert [h["metadata"]["name"] for h in hosts] == ["algo-1", "algo-2", "algo-3"]
    assert all(h["spec"]["clusterIP"] == "None" for h in hosts)
    assert hosts[2]["spec"]["selector"]["batch.kubernetes.io/job-completion-index"] == "2"
    namespace = one(bundle, "Namespace")["metadata"]["name"]
    assert {m["metadata"].get("namespace") for m in bundle if m["kind"] != "Namespace"} == {
        namespace
    }


def test_training_config_files_are_the_contracts_own_per_host() -> None:
    bundle = ordered(render_training_job(shapes.training_job(2), OPTIONS))
    data = one(bundle, "ConfigMap")["data"]
    assert json.loads(data["hyperparameters.json"]) == {"epochs": "2"}
    assert json.loads(data["resourceconfig-1.json"])["current_host"] == "algo-2"
    assert json.loads(data["resourceconfig-0.json"])["hosts"] == ["algo-1", "algo-2"]
    channels = json.loads(data["inputdataconfig.json"])
    assert channels["validation"]["S3DistributionType"] == "ShardedByS3Key"
    mounts = {m["mountPath"]: m for m in pod_of(bundle, "Job")["containers"][0]["volumeMounts"]}
    config = mounts["/opt/ml/input/config/resourceconfig.json"]
    assert config["subPathExpr"] == "resourceconfig-$(DOCKYARD_HOST_INDEX).json"
    assert mounts["/opt/ml/input/data/train"]["readOnly"] is True
    assert mounts["/opt/ml/model"]["subPathExpr"] == "host-$(DOCKYARD_HOST_INDEX)/model"


# -- names ----------------------------------------------------------------------------------


def test_names_that_kubernetes_refuses_are_made_valid_without_colliding() -> None:
    assert dns_label("iris") == "iris"
    assert dns_label("Web_App") != dns_label("web-app")
    assert dns_label("Web_App").startswith("web-app-")
    assert len(dns_label("x" * 300)) == 63
    assert dns_label("9lives")[0].isalpha()
    assert label_value("ok_Name.1") == "ok_Name.1"
    assert len(label_value("a" * 100)) <= 63
