"""ECS tasks on real containers: one network namespace, limits, volumes, dependsOn.

Through a real daemon and the CLI (``register-task-definition``, ``run-task``), on the
offline base image (Python 3 only: the "curl" below is urllib):

* two containers of an awsvpc task share one network namespace: a sidecar reaches the
  app on ``localhost:8080``;
* a task's memory bounds its containers together: two containers each under the
  task's 512 MiB but over it together are OOM-killed with ECS's reason; container
  ``cpu`` is CPU shares and ``memoryReservation`` a soft limit;
* two tasks share a named volume at once (one writes, the other reads), and a
  read-only mount refuses writes;
* ``dependsOn`` HEALTHY waits for the container's health check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from dockyard_daemon import Daemon, wait_until

from dockyard.adapters.engine import DockerEngine
from dockyard.control.task_state import OOM_REASON

pytestmark = pytest.mark.integration

TIMEOUT = 180.0

APP = """
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "5"); self.end_headers()
        self.wfile.write(b"hello")
    def log_message(self, *a): pass
HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""

SIDECAR = """
import sys, time, urllib.request
for _ in range(120):
    try:
        body = urllib.request.urlopen("http://localhost:8080/", timeout=2).read()
    except OSError:
        time.sleep(0.5)
        continue
    print("got", body.decode(), flush=True)
    sys.exit(0 if body == b"hello" else 2)
sys.exit(1)
"""

HOG = "import time; x = b'1' * (300 * 1024 * 1024); time.sleep(600)"


