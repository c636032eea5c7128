"""EC2 placement on two registered container instances, on a real engine and daemon.

The daemon's own engine is the first instance (registered by default, with the CPU and
memory it reports). The second is **the same dockerd reached through a TCP proxy**
(``tcp://127.0.0.1:PORT``, a thread here that forwards to the engine's unix socket and
records every API request it carries), registered with a small share of its memory.
What this proves: registration by URL reads the engine's capacity over its API;
placement decides by the registered capacities and the strategies
(binpack/spread/constraints), as ECS does; and a task placed on the second instance is
created *through that instance's URL* (the proxy saw its ``containers/create``), so the
chosen instance's engine runs it. What it does not prove: isolation between two
hosts (both instances share one machine's CPU and memory) — a second dockerd with its
own data root would, at the cost of a minute of set-up per run.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dockyard_daemon import Daemon, wait_until
from test_ecs_services import ok, register

from dockyard.adapters.engine.docker_api import DockerEngine

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
SERVER = """
import signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


class EngineProxy:
    """TCP 127.0.0.1:PORT -> the engine's unix socket; keeps each request line it saw."""

    def __init__(self, socket_path: str) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(socket_path)
                back = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
                back.start()
                _pipe(self.request, upstream, proxy.requests)
                back.join(timeout=60)
                upstream.close()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"tcp://127.0.0.1:{self.server.server_address[1]}"

    def created(self, name_part: str) -> bool:
        return any("/containers/create" in r and name_part in r for r in self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pipe(source: socket.socket, sink: socket.socket, seen: list[str] | None = None) -> None:
    try:
        while chunk := source.recv(65536):
            if seen is not None and chunk[:8].split(b" ")[0].isalpha():
                seen.append(chunk.split(b"\r\n", 1)[0].decode(errors="replace"))
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def proxy(engine: DockerEngine) -> Iterator[EngineProxy]:
    assert engine.base_url.startswith("unix://")
    running = EngineProxy(engine.base_url.removeprefix("unix://"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def image(script_image: Callable[[str, str], str]) -> str:
    return script_image("ecs-ec2", SERVER)


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
                "stopTimeout": 2,
            }
        ],
    }


def instances(daemon: Daemon) -> dict[str, dict[str, Any]]:
    listed = daemon.api("GET", "/v1/container-instances")["containerInstances"]
    return {i["ec2InstanceId"]: i for i in listed}


def run(daemon: Daemon, revision: str, count: int, **placement: Any) -> dict[str, Any]:
    body = {"taskDefinition": revision, "count": count, "launchType": "EC2", **placement}
    answer: dict[str, Any] = daemon.api("POST", "/v1/tasks", json=body)
    return answer


def stop_all(daemon: Daemon, answer: dict[str, Any]) -> None:
    for task in answer["tasks"]:
        daemon.api("POST", f"/v1/tasks/{task['taskId']}/stop", json={})


def test_tasks_are_placed_on_two_registered_instances_as_the_strategy_says(
    daemon: Daemon,
    engine: DockerEngine,
    proxy: EngineProxy,
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
    shown = ok(
        daemon.cli(
            "instances",
            "register",
            proxy.url,
            "--memory",
            "1024",
            "--attribute",
            "ecs.availability-zone=local-b",
        )
    )
    other = instances(daemon)[proxy.url]
    assert other["containerInstanceId"][:12] in shown
    assert {r["name"]: r["integerValue"] for r in other["registeredResources"]}["MEMORY"] == 1024

    revision = register(daemon, tmp_path, definition(unique_name("ec2"), image, 256))
    packed = run(daemon, revision, 3, placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert packed["failures"] == []
    assert {t["containerInstanceArn"] for t in packed["tasks"]} == {other["containerInstanceArn"]}
    for task in packed["tasks"]:  # created through the second instance's URL
        wait_until(lambda t=task: proxy.created(t["taskId"][:8]), timeout=TIMEOUT, what="create")
    remaining = instances(daemon)[proxy.url]["remainingResources"]
    assert {r["name"]: r["integerValue"] for r in remaining}["MEMORY"] == 1024 - 3 * 256
    stop_all(daemon, packed)

    # a group of its own: the packed tasks, still stopping, count in their group
    strategy = [{"type": "spread", "field": "instanceId"}]
    spread = run(daemon, revision, 2, placementStrategy=strategy, group=unique_name("spread"))
    assert sorted(t["containerInstanceArn"] for t in spread["tasks"]) == sorted(
        [local["containerInstanceArn"], other["containerInstanceArn"]]
    )
    stop_all(daemon, spread)


def test_a_task_too_big_for_every_instance_fails_with_resource_memory_and_starts_nothing(
    daemon: Daemon,
    engine: DockerEngine,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    family = unique_name("huge")
    _, memory = engine.capacity()
    revision = register(daemon, tmp_path, definition(family, image, memory + 1024))
    result = daemon.cli("run-task", "--task-definition", revision, "--launch-type", "EC2")
    assert result.returncode == 1
    assert "RESOURCE:MEMORY" in result.stdout
    answer = run(daemon, revision, 1)
    assert answer["tasks"] == []
    assert [f["reason"] for f in answer["failures"]] == ["RESOURCE:MEMORY"]
    assert engine.list({"dockyard.group": f"family:{family}"}) == []


def test_draining_an_instance_moves_a_service_s_tasks_to_the_other(
    daemon: Daemon,
    proxy: EngineProxy,
    image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    if proxy.url not in instances(daemon):
        ok(daemon.cli("instances", "register", proxy.url, "--memory", "1024"))
    service = unique_name("svc")
    revision = register(daemon, tmp_path, definition(unique_name("ec2"), image, 128))
    create = ["service", "create", service, "--task-definition", revision]
    ok(daemon.cli(*create, "--desired-count", "2", "--launch-type", "EC2"))

    def placed() -> set[str]:
        tasks = daemon.api("GET", f"/v1/services/{service}")["tasks"]
        return {t["containerInstanceArn"] for t in tasks if t["lastStatus"] == "RUNNING"}

    (first,) = placed()  # no strategy: the lowest instance id takes both
    first_id = first.rsplit("/", 1)[-1]
    (second,) = {i["containerInstanceArn"] for i in instances(daemon).values()} - {first}
    ok(daemon.cli("instances", "drain", first_id))
    wait_until(lambda: placed() == {second}, timeout=TIMEOUT, what="tasks moved off the drained")

    ok(daemon.cli("instances", "drain", second.rsplit("/", 1)[-1]))
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
    assert placed() == {second}  # the running tasks stay where they are
    for arn in (first, second):
        ok(daemon.cli("instances", "activate", arn.rsplit("/", 1)[-1]))
    ok(daemon.cli("service", "delete", service, "--force"))
