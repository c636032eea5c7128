"""EC2 placement on two container instances that are two separate engines.

The daemon's own engine is the first instance (registered by default, with the CPU and
memory it reports). The second is **a dockerd of its own** in a network namespace
(:mod:`swarm_topology`, one node): its own data root, exec root, pid file, socket and
bridge, and its API served on ``tcp://NODE:2375`` on the namespace's address, as an
engine on another machine is reached. It is registered by that URL with a share of
its memory; the test image is copied into it (``docker save`` | ``load``: nothing can
be pulled here).

What this proves: registration by URL reads the engine's capacity over its API;
placement decides by the registered capacities and the strategies (binpack, spread,
constraints), as ECS does; a task placed on the second instance runs *in that engine*
(listed through the node's own socket, absent from the daemon's engine); its ports
are published on the node's address (the host of the URL), where the daemon's
HAProxy reaches it, as an ALB reaches an EC2 task's host port on its instance's
private IP; draining moves a service's tasks between the engines with the service
answering through its load balancer; and the same through boto3's ``ecs`` client
(ListContainerInstances, DescribeContainerInstances, UpdateContainerInstancesState,
DeregisterContainerInstance, RunTask with placement constraints).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, free_port, wait_until
from swarm_topology import Node, Topology, missing_requirements
from test_aws_front import AwsDaemon, aws_client, issue_keys
from test_ecs_services import SERVER, ok, register

from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.fleet import INSTANCE_LABEL

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
API_PORT = 2375


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    reason = missing_requirements()
    if reason:
        pytest.skip(f"a second engine: {reason}")
    made = Topology(
        tmp_path_factory.mktemp("ec2"), size=1, prefix="dyec", network="10.214", tcp_port=API_PORT
    )
    try:
        yield made.up()
    finally:
        made.down()


@pytest.fixture(scope="module")
def node(topology: Topology) -> Node:
    return topology.nodes[0]


@pytest.fixture(scope="module")
def image(script_image: Callable[[str, str], str], engine: DockerEngine, topology: Topology) -> str:
    ref = script_image("ecs-ec2", SERVER)
    topology.load_image(engine._api, ref)
    return ref


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    """The module's daemon, with its AWS front on a port of its own."""
    running = AwsDaemon(
        tmp_path_factory.mktemp("ec2-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="module")
def second(node: Node, image: str, daemon: Daemon) -> Iterator[DockerEngine]:
    """The node's engine through its own socket; set up before the daemon's teardown
    needs it (fixtures are torn down in reverse), so the daemon stops first."""
    own = DockerEngine(node.url)
    yield own
    own.close()


def definition(family: str, image: str, memory: int) -> dict[str, Any]:
    return {
        "family": family,
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "memory": memory,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "COLOR", "value": "ec2"}],
                "stopTimeout": 2,
            }
        ],
    }


def instances(daemon: Daemon) -> dict[str, dict[str, Any]]:
    listed = daemon.api("GET", "/v1/container-instances")["containerInstances"]
    return {i["ec2InstanceId"]: i for i in listed}


def memory_of(instance: dict[str, Any], which: str) -> int:
    return int({r["name"]: r["integerValue"] for r in instance[which]}["MEMORY"])


def registered(daemon: Daemon, node: Node) -> dict[str, Any]:
    """The node's instance (registered by its TCP URL on first use)."""
    assert node.tcp_url is not None
    if node.tcp_url not in instances(daemon):
        shown = ok(
            daemon.cli(
                "instances",
                "register",
                node.tcp_url,
                "--memory",
                "1024",
                "--attribute",
                "ecs.availability-zone=local-b",
            )
        )
        assert instances(daemon)[node.tcp_url]["containerInstanceId"][:12] in shown
    return instances(daemon)[node.tcp_url]


def run(daemon: Daemon, revision: str, count: int, **placement: Any) -> dict[str, Any]:
    body = {"taskDefinition": revision, "count": count, "launchType": "EC2", **placement}
    answer: dict[str, Any] = daemon.api("POST", "/v1/tasks", json=body)
    return answer


def task_ids(engine: DockerEngine, instance: dict[str, Any]) -> set[str]:
    """Tasks with a running container in ``engine`` placed on ``instance``."""
    labels = {INSTANCE_LABEL: instance["containerInstanceId"]}
    return {s.labels["dockyard.task"] for s in engine.list(labels) if s.running}


