"""The swarm backend on a real two-node swarm (see :mod:`swarm_topology`).

A Dockyard daemon with ``DOCKYARD_BACKEND=swarm`` on the manager's engine: ``dockyard
cluster init`` makes the swarm, ``cluster join --engine`` adds the worker, ``cluster
nodes`` lists both. An ECS service of 2 tasks behind the load balancer (the service
core every endpoint runs on) lands one task on each node and answers through
HAProxy; the worker's engine is then stopped while a client keeps sending requests:
its task is replaced on the manager and the service keeps answering. The failed
requests and the recovery time are printed (run with ``-s``) and written to
``$DOCKYARD_SWARM_REPORT`` when set. The framework image is only in the manager's
engine: training hosts and endpoint replicas on the worker pull it from Dockyard's
registry by name and digest (each node reaches the registry on its own loopback).

Select with ``-m swarm``; needs root, ``ip``, ``nsenter``, ``unshare`` and dockerd.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from dockyard_daemon import Daemon, free_port, wait_until
from swarm_topology import Node, Topology, missing_requirements
from test_ecs_services import SERVER, Client, ok, register
from test_platform import (
    EXAMPLE,
    HOSTS_SCRIPT,
    IRIS_SPECIES,
    delete_endpoint,
    job_logs,
    model_tarball,
    predict_csv,
    training_request,
    wait_for_job,
    wait_in_service,
    write_script,
)

from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.swarm import SwarmEngine
from dockyard.ports.engine import ContainerSpec
from dockyard.server.containers import INSTALLATION_LABEL

pytestmark = [pytest.mark.integration, pytest.mark.swarm]

TIMEOUT = 180.0
EXAMPLE_TIMEOUT = 600


class SwarmDaemon(Daemon):
    """The test daemon, with the swarm backend."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "DOCKYARD_BACKEND": "swarm"}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    reason = missing_requirements()
    if reason:
        pytest.skip(f"two-node swarm: {reason}")
    made = Topology(tmp_path_factory.mktemp("swarm"))
    try:
        yield made.up()
    finally:
        made.down()


@pytest.fixture(scope="module")
def web_image(
    script_image: Callable[[str, str], str], engine: DockerEngine, topology: Topology
) -> str:
    ref = script_image("swarm-web", SERVER)
    topology.load_image(engine._api, ref)
    return ref


@pytest.fixture(scope="module")
def framework_on_manager(framework_image: str, engine: DockerEngine, topology: Topology) -> str:
    """The scikit-learn framework image, in the manager's engine only (where Dockyard
    builds images): the worker pulls it from Dockyard's registry, by name and digest."""
    topology.load_image(engine._api, framework_image, nodes=topology.nodes[:1])
    return framework_image


@pytest.fixture(scope="module")
def swarm_daemon(
    topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmDaemon]:
    manager = topology.nodes[0]
    running = SwarmDaemon(
        tmp_path_factory.mktemp("swarm-daemon") / "state", manager.url, lb_port=free_port()
    )
    swarm = SwarmEngine(DockerEngine(manager.url))
    try:
        running.start()
        # each node reaches Dockyard's registry on its own 127.0.0.1, as `ssh -L` does
        topology.forward_loopback_port(running.registry_port)
        yield running
    finally:
        running.cleanup(swarm)
        swarm.close()


def definition(family: str, image: str) -> dict[str, object]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "COLOR", "value": "blue"}],
                "memory": 128,
                "cpu": 256,
                "stopTimeout": 2,
            }
        ],
    }


def running_nodes(swarm: SwarmEngine, daemon: Daemon) -> list[str]:
    """The node address of each running task of the daemon's, sorted."""
    installation = daemon.installation() or "-"
    states = swarm.list({INSTALLATION_LABEL: installation})
    return sorted(s.host_address or "" for s in states if s.running)


