"""An endpoint is one service per production variant; its status follows their progress."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from control_builders import lb, make_task

from dockyard.control.endpoint import (
    DeployStatus,
    EndpointStatus,
    FinishDelete,
    RollBack,
    ScaleToZero,
    VariantProgress,
    VariantReplicas,
    endpoint_status,
    plan_endpoint,
    replica_label,
    status_after_deploy,
    variant_progress,
    variant_services,
)
from dockyard.control.service import plan_service
from dockyard.control.service_actions import RegisterTarget, StartTask
from dockyard.control.task import HealthStatus, TaskStatus
from dockyard.errors import SpecError
from dockyard.spec.endpoint import (
    Model,
    parse_endpoint,
    parse_endpoint_config,
    parse_model,
)

pytestmark = pytest.mark.unit

CREATING, IN_SERVICE, FAILED = (
    EndpointStatus.CREATING,
    EndpointStatus.IN_SERVICE,
    EndpointStatus.FAILED,
)


def model(name: str = "iris", **container: Any) -> Model:
    primary = {"Image": "dockyard/sklearn:1.5", "ModelDataUrl": "s3://m/model.tar.gz"}
    primary.update(container)
    return parse_model({"ModelName": name, "PrimaryContainer": primary})


def config(*variants: dict[str, Any]) -> Any:
    return parse_endpoint_config(
        {
            "EndpointConfigName": "cfg",
            "ProductionVariants": list(variants)
            or [
                {"VariantName": "blue", "ModelName": "iris", "InitialInstanceCount": 2},
                {
                    "VariantName": "green",
                    "ModelName": "iris",
                    "InitialVariantWeight": 0.5,
                    "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                },
            ],
        }
    )


ENDPOINT = parse_endpoint({"EndpointName": "iris-ep", "EndpointConfigName": "cfg"})
DIRS = {"iris": "/var/lib/dockyard/models/iris"}


def test_one_service_per_variant_named_endpoint_dash_variant() -> None:
    blue, green = variant_services(ENDPOINT, config(), {"iris": model()}, DIRS)
    assert (blue.service_name, green.service_name) == ("iris-ep-blue", "iris-ep-green")
    assert (blue.desired_count, green.desired_count) == (2, 1)
    assert (blue.weight, green.weight) == (1.0, 0.5)
    assert (blue.startup_timeout_s, green.startup_timeout_s) == (240.0, 600.0)
    assert blue.target_group == green.target_group == "iris-ep"


def test_variant_task_definition_follows_the_inference_contract() -> None:
    (service, *_) = variant_services(
        ENDPOINT, config(), {"iris": model(Environment={"B": "2", "A": "1"})}, DIRS
    )
    task = service.task_definition
    assert task.family == "iris-ep-blue"
    container = task.container_definitions[0]
    assert container.image == "dockyard/sklearn:1.5"
    assert container.command == ("serve",)
    assert [m.container_port for m in container.port_mappings] == [8080]
    assert container.environment_map == {"A": "1", "B": "2"}
    assert container.stop_timeout == 30
    mount = container.mount_points[0]
    assert (mount.container_path, mount.read_only) == ("/opt/ml/model", True)
    volume = task.volumes[0]
    assert volume.name == mount.source_volume
    assert volume.host is not None and volume.host.source_path == DIRS["iris"]


def test_model_without_artifact_gets_no_model_mount() -> None:
    bare = parse_model({"ModelName": "iris", "PrimaryContainer": {"Image": "img"}})
    (service, *_) = variant_services(ENDPOINT, config(), {"iris": bare}, {})
    assert service.task_definition.volumes == ()
    assert service.task_definition.container_definitions[0].mount_points == ()


def test_missing_model_is_reported_at_the_variant() -> None:
    with pytest.raises(SpecError) as caught:
        variant_services(ENDPOINT, config(), {}, DIRS)
    assert caught.value.field == "ProductionVariants[0].ModelName"
    assert caught.value.message == 'Could not find model "iris".'
    assert caught.value.hint is not None and "CreateModel" in caught.value.hint


def test_a_multi_model_replica_mounts_its_prefix_and_is_told_it_serves_many() -> None:
    mme = model(Mode="MultiModel", ModelDataUrl="s3://m/models/", Environment={"A": "1"})
    (service, *_) = variant_services(ENDPOINT, config(), {"iris": mme}, DIRS)
    container = service.task_definition.container_definitions[0]
    assert container.environment_map == {
        "A": "1",
        "SAGEMAKER_MULTI_MODEL": "true",
        "DOCKYARD_MODEL_PREFIX_DIR": "/opt/ml/model-prefix",
    }
    mount = container.mount_points[0]
    assert (mount.container_path, mount.read_only) == ("/opt/ml/model-prefix", True)
    volume = service.task_definition.volumes[0]
    assert volume.host is not None and volume.host.source_path == DIRS["iris"]
    assert service.multi_model


def test_model_caching_disabled_reaches_the_replicas() -> None:
    mme = model(
        Mode="MultiModel",
        ModelDataUrl="s3://m/models/",
        MultiModelConfig={"ModelCacheSetting": "Disabled"},
    )
    (service, *_) = variant_services(ENDPOINT, config(), {"iris": mme}, DIRS)
    container = service.task_definition.container_definitions[0]
    assert container.environment_map["DOCKYARD_MODEL_CACHING"] == "Disabled"


def test_a_multi_model_container_needs_its_prefix() -> None:
    bare = parse_model(
        {"ModelName": "iris", "PrimaryContainer": {"Image": "img", "Mode": "MultiModel"}}
    )
    with pytest.raises(SpecError, match="ModelDataUrl") as raised:
        variant_services(ENDPOINT, config(), {"iris": bare}, {})
    assert raised.value.field == "PrimaryContainer.ModelDataUrl"


def test_a_model_artifact_needs_its_extracted_directory() -> None:
    with pytest.raises(KeyError, match="iris"):
        variant_services(ENDPOINT, config(), {"iris": model()}, {})


def test_endpoint_and_config_must_match() -> None:
    other = parse_endpoint({"EndpointName": "e", "EndpointConfigName": "other"})
    with pytest.raises(ValueError, match="other"):
        variant_services(other, config(), {"iris": model()}, DIRS)


def test_variant_service_state_waits_out_the_startup_window() -> None:
    (service, *_) = variant_services(ENDPOINT, config(), {"iris": model()}, DIRS)
    state = service.service_state("iris-ep-blue:1")
    assert (state.name, state.revision, state.desired_count) == (
        "iris-ep-blue",
        "iris-ep-blue:1",
        2,
    )
    assert state.health_check_grace_period_s == state.startup_timeout_s == 240.0
    assert state.target_group == "iris-ep"


def test_the_endpoint_is_a_service_underneath() -> None:
    (service, *_) = variant_services(ENDPOINT, config(), {"iris": model()}, DIRS)
    state = service.service_state("iris-ep-blue:1")
    assert plan_service(state, [], {}, 0.0).actions == (StartTask("iris-ep-blue:1"),) * 2
    replicas = [make_task(f"r{i}", "iris-ep-blue:1", status=TaskStatus.RUNNING) for i in (1, 2)]
    ping = {"r1": lb(HealthStatus.HEALTHY), "r2": lb(HealthStatus.UNKNOWN)}
    plan = plan_service(state, replicas, ping, 5.0)
    assert plan.actions == (RegisterTarget("r1", "iris-ep"),)
    registered = {"r1": lb(HealthStatus.HEALTHY, registered=True), "r2": ping["r2"]}
    progress = variant_progress(
        replicas_of(service.desired_count, [(t, registered[t.task_id]) for t in replicas])
    )
    assert progress == VariantProgress(
        "blue", desired=2, ready=1, ever_ready=True, startup_timeout_s=240.0
    )


def replicas_of(desired: int, replicas: list[Any], revision: str = "iris-ep-blue:1") -> Any:
    return VariantReplicas("blue", desired, 240.0, revision, tuple(replicas))


def test_variant_progress_remembers_a_replica_that_passed_once() -> None:
    task = make_task("r1", "iris-ep-blue:1", status=TaskStatus.RUNNING)
    once = replicas_of(2, [(task, lb(HealthStatus.UNKNOWN, first=3.0))])
    never = replicas_of(2, [(task, lb(HealthStatus.UNKNOWN))])
    assert variant_progress(once).ever_ready
    assert not variant_progress(never).ever_ready


def test_only_replicas_of_the_revision_being_deployed_count_as_ready() -> None:
    old = make_task("old", "iris-ep-blue:1", status=TaskStatus.RUNNING)
    new = make_task("new", "iris-ep-blue:2", status=TaskStatus.RUNNING)
    serving = lb(HealthStatus.HEALTHY, registered=True)
    variant = replicas_of(1, [(old, serving), (new, lb(HealthStatus.UNKNOWN))], "iris-ep-blue:2")
    assert variant_progress(variant).ready == 0


def test_a_replica_counts_as_ready_only_while_it_takes_traffic() -> None:
    task = make_task("r1", "iris-ep-blue:1", status=TaskStatus.RUNNING)
    healthy_not_registered = replicas_of(1, [(task, lb(HealthStatus.HEALTHY))])
    assert variant_progress(healthy_not_registered).ready == 0


def test_a_failed_endpoint_is_scaled_to_zero_once() -> None:
    variant = replicas_of(1, [])
    plan = plan_endpoint(CREATING, [variant], 0.0, 240.0, services_at_zero=False)
    assert plan.update.status is FAILED
    assert plan.actions == (ScaleToZero(),)
    again = plan_endpoint(FAILED, [variant], 0.0, 300.0, services_at_zero=True)
    assert again.actions == ()


def test_deleting_scales_to_zero_then_finishes_once_no_replica_is_left() -> None:
    task = make_task("r1", "iris-ep-blue:1", status=TaskStatus.RUNNING)
    running = replicas_of(1, [(task, lb(registered=True))])
    deleting = EndpointStatus.DELETING
    first = plan_endpoint(deleting, [running], 0.0, 1.0, services_at_zero=False)
    assert first.actions == (ScaleToZero(),)
    assert plan_endpoint(deleting, [running], 0.0, 2.0, services_at_zero=True).actions == ()
    empty = replicas_of(1, [])
    done = plan_endpoint(deleting, [empty], 0.0, 3.0, services_at_zero=True)
    assert done.actions == (FinishDelete(),)


@pytest.mark.parametrize(
    ("status", "health", "label"),
    [
        (TaskStatus.RUNNING, lb(registered=True), "healthy"),
        (TaskStatus.RUNNING, lb(HealthStatus.UNKNOWN), "starting"),
        (TaskStatus.RUNNING, lb(HealthStatus.UNHEALTHY), "unhealthy"),
        (TaskStatus.STOPPED, lb(HealthStatus.UNHEALTHY), "stopped"),
        (TaskStatus.PENDING, lb(HealthStatus.UNKNOWN), "starting"),
    ],
)
def test_replica_label_says_what_a_person_asks_first(
    status: TaskStatus, health: Any, label: str
) -> None:
    assert replica_label(make_task("r", "f:1", status=status), health) == label


def test_a_draining_replica_is_labelled_draining() -> None:
    task = make_task("r", "f:1", status=TaskStatus.RUNNING)
    health = replace(lb(), draining=True, in_flight=1)
    assert replica_label(task, health) == "draining"


def progress(ready: int, *, desired: int = 2, ever: bool | None = None) -> VariantProgress:
    return VariantProgress("blue", desired, ready, ready > 0 if ever is None else ever, 240.0)


@pytest.mark.parametrize(
    ("current", "variants", "now", "status"),
    [
        (CREATING, [progress(2)], 10.0, IN_SERVICE),
        (CREATING, [progress(2), progress(0)], 10.0, CREATING),
        (CREATING, [progress(1)], 10.0, CREATING),
        (CREATING, [progress(0)], 239.0, CREATING),
        (CREATING, [progress(0)], 240.0, FAILED),
        (CREATING, [progress(1)], 500.0, CREATING),
        (CREATING, [progress(0, ever=True)], 500.0, CREATING),
        (EndpointStatus.UPDATING, [progress(2)], 10.0, IN_SERVICE),
        (IN_SERVICE, [progress(0)], 1e6, IN_SERVICE),
        (FAILED, [progress(2)], 10.0, FAILED),
    ],
)
def test_endpoint_status(
    current: EndpointStatus, variants: list[VariantProgress], now: float, status: EndpointStatus
) -> None:
    assert endpoint_status(current, variants, since=0.0, now=now).status is status


def test_failed_endpoint_names_the_variant() -> None:
    update = endpoint_status(
        CREATING, [progress(2), VariantProgress("green", 1, 0, False, 60.0)], since=0.0, now=60.0
    )
    assert update.status is FAILED
    assert update.failure_reason == (
        "The primary container for production variant green did not pass the ping health "
        "check within 60 seconds. Check the logs of this endpoint's replicas."
    )


def test_creating_endpoint_says_when_to_look_again() -> None:
    update = endpoint_status(CREATING, [progress(0), progress(1)], since=100.0, now=110.0)
    assert update.next_check_at == 340.0
    assert endpoint_status(CREATING, [progress(1)], since=0.0, now=1.0).next_check_at is None


def test_a_new_endpoint_is_creating_and_a_rolling_deploy_updating_from_now() -> None:
    assert status_after_deploy(None, changed=True, now=5.0) == DeployStatus(CREATING, 5.0)
    serving = DeployStatus(IN_SERVICE, 1.0)
    assert status_after_deploy(serving, changed=True, now=9.0) == DeployStatus(
        EndpointStatus.UPDATING, 9.0
    )


def test_a_deploy_that_changes_nothing_keeps_the_status() -> None:
    failed = DeployStatus(FAILED, 1.0, "did not pass the ping health check")
    assert status_after_deploy(failed, changed=False, now=9.0) == failed


def test_a_failed_update_rolls_back_when_a_configuration_served_before() -> None:
    never = replicas_of(1, [], "iris-ep-blue:2")
    updating = EndpointStatus.UPDATING
    plan = plan_endpoint(updating, [never], 0.0, 240.0, services_at_zero=False, can_roll_back=True)
    assert plan.update.status is EndpointStatus.ROLLING_BACK
    assert plan.actions == (RollBack(),)
    assert "did not pass the ping health check" in (plan.update.failure_reason or "")


def test_a_rollback_that_serves_again_is_in_service_keeping_the_reason() -> None:
    task = make_task("old", "iris-ep-blue:1", status=TaskStatus.RUNNING)
    serving = replicas_of(1, [(task, lb(registered=True))])
    plan = plan_endpoint(
        EndpointStatus.ROLLING_BACK,
        [serving],
        0.0,
        1.0,
        services_at_zero=False,
        failure_reason="the update failed",
    )
    assert plan.update.status is IN_SERVICE
    assert plan.update.failure_reason == "the update failed"


def test_a_rollback_that_never_serves_is_update_rollback_failed() -> None:
    never = replicas_of(1, [])
    plan = plan_endpoint(EndpointStatus.ROLLING_BACK, [never], 0.0, 240.0, services_at_zero=False)
    assert plan.update.status is EndpointStatus.UPDATE_ROLLBACK_FAILED
    assert plan.actions == ()


def pipeline(mode: str | None = None, **first: Any) -> Any:
    doc: dict[str, Any] = {
        "ModelName": "iris",
        "Containers": [
            {"ContainerHostname": "pre", "Image": "a", **first},
            {"ContainerHostname": "model", "Image": "b", "ModelDataUrl": "s3://b/m.tar.gz"},
        ],
    }
    if mode:
        doc["InferenceExecutionConfig"] = {"Mode": mode}
    return parse_model(doc)


def test_a_pipeline_replica_is_one_awsvpc_task_with_each_container_on_its_own_port() -> None:
    dirs = {"iris/1": "/models/b"}
    service = variant_services(ENDPOINT, config(), {"iris": pipeline()}, dirs, None, "router:1")[0]
    definition = service.task_definition
    assert definition.effective_network_mode == "awsvpc"
    names = [c.name for c in definition.container_definitions]
    assert names == ["pre", "model", "dockyard-router"]
    env = {
        c.name: {e.name: e.value for e in c.environment} for c in definition.container_definitions
    }
    assert env["pre"]["SAGEMAKER_BIND_TO_PORT"] == "8081"
    assert env["model"]["SAGEMAKER_BIND_TO_PORT"] == "8082"
    assert env["pre"]["SAGEMAKER_SAFE_PORT_RANGE"] == "9000-9099"
    assert env["dockyard-router"]["DOCKYARD_PIPELINE_MODE"] == "Serial"
    assert service.target_container == "dockyard-router"
    model_container = definition.container_definitions[1]
    assert [m.container_path for m in model_container.mount_points] == ["/opt/ml/model"]


def test_a_pipeline_of_one_container_is_refused_naming_the_variant() -> None:
    one = parse_model({"ModelName": "iris", "Containers": [{"Image": "a"}]})
    with pytest.raises(SpecError) as caught:
        variant_services(ENDPOINT, config(), {"iris": one}, DIRS, None, "router:1")
    assert caught.value.field == "ProductionVariants[0].ModelName"


def test_direct_mode_needs_every_hostname() -> None:
    with pytest.raises(SpecError) as caught:
        parse_model(
            {
                "ModelName": "iris",
                "Containers": [{"ContainerHostname": "a", "Image": "a"}, {"Image": "b"}],
                "InferenceExecutionConfig": {"Mode": "Direct"},
            }
        )
    assert caught.value.field == "Containers[1].ContainerHostname"


def test_container_hostnames_must_differ_and_avoid_the_router_s_name() -> None:
    for hostnames in (["a", "a"], ["a", "dockyard-router"]):
        with pytest.raises(SpecError) as caught:
            parse_model(
                {
                    "ModelName": "iris",
                    "Containers": [{"ContainerHostname": h, "Image": "i"} for h in hostnames],
                }
            )
        assert caught.value.field == "Containers[1].ContainerHostname"


def test_an_unknown_execution_mode_is_refused_naming_the_enum() -> None:
    with pytest.raises(SpecError) as caught:
        pipeline("Parallel")
    assert caught.value.field == "InferenceExecutionConfig.Mode"