def stop_all(daemon: Daemon, answer: dict[str, Any]) -> None:
    for task in answer["tasks"]:
        daemon.api("POST", f"/v1/tasks/{task['taskId']}/stop", json={})


def test_tasks_are_placed_on_two_engines_as_the_strategy_says(
    daemon: Daemon,
    engine: DockerEngine,
    second: DockerEngine,
    node: Node,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    (local,) = instances(daemon).values()
    assert local["status"] == "ACTIVE"
    cores, memory = engine.capacity()
    assert {r["name"]: r["integerValue"] for r in local["registeredResources"]} == {
        "CPU": cores * 1024,
        "MEMORY": memory,
    }
    other = registered(daemon, node)
    assert memory_of(other, "registeredResources") == 1024

    revision = register(daemon, tmp_path, definition(unique_name("ec2"), image, 256))
    packed = run(daemon, revision, 3, placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert packed["failures"] == []
    assert {t["containerInstanceArn"] for t in packed["tasks"]} == {other["containerInstanceArn"]}
    ids = {t["taskId"] for t in packed["tasks"]}
    wait_until(lambda: task_ids(second, other) == ids, timeout=TIMEOUT, what="tasks on the node")
    assert task_ids(engine, other) == set()  # not in the daemon's own engine
    assert memory_of(instances(daemon)[node.tcp_url], "remainingResources") == 1024 - 3 * 256
    stop_all(daemon, packed)

    # a group of its own: the packed tasks, still stopping, count in their group
    strategy = [{"type": "spread", "field": "instanceId"}]
    spread = run(daemon, revision, 2, placementStrategy=strategy, group=unique_name("spread"))
    where = {t["containerInstanceArn"]: t["taskId"] for t in spread["tasks"]}
    assert sorted(where) == sorted([local["containerInstanceArn"], other["containerInstanceArn"]])
    on_node = where[other["containerInstanceArn"]]
    on_local = where[local["containerInstanceArn"]]
    wait_until(lambda: on_node in task_ids(second, other), timeout=TIMEOUT, what="node's task")
    wait_until(lambda: on_local in task_ids(engine, local), timeout=TIMEOUT, what="local task")
    assert on_local not in task_ids(second, local)
    stop_all(daemon, spread)


def test_a_task_too_big_for_every_instance_fails_with_resource_memory_and_starts_nothing(
    daemon: Daemon,
    engine: DockerEngine,
    second: DockerEngine,
    node: Node,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    registered(daemon, node)
    family = unique_name("huge")
    _, memory = engine.capacity()
    revision = register(daemon, tmp_path, definition(family, image, memory + 1024))
    result = daemon.cli("run-task", "--task-definition", revision, "--launch-type", "EC2")
    assert result.returncode == 1
    assert "RESOURCE:MEMORY" in result.stdout
    answer = run(daemon, revision, 1)
    assert answer["tasks"] == []
    assert [f["reason"] for f in answer["failures"]] == ["RESOURCE:MEMORY"]
    for each in (engine, second):
        assert each.list({"dockyard.group": f"family:{family}"}) == []


def test_draining_moves_a_service_between_engines_and_the_balancer_follows(
    daemon: Daemon,
    engine: DockerEngine,
    second: DockerEngine,
    node: Node,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    other = registered(daemon, node)
    (local,) = (i for url, i in instances(daemon).items() if url != node.tcp_url)
    service = unique_name("svc")
    revision = register(daemon, tmp_path, definition(unique_name("ec2"), image, 128))
    create = ["service", "create", service, "--task-definition", revision]
    ok(
        daemon.cli(
            *create, "--desired-count", "2", "--launch-type", "EC2", "--load-balancer", "web:8080"
        )
    )
    url = daemon.api("GET", f"/v1/services/{service}")["url"]

    def placed() -> dict[str, set[str]]:
        """Instance ARN -> ids of the service's RUNNING tasks there."""
        found: dict[str, set[str]] = {}
        for task in daemon.api("GET", f"/v1/services/{service}")["tasks"]:
            if task["lastStatus"] == "RUNNING":
                found.setdefault(task["containerInstanceArn"], set()).add(task["taskId"])
        return found

    def answers() -> bool:
        try:
            response = httpx.post(url, content=b"{}", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text == "ec2"

    # onto the node: every task there, in its engine, and the service answers
    ok(daemon.cli("instances", "drain", local["containerInstanceId"]))
    moved = wait_until(
        lambda: (
            (p := placed()).keys() == {other["containerInstanceArn"]}
            and len(p[other["containerInstanceArn"]]) == 2
            and p
        ),
        timeout=TIMEOUT,
        what="tasks moved onto the node",
    )
    ids = moved[other["containerInstanceArn"]]
    wait_until(lambda: ids <= task_ids(second, other), timeout=TIMEOUT, what="node containers")
    wait_until(
        lambda: all(answers() for _ in range(4)), timeout=TIMEOUT, what="answers from the node"
    )

    # back onto the daemon's engine
    ok(daemon.cli("instances", "activate", local["containerInstanceId"]))
    ok(daemon.cli("instances", "drain", other["containerInstanceId"]))
    wait_until(
        lambda: placed().keys() == {local["containerInstanceArn"]},
        timeout=TIMEOUT,
        what="tasks moved back",
    )
    wait_until(lambda: not task_ids(second, other), timeout=TIMEOUT, what="node emptied")
    wait_until(answers, timeout=TIMEOUT, what="answers from the daemon's engine")

    ok(daemon.cli("instances", "drain", local["containerInstanceId"]))
    ok(daemon.cli("service", "update", service, "--desired-count", "3", "--no-wait"))
    unable = wait_until(
        lambda: [
            e["message"]
            for e in daemon.api("GET", f"/v1/services/{service}")["service"]["events"]
            if "was unable to place a task" in e["message"]
        ],
        timeout=TIMEOUT,
        what="the unable-to-place event",
    )
    assert unable[0].startswith(
        f"service {service} was unable to place a task because no container instance met "
        "all of its requirements."
    )
    assert placed().keys() == {local["containerInstanceArn"]}  # running tasks stay put
    for each in (local, other):
        ok(daemon.cli("instances", "activate", each["containerInstanceId"]))
    ok(daemon.cli("service", "delete", service, "--force"))


def test_boto3_lists_drains_places_and_deregisters_container_instances(
    daemon: AwsDaemon,
    second: DockerEngine,
    node: Node,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    """Last in the module: it deregisters the node."""
    ecs = aws_client(daemon, issue_keys(daemon), "ecs")
    other = registered(daemon, node)
    ids = {
        arn.rsplit("/", 1)[-1] for arn in ecs.list_container_instances()["containerInstanceArns"]
    }
    assert other["containerInstanceId"] in ids and len(ids) == 2
    (local_id,) = ids - {other["containerInstanceId"]}
    described = ecs.describe_container_instances(containerInstances=[other["containerInstanceId"]])
    (shown,) = described["containerInstances"]
    assert (shown["ec2InstanceId"], shown["status"]) == (node.tcp_url, "ACTIVE")
    assert memory_of(shown, "registeredResources") == 1024

    revision = register(daemon, tmp_path, definition(unique_name("ec2"), image, 128))
    zone_b = [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == local-b"}]
    answer = ecs.run_task(
        taskDefinition=revision, count=2, launchType="EC2", placementConstraints=zone_b
    )
    assert answer["failures"] == []
    assert {t["containerInstanceArn"].rsplit("/", 1)[-1] for t in answer["tasks"]} == {
        other["containerInstanceId"]
    }
    placed = {t["taskArn"].rsplit("/", 1)[-1] for t in answer["tasks"]}
    wait_until(lambda: placed <= task_ids(second, other), timeout=TIMEOUT, what="node tasks")

    drained = ecs.update_container_instances_state(
        containerInstances=[other["containerInstanceId"]], status="DRAINING"
    )
    assert [i["status"] for i in drained["containerInstances"]] == ["DRAINING"]
    refused = ecs.run_task(taskDefinition=revision, launchType="EC2", placementConstraints=zone_b)
    assert [f["reason"] for f in refused["failures"]] == ["MemberOf"]  # local-a only is left
    listed = ecs.list_container_instances(status="DRAINING")["containerInstanceArns"]
    assert [arn.rsplit("/", 1)[-1] for arn in listed] == [other["containerInstanceId"]]

    gone = ecs.deregister_container_instance(
        containerInstance=other["containerInstanceId"], force=True
    )
    assert gone["containerInstance"]["status"] == "INACTIVE"
    arns = ecs.list_container_instances()["containerInstanceArns"]
    assert [arn.rsplit("/", 1)[-1] for arn in arns] == [local_id]
    for task in placed:
        ecs.stop_task(task=task)
    wait_until(lambda: not task_ids(second, other), timeout=TIMEOUT, what="node tasks stopped")