def registry_digests(node: Node, daemon: Daemon, repository: str) -> list[str]:
    """The node's images pulled from the daemon's registry's ``repository``, by digest."""
    prefix = f"127.0.0.1:{daemon.registry_port}/{repository}@"
    with node.client() as client:
        return [
            digest
            for image in client.images()
            for digest in image.get("RepoDigests") or []
            if digest.startswith(prefix)
        ]


def test_cluster_commands_make_a_two_node_swarm(
    topology: Topology, swarm_daemon: SwarmDaemon
) -> None:
    manager, worker = topology.nodes
    refused = swarm_daemon.cli("cluster", "join", "10.0.0.1:2377", "--advertise-addr", "x")
    assert refused.returncode == 1 and "join URL" in refused.stderr

    shown = ok(swarm_daemon.cli("cluster", "init", "--advertise-addr", manager.address))
    url = next(word for word in shown.split() if word.startswith("swarm://"))
    args = ["--advertise-addr", worker.address, "--engine", worker.url]
    ok(swarm_daemon.cli("cluster", "join", url, *args))

    def both_ready() -> bool:
        nodes = swarm_daemon.api("GET", "/v1/cluster/nodes")["Nodes"]
        return sorted((n["Addr"], n["State"]) for n in nodes) == [
            (manager.address, "ready"),
            (worker.address, "ready"),
        ]

    wait_until(both_ready, timeout=60, what="both nodes ready")
    table = ok(swarm_daemon.cli("cluster", "nodes"))
    assert "node1" in table and "node2" in table and "manager (leader)" in table


#: the hosts script of the one-machine test, and the node each host ran on: swarm expands
#: ``{{.Node.Hostname}}`` in a service's environment on the node that runs its task
NODE_SCRIPT = (
    HOSTS_SCRIPT
    + '    node = os.environ["SWARM_NODE"]\n'
    + '    Path(os.environ["SM_MODEL_DIR"], f"node-{me}.txt").write_text(node)\n'
)


