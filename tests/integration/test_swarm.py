"""The swarm backend on a real two-node swarm (see :mod:`swarm_topology`).

A Dockyard daemon with ``DOCKYARD_BACKEND=swarm`` on the manager's engine: ``dockyard
cluster init`` makes the swarm, ``cluster join --engine`` adds the worker, ``cluster
nodes`` lists both. An ECS service of 2 tasks behind the load balancer (the service
core every endpoint runs on) lands one task on each node and answers through
HAProxy; the worker's engine is then stopped while a client keeps sending requests:
its task is replaced on the manager and the service keeps answering. The failed
requests and the recovery time are printed (run with ``-s``) and written to
``$DOCKYARD_SWARM_REPORT`` when set.

Select with ``-m swarm``; needs root, ``ip``, ``nsenter``, ``unshare`` and dockerd.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from dockyard_daemon import Daemon, free_port, wait_until
from swarm_topology import Topology, missing_requirements
from test_ecs_services import SERVER, Client, ok, register

from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.swarm import SwarmEngine
from dockyard.server.containers import INSTALLATION_LABEL

pytestmark = [pytest.mark.integration, pytest.mark.swarm]

TIMEOUT = 180.0


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
