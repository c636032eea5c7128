"""ecs, ecr and application-autoscaling through the AWS front, on in-memory fakes.

Real boto3 clients (see :mod:`aws_client`) drive the front; the operations run on a
:class:`World` and must leave the same state Dockyard's own API reads: a service
created with boto3 is stepped to steady by the same reconcilers, its tasks are the
store's, a repository is the registry's record. Covers the ARNs in AWS's formats and
the caller's region, the ``failures`` that the waiters read, the error names each
model documents, and bad requests that change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_client import REGION, client
from botocore.exceptions import ClientError, WaiterError
from fastapi.testclient import TestClient

from dockyard.records.instance import ContainerInstanceRecord
from dockyard.server import ecs_services
from dockyard.server.app import create_app
from dockyard.server.aws.credentials import AccessKey
from dockyard.server.aws.front import AwsFront
from dockyard.server.instances import instance_id
from dockyard.server.registry import operations

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"
ARN = f"arn:aws:ecs:{REGION}:000000000000"
ONCE = {"Delay": 0, "MaxAttempts": 1}  # the world is stepped first: the waiter checks once


@pytest.fixture
def ecs(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "ecs", key)


@pytest.fixture
def loose_ecs(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "ecs", key, validate=False)


@pytest.fixture
def ecr(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "ecr", key)


@pytest.fixture
def aas(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "application-autoscaling", key)


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def register(ecs: Any, family: str = "web", **env: str) -> dict[str, Any]:
    described: dict[str, Any] = ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "app",
                "image": IMAGE,
                "memory": 128,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": k, "value": v} for k, v in env.items()],
            }
        ],
    )["taskDefinition"]
    return described


def create_service(ecs: Any, name: str = "web", count: int = 2) -> dict[str, Any]:
    created: dict[str, Any] = ecs.create_service(
        cluster="default",
        serviceName=name,
        taskDefinition="web",
        desiredCount=count,
        loadBalancers=[{"targetGroupArn": name, "containerName": "app", "containerPort": 8080}],
    )["service"]
    return created


def stable(world: World, ecs: Any, name: str = "web") -> dict[str, Any]:
    """Step until DescribeServices shows what ``services_stable`` waits for."""

    def done() -> bool:
        (service,) = ecs.describe_services(services=[name])["services"]
        return len(service["deployments"]) == 1 and (
            service["runningCount"] == service["desiredCount"]
        )

    world.settle(done, f"{name} stable")
    ecs.get_waiter("services_stable").wait(services=[name], WaiterConfig=ONCE)
    (service,) = ecs.describe_services(services=[name])["services"]
    return dict(service)


# -- ecs: task definitions ------------------------------------------------------------------


def test_task_definitions_register_describe_list_and_deregister_with_aws_arns(
    ecs: Any, world: World
) -> None:
    first = register(ecs)
    register(ecs, COLOR="blue")
    assert first["taskDefinitionArn"] == f"{ARN}:task-definition/web:1"
    assert (first["revision"], first["status"]) == (1, "ACTIVE")

    latest = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert latest["taskDefinitionArn"].endswith("task-definition/web:2")
    by_arn = ecs.describe_task_definition(taskDefinition=first["taskDefinitionArn"])
    assert by_arn["taskDefinition"]["revision"] == 1

    listed = ecs.list_task_definitions(familyPrefix="we", sort="DESC")["taskDefinitionArns"]
    assert listed == [f"{ARN}:task-definition/web:2", f"{ARN}:task-definition/web:1"]
    paged = ecs.list_task_definitions(maxResults=1)
    assert paged["taskDefinitionArns"] == [f"{ARN}:task-definition/web:1"]
    assert ecs.list_task_definitions(nextToken=paged["nextToken"])["taskDefinitionArns"] == [
        f"{ARN}:task-definition/web:2"
    ]

    gone = ecs.deregister_task_definition(taskDefinition="web:1")["taskDefinition"]
    assert gone["status"] == "INACTIVE"
    assert ecs.list_task_definitions()["taskDefinitionArns"] == [f"{ARN}:task-definition/web:2"]
    assert ecs.list_task_definition_families()["families"] == ["web"]
    # the same registry Dockyard's own API reads
    assert world.store.task_definitions.get("web:1").registered.status == "INACTIVE"


def test_a_missing_task_definition_is_a_client_exception(ecs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ecs.describe_task_definition(taskDefinition="nothing:3")
    assert error_of(raised) == ("ClientException", 400)
    assert "Unable to describe task definition" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("request_", "where"),
    [
        ({"family": "web"}, "containerDefinitions"),  # missing required member
        (
            {"family": "web", "networkMode": "sideways", "containerDefinitions": []},
            "sideways",
        ),  # wrong enum
        (
            {"family": "web", "containerDefinitions": [{"name": "a", "image": IMAGE, "cpu": "x"}]},
            "cpu",
        ),  # wrong type
    ],
    ids=["missing-required", "wrong-enum", "wrong-type"],
)
def test_bad_register_requests_are_invalid_parameter_and_store_nothing(
    loose_ecs: Any, world: World, request_: dict[str, Any], where: str
) -> None:
    with pytest.raises(ClientError) as raised:
        loose_ecs.register_task_definition(**request_)
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert where in raised.value.response["Error"]["Message"]
    assert world.store.task_definitions.list() == []


# -- ecs: services --------------------------------------------------------------------------


def test_a_service_created_with_boto3_is_stable_rolls_and_is_deleted(
    ecs: Any, world: World
) -> None:
    register(ecs)
    created = create_service(ecs)
    assert created["serviceArn"] == f"{ARN}:service/default/web"
    assert created["clusterArn"] == f"{ARN}:cluster/default"
    assert created["taskDefinition"] == f"{ARN}:task-definition/web:1"
    assert ecs.list_services(cluster="default")["serviceArns"] == [created["serviceArn"]]

    service = stable(world, ecs)
    assert service["runningCount"] == 2
    assert service["deployments"][0]["status"] == "PRIMARY"
    # Dockyard's own API sees the same service
    assert ecs_services.describe(world.platform, "web")["service"]["runningCount"] == 2

    register(ecs, COLOR="blue")
    updated = ecs.update_service(service=created["serviceArn"], taskDefinition="web:2")
    assert updated["service"]["taskDefinition"].endswith("task-definition/web:2")
    assert len(updated["service"]["deployments"]) == 2
    world.settle(
        lambda: {t.task.revision for t in world.store.tasks.list("service/web")} == {"web:2"},
        "the roll to web:2",
    )
    assert stable(world, ecs)["taskDefinition"].endswith("web:2")

    with pytest.raises(ClientError) as raised:
        ecs.delete_service(service="web")
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert "scaled above 0" in raised.value.response["Error"]["Message"]

    draining = ecs.delete_service(service="web", force=True)["service"]
    assert draining["status"] == "DRAINING"
    with pytest.raises(WaiterError):
        ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=ONCE)
    with pytest.raises(ClientError) as raised:
        ecs.update_service(service="web", desiredCount=1)
    assert error_of(raised) == ("ServiceNotActiveException", 400)
    world.settle(lambda: world.store.services.get("web") is None, "the service to go")
    missing = ecs.describe_services(services=["web"])
    assert missing["failures"] == [{"arn": f"{ARN}:service/default/web", "reason": "MISSING"}]


def test_service_errors_use_the_names_ecs_documents(ecs: Any, world: World) -> None:
    with pytest.raises(ClientError) as raised:
        ecs.update_service(service="ghost", desiredCount=1)
    assert error_of(raised) == ("ServiceNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        ecs.delete_service(service="ghost")
    assert error_of(raised) == ("ServiceNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        ecs.list_services(cluster="prod")
    assert error_of(raised) == ("ClusterNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        create_service(ecs)  # no task definition web
    assert error_of(raised) == ("InvalidParameterException", 400)
    register(ecs)
    create_service(ecs)
    with pytest.raises(ClientError) as raised:
        create_service(ecs)
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert "already exists" in raised.value.response["Error"]["Message"]
    assert [r.name for r in world.store.services.list()] == ["web"]


def test_a_bad_create_service_changes_nothing(loose_ecs: Any, world: World) -> None:
    register(loose_ecs)
    with pytest.raises(ClientError) as raised:
        loose_ecs.create_service(serviceName="web", taskDefinition="web", desiredCount="two")
    assert error_of(raised) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as raised:
        loose_ecs.create_service(
            serviceName="web", taskDefinition="web", desiredCount=1, launchType="MOON"
        )
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert world.store.services.list() == []
    assert world.engine.containers() == []


# -- ecs: tasks and the cluster ---------------------------------------------------------------


def test_run_task_waits_running_then_stop_task_waits_stopped(ecs: Any, world: World) -> None:
    register(ecs)
    (task,) = ecs.run_task(taskDefinition="web", startedBy="nightly")["tasks"]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    assert task["taskArn"] == f"{ARN}:task/default/{task_id}"
    assert task["lastStatus"] == "PROVISIONING"

    def running() -> bool:
        (seen,) = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
        return bool(seen["lastStatus"] == "RUNNING")

    world.settle(running, "the task to run")
    ecs.get_waiter("tasks_running").wait(tasks=[task["taskArn"]], WaiterConfig=ONCE)
    assert ecs.list_tasks(startedBy="nightly")["taskArns"] == [task["taskArn"]]
    assert ecs.list_tasks(family="other")["taskArns"] == []
    cluster = ecs.describe_clusters()["clusters"][0]
    assert (cluster["clusterName"], cluster["runningTasksCount"]) == ("default", 1)

    stopped = ecs.stop_task(task=task_id, reason="enough")["task"]
    assert stopped["desiredStatus"] == "STOPPED"

    def done() -> bool:
        (seen,) = ecs.describe_tasks(tasks=[task_id])["tasks"]
        return bool(seen["lastStatus"] == "STOPPED")

    world.settle(done, "the task to stop")
    ecs.get_waiter("tasks_stopped").wait(tasks=[task_id], WaiterConfig=ONCE)
    (seen,) = ecs.describe_tasks(tasks=[task_id])["tasks"]
    assert (seen["stopCode"], seen["stoppedReason"]) == ("UserInitiated", "enough")
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == [task["taskArn"]]
    with pytest.raises(WaiterError):
        ecs.get_waiter("tasks_running").wait(tasks=[task_id], WaiterConfig=ONCE)


def test_missing_tasks_and_clusters_are_failures_and_other_clusters_do_not_exist(
    ecs: Any,
) -> None:
    assert ecs.describe_tasks(tasks=["abc"])["failures"] == [
        {"arn": f"{ARN}:task/default/abc", "reason": "MISSING"}
    ]
    with pytest.raises(ClientError) as raised:
        ecs.stop_task(task="abc")
    assert error_of(raised) == ("InvalidParameterException", 400)
    clusters = ecs.describe_clusters(clusters=["default", "prod"])
    assert [c["clusterArn"] for c in clusters["clusters"]] == [f"{ARN}:cluster/default"]
    assert clusters["failures"][0]["reason"] == "MISSING"
    assert ecs.list_clusters()["clusterArns"] == [f"{ARN}:cluster/default"]
    assert ecs.create_cluster(clusterName="default")["cluster"]["status"] == "ACTIVE"
    with pytest.raises(ClientError) as raised:
        ecs.create_cluster(clusterName="prod")
    assert error_of(raised) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as raised:
        ecs.run_task(cluster="prod", taskDefinition="web")
    assert error_of(raised) == ("ClusterNotFoundException", 400)


def test_an_ecs_operation_not_implemented_answers_not_implemented_naming_it(ecs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ecs.register_container_instance()
    assert error_of(raised) == ("NotImplemented", 501)
    assert "RegisterContainerInstance" in raised.value.response["Error"]["Message"]


# -- ecs: container instances and placement ---------------------------------------------------

OTHER = "b" * 32


def test_container_instances_list_describe_drain_and_deregister(ecs: Any, world: World) -> None:
    world.store.container_instances.put(
        ContainerInstanceRecord(OTHER, "tcp://10.0.0.5:2375", 2048, 1024, 0.0)
    )
    local = instance_id(str(getattr(world.platform.engine, "base_url", "local")))
    arns = ecs.list_container_instances()["containerInstanceArns"]
    assert sorted(arns) == sorted(f"{ARN}:container-instance/default/{i}" for i in (local, OTHER))
    described = ecs.describe_container_instances(containerInstances=[OTHER, "nope"])
    (other,) = described["containerInstances"]
    assert (other["status"], other["ec2InstanceId"]) == ("ACTIVE", "tcp://10.0.0.5:2375")
    assert {r["name"]: r["integerValue"] for r in other["registeredResources"]} == {
        "CPU": 2048,
        "MEMORY": 1024,
    }
    assert described["failures"] == [
        {"arn": f"{ARN}:container-instance/default/nope", "reason": "MISSING"}
    ]

    drained = ecs.update_container_instances_state(
        containerInstances=[other["containerInstanceArn"]], status="DRAINING"
    )
    assert [i["status"] for i in drained["containerInstances"]] == ["DRAINING"]
    assert ecs.list_container_instances(status="DRAINING")["containerInstanceArns"] == [
        other["containerInstanceArn"]
    ]
    with pytest.raises(ClientError) as raised:
        ecs.update_container_instances_state(containerInstances=[OTHER], status="REGISTERING")
    assert error_of(raised) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as raised:
        ecs.list_container_instances(filter="attribute:ecs.instance-type == t2.micro")
    assert error_of(raised) == ("InvalidParameterException", 400)
    ecs.update_container_instances_state(containerInstances=[OTHER], status="ACTIVE")

    gone = ecs.deregister_container_instance(containerInstance=other["containerInstanceArn"])
    assert gone["containerInstance"]["status"] == "INACTIVE"
    assert ecs.list_container_instances()["containerInstanceArns"] == [
        f"{ARN}:container-instance/default/{local}"
    ]
    with pytest.raises(ClientError) as raised:
        ecs.deregister_container_instance(containerInstance="nope")
    assert error_of(raised) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as raised:
        ecs.describe_container_instances(cluster="prod", containerInstances=[OTHER])
    assert error_of(raised) == ("ClusterNotFoundException", 400)


def test_run_task_create_and_update_service_pass_placement_through(ecs: Any, world: World) -> None:
    world.store.container_instances.put(
        ContainerInstanceRecord(OTHER, "tcp://10.0.0.5:2375", 2048, 1024, 0.0)
    )
    register(ecs)
    binpack = [{"type": "binpack", "field": "memory"}]  # OTHER has the least memory left
    tasks = ecs.run_task(taskDefinition="web", count=2, launchType="EC2", placementStrategy=binpack)
    assert [t["containerInstanceArn"].rsplit("/", 1)[-1] for t in tasks["tasks"]] == [OTHER] * 2
    member = [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == nowhere"}]
    refused = ecs.run_task(taskDefinition="web", launchType="EC2", placementConstraints=member)
    assert refused["tasks"] == []
    assert refused["failures"][0]["reason"] == "MemberOf"

    created = ecs.create_service(
        serviceName="placed",
        taskDefinition="web",
        desiredCount=1,
        launchType="EC2",
        placementStrategy=binpack,
    )["service"]
    assert created["placementStrategy"] == binpack
    spread = [{"type": "spread", "field": "instanceId"}]
    updated = ecs.update_service(service="placed", placementStrategy=spread)["service"]
    assert (updated["placementStrategy"], len(updated["deployments"])) == (spread, 1)
    with pytest.raises(ClientError) as raised:
        ecs.update_service(service="placed", placementStrategy=[{"type": "pack"}])
    assert error_of(raised) == ("InvalidParameterException", 400)
    assert ecs.describe_services(services=["placed"])["services"][0]["placementStrategy"] == spread


# -- application-autoscaling ------------------------------------------------------------------


def test_a_target_and_a_target_tracking_policy_register_describe_and_go(
    ecs: Any, aas: Any, world: World
) -> None:
    register(ecs)
    create_service(ecs)
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/default/web",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    arn = aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)
    assert arn["ScalableTargetARN"].startswith(f"arn:aws:autoscaling:{REGION}:000000000000:")
    (described,) = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (described["MinCapacity"], described["MaxCapacity"]) == (1, 4)
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []

    policy = aas.put_scaling_policy(
        **target,
        PolicyName="cpu50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleInCooldown": 60,
        },
    )
    assert "policyName/cpu50" in policy["PolicyARN"]
    (seen,) = aas.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId="service/default/web"
    )["ScalingPolicies"]
    assert seen["PolicyType"] == "TargetTrackingScaling"
    assert seen["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50.0
    assert world.store.scaling_policies.list("web")[0].policy_name == "cpu50"

    aas.put_scheduled_action(
        **target,
        ScheduledActionName="morning",
        Schedule="cron(0 8 * * ? *)",
        ScalableTargetAction={"MinCapacity": 2},
    )
    actions = aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"]
    assert [a["ScheduledActionName"] for a in actions] == ["morning"]
    aas.delete_scheduled_action(**target, ScheduledActionName="morning")
    assert aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []

    aas.delete_scaling_policy(**target, PolicyName="cpu50")
    with pytest.raises(ClientError) as raised:
        aas.delete_scaling_policy(**target, PolicyName="cpu50")
    assert error_of(raised) == ("ObjectNotFoundException", 400)
    aas.deregister_scalable_target(**target)
    with pytest.raises(ClientError) as raised:
        aas.deregister_scalable_target(**target)
    assert error_of(raised) == ("ObjectNotFoundException", 400)
    assert world.store.scalable_targets.list() == []


def test_autoscaling_refusals_are_validation_or_object_not_found(aas: Any, world: World) -> None:
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/default/ghost",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    with pytest.raises(ClientError) as raised:
        aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    assert error_of(raised) == ("ValidationException", 400)
    with pytest.raises(ClientError) as raised:
        aas.register_scalable_target(
            **{**target, "ScalableDimension": "ecs:service:Sideways"}, MinCapacity=1
        )
    assert error_of(raised) == ("ValidationException", 400)
    assert "enum" in raised.value.response["Error"]["Message"]
    assert world.store.scalable_targets.list() == []


# -- ecr --------------------------------------------------------------------------------------


def test_repositories_and_images_are_the_registrys_records(ecr: Any, world: World) -> None:
    created = ecr.create_repository(repositoryName="models/iris", imageTagMutability="IMMUTABLE")[
        "repository"
    ]
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:000000000000:repository/models/iris"
    assert (created["registryId"], created["imageTagMutability"]) == ("000000000000", "IMMUTABLE")
    assert world.store.repositories.get("models/iris") is not None
    with pytest.raises(ClientError) as raised:
        ecr.create_repository(repositoryName="models/iris")
    assert error_of(raised) == ("RepositoryAlreadyExistsException", 400)

    digest = "sha256:" + "a" * 64
    operations.record_push(
        world.store,
        "models/iris",
        tag="v1",
        digest=digest,
        size=1234,
        media_type="application/vnd.oci.image.manifest.v1+json",
        now=world.clock(),
    )
    (detail,) = ecr.describe_images(repositoryName="models/iris")["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (digest, ["v1"])
    assert ecr.list_images(repositoryName="models/iris")["imageIds"] == [
        {"imageDigest": digest, "imageTag": "v1"}
    ]
    assert (
        ecr.list_images(repositoryName="models/iris", filter={"tagStatus": "UNTAGGED"})["imageIds"]
        == []
    )
    with pytest.raises(ClientError) as raised:
        ecr.describe_images(repositoryName="models/iris", imageIds=[{"imageTag": "v9"}])
    assert error_of(raised) == ("ImageNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        ecr.delete_repository(repositoryName="models/iris")
    assert error_of(raised) == ("RepositoryNotEmptyException", 400)


def test_lifecycle_policies_and_missing_repositories(ecr: Any, world: World) -> None:
    ecr.create_repository(repositoryName="models/iris")
    with pytest.raises(ClientError) as raised:
        ecr.get_lifecycle_policy(repositoryName="models/iris")
    assert error_of(raised) == ("LifecyclePolicyNotFoundException", 400)
    policy = (
        '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", '
        '"countType": "imageCountMoreThan", "countNumber": 3}, "action": {"type": "expire"}}]}'
    )
    ecr.put_lifecycle_policy(repositoryName="models/iris", lifecyclePolicyText=policy)
    assert ecr.get_lifecycle_policy(repositoryName="models/iris")["lifecyclePolicyText"] == policy
    with pytest.raises(ClientError) as raised:
        ecr.put_lifecycle_policy(
            repositoryName="models/iris", lifecyclePolicyText=policy.replace("expire", "melt")
        )
    assert error_of(raised) == ("InvalidParameterException", 400)
    ecr.delete_lifecycle_policy(repositoryName="models/iris")
    assert world.store.repositories.get("models/iris").lifecycle_policy is None

    with pytest.raises(ClientError) as raised:
        ecr.describe_repositories(repositoryNames=["ghost"])
    assert error_of(raised) == ("RepositoryNotFoundException", 400)
    with pytest.raises(ClientError) as raised:
        ecr.create_repository(repositoryName="Models/Iris")
    assert error_of(raised) == ("InvalidParameterException", 400)
    ecr.delete_repository(repositoryName="models/iris")
    assert ecr.describe_repositories()["repositories"] == []


def test_dockyards_api_and_the_ecr_front_share_one_registry_state(ecr: Any, world: World) -> None:
    ecr.create_repository(repositoryName="shared/one")
    with TestClient(create_app(world.platform, world.control_plane)) as api:
        listed = api.get("/v1/repositories").json()["repositories"]
        assert [r["repositoryName"] for r in listed] == ["shared/one"]
        response = api.delete("/v1/repositories", params={"repository": "shared/one"})
        assert response.status_code == 200, response.text
    assert ecr.describe_repositories()["repositories"] == []


def test_a_token_no_list_handed_out_is_refused_and_arns_of_any_region_are_read(
    ecs: Any, world: World
) -> None:
    with pytest.raises(ClientError) as raised:
        ecs.list_task_definitions(nextToken="not-a-token")
    assert error_of(raised) == ("InvalidParameterException", 400)
    register(ecs)
    create_service(ecs, count=1)
    other_region = "arn:aws:ecs:us-west-2:000000000000:service/default/web"
    (service,) = ecs.describe_services(services=[other_region])["services"]
    assert service["serviceArn"] == f"{ARN}:service/default/web"


def test_image_scans_start_and_answer_their_status(ecr: Any, world: World) -> None:
    ecr.create_repository(repositoryName="models/iris")
    digest = "sha256:" + "b" * 64
    operations.record_push(
        world.store,
        "models/iris",
        tag="v1",
        digest=digest,
        size=10,
        media_type="application/vnd.oci.image.manifest.v1+json",
        now=world.clock(),
    )
    with pytest.raises(ClientError) as raised:
        ecr.describe_image_scan_findings(repositoryName="models/iris", imageId={"imageTag": "v1"})
    assert error_of(raised) == ("ScanNotFoundException", 400)

    started = ecr.start_image_scan(repositoryName="models/iris", imageId={"imageTag": "v1"})
    assert started["imageScanStatus"]["status"] == "PENDING"
    assert started["imageId"]["imageDigest"] == digest
    found = ecr.describe_image_scan_findings(
        repositoryName="models/iris", imageId={"imageDigest": digest}
    )
    assert found["imageScanStatus"]["status"] == "PENDING"
    assert found["imageScanFindings"]["findings"] == []
    assert world.store.images.get(f"models/iris@{digest}").scan.status == "PENDING"