def test_a_two_host_training_job_runs_across_both_nodes_and_its_hosts_resolve_each_other(
    topology: Topology,
    swarm_daemon: SwarmDaemon,
    framework_on_manager: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    name = unique_name("hosts")
    code = write_script(tmp_path / "hosts", "hosts.py", NODE_SCRIPT)
    request = training_request(name, framework_on_manager, code, "hosts.py", hosts=2)
    request["Environment"] = {"SWARM_NODE": "{{.Node.Hostname}}"}
    swarm_daemon.api("POST", "/v1/training-jobs", json=request)
    job = wait_for_job(swarm_daemon, name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    # the model directories of both hosts came back, from whichever node each ran on
    with tarfile.open(model_tarball(swarm_daemon, job)) as archive:
        seen = {
            host: json.loads(archive.extractfile(f"hosts-{host}.json").read())  # type: ignore[union-attr]
            for host in ("algo-1", "algo-2")
        }
        nodes = {
            host: archive.extractfile(f"node-{host}.txt").read().decode()  # type: ignore[union-attr]
            for host in ("algo-1", "algo-2")
        }
    assert sorted(nodes.values()) == [node.name for node in topology.nodes]
    # the worker had no copy of the image: it pulled it from Dockyard's registry
    pulled = registry_digests(topology.nodes[1], swarm_daemon, "dockyard/sklearn")
    assert pulled, "the worker has no dockyard/sklearn from Dockyard's registry"
    # each host resolved both names on the job's overlay network, to the same two addresses
    assert seen["algo-1"] == seen["algo-2"]
    assert len(set(seen["algo-1"].values())) == 2
    logs = job_logs(swarm_daemon, name)
    for host, other in (("algo-1", "algo-2"), ("algo-2", "algo-1")):
        assert f"{host} resolved {other} -> {seen[host][other]}" in logs[host]
        assert f"{host} met {other}" in logs[host]


@pytest.fixture(scope="module")
def trained_iris(
    swarm_daemon: SwarmDaemon, framework_on_manager: str, unique_name: Callable[..., str]
) -> dict[str, object]:
    """The quickstart's training job (the iris example), run on the swarm."""
    name = unique_name("iris")
    request = training_request(
        name,
        framework_on_manager,
        EXAMPLE / "code",
        "train.py",
        channels={"train": (EXAMPLE / "data" / "train").as_uri()},
        hyperparameters={"C": "1.0", "max-iter": "200"},
    )
    swarm_daemon.api("POST", "/v1/training-jobs", json=request)
    job = wait_for_job(swarm_daemon, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


def test_an_endpoint_of_two_replicas_spreads_over_both_nodes_and_predicts(
    topology: Topology,
    swarm_daemon: SwarmDaemon,
    framework_on_manager: str,
    trained_iris: dict[str, object],
    unique_name: Callable[..., str],
) -> None:
    # long enough that a replica's container name (ENDPOINT-VARIANT-TASK-ENDPOINT) is
    # over the 63 characters a swarm service name may have
    name = unique_name("iris-endpoint-spread")
    deploy = {
        "EndpointName": name,
        "Image": framework_on_manager,
        "ModelDataUrl": f"training-job:{trained_iris['TrainingJobName']}",
        "InstanceCount": 2,
    }
    swarm_daemon.api("POST", "/v1/endpoints", json=deploy)
    try:
        endpoint = wait_in_service(swarm_daemon, name, replicas=2)
        hosts = sorted(str(r["Address"]).rpartition(":")[0] for r in endpoint["Replicas"])
        assert hosts == sorted(node.address for node in topology.nodes)
        assert registry_digests(topology.nodes[1], swarm_daemon, "dockyard/sklearn")
        with httpx.Client() as client:
            for _ in range(10):  # round robin: both replicas answer
                response = predict_csv(endpoint["Url"], client)
                assert response.status_code == 200, response.text
                assert response.json() == [0, 1, 2]  # the default handler: class indices
    finally:
        delete_endpoint(swarm_daemon, name)


def test_a_stopped_task_still_reads_stopped_once_swarm_has_deleted_it(
    topology: Topology, swarm_daemon: SwarmDaemon, web_image: str, unique_name: Callable[..., str]
) -> None:
    """``stop`` scales the task's service to 0; swarm then deletes the task itself about
    a second after its shutdown. The service must read stopped from then on, not
    starting: the core waits for a stopped task before a service delete completes."""
    swarm = SwarmEngine(DockerEngine(topology.nodes[0].url))
    spec = ContainerSpec(name=unique_name("reaped"), image=web_image, ports=[8080])
    service_id = swarm.run(spec).id
    try:
        wait_until(lambda: swarm.inspect(service_id).running, timeout=TIMEOUT, what="running")
        swarm.stop(service_id, 2)
        wait_until(
            lambda: not swarm._api.tasks(filters={"service": service_id}),
            timeout=TIMEOUT,
            what="swarm to delete the scaled-down task",
        )
        assert swarm.inspect(service_id).status == "exited"
        assert swarm.wait(service_id, timeout=TIMEOUT) == -1  # stopped; no exit code left
    finally:
        swarm.remove(service_id)
        swarm.close()


@pytest.mark.timeout(EXAMPLE_TIMEOUT + TIMEOUT * 2)
def test_the_fargate_service_example_runs_on_the_swarm(
    topology: Topology,
    swarm_daemon: SwarmDaemon,
    framework_on_manager: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    """examples/fargate-service/run.sh as the README runs it, against the swarm daemon:
    its image is pushed to Dockyard's registry, and each node pulls it from there with
    the task's pull-only credential (the nodes reach the registry on their loopback)."""
    manager, worker = topology.nodes
    dockyard = tmp_path / "dockyard"
    dockyard.write_text(f'#!/bin/sh\nexec {sys.executable} -m dockyard.cli.main "$@"\n')
    dockyard.chmod(0o755)
    service = unique_name("fargate")
    output = tmp_path / "run.log"
    with output.open("wb") as log:
        ran = subprocess.run(
            ["bash", str(EXAMPLE.parent / "fargate-service" / "run.sh")],
            env={**swarm_daemon.env, "DOCKYARD": str(dockyard), "SERVICE": service},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=EXAMPLE_TIMEOUT,
            check=False,
        )
    said = output.read_text(errors="replace")
    assert ran.returncode == 0, said[-4000:]
    assert json.dumps({"predictions": IRIS_SPECIES}) in said
    swarm = SwarmEngine(DockerEngine(manager.url))
    try:
        spread = sorted([manager.address, worker.address])
        nodes = wait_until(
            lambda: running_nodes(swarm, swarm_daemon) == spread, timeout=TIMEOUT, what="spread"
        )
        assert nodes
        pulled = f"127.0.0.1:{swarm_daemon.registry_port}/examples/fargate-iris:v1"
        with worker.client() as client:
            assert client.images(name=pulled), f"the worker has no {pulled}"
        ok(swarm_daemon.cli("autoscaling", "deregister", service))
        ok(swarm_daemon.cli("service", "delete", service, "--force"))
        wait_until(
            lambda: running_nodes(swarm, swarm_daemon) == [], timeout=TIMEOUT, what="tasks gone"
        )
    finally:
        swarm.close()


def test_a_service_spreads_over_both_nodes_and_survives_the_worker_leaving(
    topology: Topology,
    swarm_daemon: SwarmDaemon,
    web_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    manager, worker = topology.nodes
    swarm = SwarmEngine(DockerEngine(manager.url))
    family, service = unique_name("swarm"), unique_name("svc")
    revision = register(swarm_daemon, tmp_path, definition(family, web_image))
    create = ["service", "create", service, "--task-definition", revision]
    ok(swarm_daemon.cli(*create, "--desired-count", "2", "--load-balancer", "web:8080"))
    url = swarm_daemon.api("GET", f"/v1/services/{service}")["url"]

    spread = sorted([manager.address, worker.address])
    wait_until(lambda: running_nodes(swarm, swarm_daemon) == spread, timeout=TIMEOUT, what="spread")

    def answers() -> bool:
        response = httpx.post(url, content=b"x", timeout=10)
        return (response.status_code, response.text) == (200, "blue")

    wait_until(answers, timeout=TIMEOUT, what="the service to answer through HAProxy")

    with Client(url) as client:
        wait_until(lambda: len(client.answers) >= 20, timeout=TIMEOUT, what="first answers")
        before = len(client.answers)
        stopped_at = worker.stop()
        wait_until(
            lambda: running_nodes(swarm, swarm_daemon) == [manager.address] * 2,
            timeout=TIMEOUT,
            what="the worker's task replaced on the manager",
            interval=0.2,
        )
        replaced_at = time.monotonic()
        after = len(client.answers)
        wait_until(lambda: len(client.answers) >= after + 20, timeout=TIMEOUT, what="answers after")
    report = {
        "requests_answered": len(client.answers),
        "answered_after_worker_stopped": len(client.answers) - before,
        "failed_requests": len(client.failures),
        "recovery_s": round(replaced_at - stopped_at, 2),
        "failures": client.failures[:5],
    }
    print(f"\nswarm node loss: {json.dumps(report)}")
    if target := os.environ.get("DOCKYARD_SWARM_REPORT"):
        Path(target).write_text(json.dumps(report, indent=2) + "\n")
    assert len(client.answers) > before  # it kept answering with the worker gone
    assert set(client.answers) == {"blue"}
    ok(swarm_daemon.cli("service", "delete", service, "--force"))
    wait_until(lambda: running_nodes(swarm, swarm_daemon) == [], timeout=TIMEOUT, what="tasks gone")
    swarm.close()