def register(daemon: Daemon, tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / f"{document['family']}.json"
    path.write_text(json.dumps(document))
    result = daemon.cli("register-task-definition", str(path))
    assert result.returncode == 0, result.stderr
    registered = daemon.api("GET", f"/v1/task-definitions/{document['family']}")
    return f"{document['family']}:{registered['taskDefinition']['revision']}"


def run_task(daemon: Daemon, revision: str, started_by: str) -> None:
    result = daemon.cli("run-task", "--task-definition", revision, "--started-by", started_by)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def task_of(daemon: Daemon, started_by: str) -> dict[str, Any]:
    (task,) = daemon.api("GET", "/v1/tasks", params={"startedBy": started_by})["tasks"]
    return dict(task)


def stopped(daemon: Daemon, started_by: str) -> dict[str, Any]:
    wait_until(
        lambda: task_of(daemon, started_by)["lastStatus"] == "STOPPED",
        timeout=TIMEOUT,
        what=f"task {started_by} stopped",
    )
    return task_of(daemon, started_by)


def container(task: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in task["containers"] if c["name"] == name)


def python(image: str, name: str, code: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "command": ["python3", "-c", code], **more}


@pytest.mark.podman
def test_a_sidecar_reaches_the_app_on_localhost(
    daemon: Daemon, base_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("mesh")
    document = {
        "family": family,
        "networkMode": "awsvpc",
        "containerDefinitions": [
            python(base_image, "app", APP, portMappings=[{"containerPort": 8080}], stopTimeout=2),
            python(
                base_image,
                "sidecar",
                SIDECAR,
                essential=False,
                dependsOn=[{"containerName": "app", "condition": "START"}],
            ),
        ],
    }
    run_task(daemon, register(daemon, tmp_path, document), family)

    wait_until(
        lambda: container(task_of(daemon, family), "sidecar")["exitCode"] is not None,
        timeout=TIMEOUT,
        what="the sidecar finished",
    )
    task = task_of(daemon, family)
    assert container(task, "sidecar")["exitCode"] == 0
    assert task["lastStatus"] == "RUNNING"  # a non-essential container's exit stops nothing
    (binding,) = container(task, "app")["networkBindings"]  # the namespace's address
    assert binding["containerPort"] == 8080

    assert daemon.cli("stop-task", task["taskId"]).returncode == 0
    assert stopped(daemon, family)["stopCode"] == "UserInitiated"


def test_a_task_over_its_memory_is_stopped_out_of_memory(
    daemon: Daemon,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    family = unique_name("oom")
    document = {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            python(base_image, "one", HOG, cpu=128, memoryReservation=64, stopTimeout=2),
            python(
                base_image,
                "two",
                HOG,
                stopTimeout=2,
                dependsOn=[{"containerName": "one", "condition": "START"}],
            ),
        ],
    }
    run_task(daemon, register(daemon, tmp_path, document), family)

    task = stopped(daemon, family)
    assert task["stopCode"] == "EssentialContainerExited"
    reasons = [c["reason"] for c in task["containers"]]
    assert OOM_REASON in reasons, reasons
    client = docker.APIClient(base_url=engine.base_url, version="auto")
    try:
        host = client.inspect_container(container(task, "one")["runtimeId"])["HostConfig"]
    finally:
        client.close()
    assert host["CpuShares"] == 128
    assert host["MemoryReservation"] == 64 * 1024 * 1024
    assert host["CgroupParent"] == f"/dockyard/{task['taskId']}"


@pytest.mark.podman
def test_two_tasks_share_a_named_volume_and_a_read_only_mount_refuses_writes(
    daemon: Daemon, base_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    volume = unique_name("vol")
    shared = {"scope": "shared", "autoprovision": True}
    writer_code = "open('/data/msg', 'w').write('from the writer')"
    reader_code = """
import os, sys, time
try:
    open('/data/refused', 'w')
    sys.exit(3)
except OSError:
    pass
for _ in range(240):
    if os.path.exists('/data/msg'):
        sys.exit(0 if open('/data/msg').read() == 'from the writer' else 2)
    time.sleep(0.5)
sys.exit(1)
"""

    def document(family: str, code: str, read_only: bool) -> dict[str, Any]:
        point = {"sourceVolume": volume, "containerPath": "/data", "readOnly": read_only}
        return {
            "family": family,
            "volumes": [{"name": volume, "dockerVolumeConfiguration": shared}],
            "containerDefinitions": [python(base_image, "main", code, mountPoints=[point])],
        }

    reader, writer = unique_name("reader"), unique_name("writer")
    run_task(daemon, register(daemon, tmp_path, document(reader, reader_code, True)), reader)
    wait_until(
        lambda: task_of(daemon, reader)["lastStatus"] == "RUNNING",
        timeout=TIMEOUT,
        what="the reader runs",
    )
    run_task(daemon, register(daemon, tmp_path, document(writer, writer_code, False)), writer)

    assert container(stopped(daemon, writer), "main")["exitCode"] == 0
    assert container(stopped(daemon, reader), "main")["exitCode"] == 0


def test_depends_on_healthy_waits_for_the_health_check(
    daemon: Daemon, base_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("healthy")
    point = {"sourceVolume": "scratch", "containerPath": "/shared"}
    document = {
        "family": family,
        "volumes": [{"name": "scratch"}],
        "containerDefinitions": [
            python(
                base_image,
                "db",
                "import time, pathlib; time.sleep(3); pathlib.Path('/shared/ready').touch();"
                " time.sleep(600)",
                essential=False,
                stopTimeout=2,
                mountPoints=[point],
                healthCheck={
                    "command": ["CMD-SHELL", "test -f /shared/ready"],
                    "interval": 5,
                    "timeout": 2,
                    "retries": 3,
                },
            ),
            python(
                base_image,
                "app",
                "import os, sys; sys.exit(0 if os.path.exists('/shared/ready') else 1)",
                mountPoints=[point],
                dependsOn=[{"containerName": "db", "condition": "HEALTHY"}],
            ),
        ],
    }
    run_task(daemon, register(daemon, tmp_path, document), family)

    task = stopped(daemon, family)
    assert container(task, "db")["healthStatus"] == "HEALTHY"
    assert container(task, "app")["exitCode"] == 0
