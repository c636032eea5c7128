"""ECS services and standalone tasks on real containers, through the CLI and a real daemon.

A small HTTP server image (built here from the offline base image; nothing is pulled)
answers ``/ping`` and ``/invocations`` on 8080 with the value of its ``COLOR``
variable. A service of 2 tasks behind the load balancer serves through its URL; an
update to a revision with another ``COLOR`` rolls while a client keeps sending
requests, and not one of them fails; the service is refused deletion while scaled up,
then deleted with ``--force``, and its URL stops answering. ``run-task`` of a command
that exits 0 ends STOPPED with exit code 0.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, wait_until

pytestmark = pytest.mark.integration

TIMEOUT = 180.0

SERVER = """
import os, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COLOR = os.environ.get("COLOR", "none").encode()


class Handler(BaseHTTPRequestHandler):
    def _answer(self, body):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            self._answer(b"ok")
        else:
            self.send_error(404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/invocations":
            self._answer(COLOR)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def web_image(script_image: Callable[[str, str], str]) -> str:
    return script_image("ecs-web", SERVER)


def task_definition(family: str, image: str, color: str) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "COLOR", "value": color}],
                "stopTimeout": 5,
            }
        ],
    }


def register(daemon: Daemon, tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / f"{document['family']}-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(document))
    result = daemon.cli("register-task-definition", str(path))
    assert result.returncode == 0, result.stderr
    registered = daemon.api("GET", f"/v1/task-definitions/{document['family']}")
    return f"{document['family']}:{registered['taskDefinition']['revision']}"


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return str(result.stdout)


class Client:
    """Sends requests to a URL, one after another, until stopped; keeps every outcome."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Client:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(self.url, content=b"x")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    continue
                if response.status_code == 200:
                    self.answers.append(response.text)
                else:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")


def test_a_service_serves_rolls_without_failed_requests_and_is_deleted(
    daemon: Daemon, web_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("ecs")
    service = unique_name("svc")
    blue = register(daemon, tmp_path, task_definition(family, web_image, "blue"))
    green = register(daemon, tmp_path, task_definition(family, web_image, "green"))

    create = ["service", "create", service, "--task-definition", blue, "--desired-count", "2"]
    created = ok(daemon.cli(*create, "--load-balancer", "web:8080"))
    url = daemon.api("GET", f"/v1/services/{service}")["url"]
    assert url.endswith(f"/endpoints/{service}/invocations")
    assert url in created
    for _ in range(4):
        response = httpx.post(url, content=b"x", timeout=30)
        assert (response.status_code, response.text) == (200, "blue")

    with Client(url) as client:
        wait_until(lambda: len(client.answers) >= 5, timeout=TIMEOUT, what="first answers")
        ok(daemon.cli("service", "update", service, "--task-definition", green))
        seen = len(client.answers)
        wait_until(
            lambda: len(client.answers) >= seen + 20,
            timeout=TIMEOUT,
            what="answers after the roll",
        )
    assert client.failures == []
    assert client.answers[-1] == "green"
    assert "blue" in client.answers

    described = daemon.api("GET", f"/v1/services/{service}")
    assert [d["status"] for d in described["service"]["deployments"]] == ["PRIMARY"]
    assert described["service"]["deployments"][0]["rolloutState"] == "COMPLETED"
    assert {t["taskDefinition"] for t in described["tasks"]} == {green}
    shown = ok(daemon.cli("service", "describe", service))
    assert "PRIMARY" in shown and "COMPLETED" in shown and url in shown
    assert service in ok(daemon.cli("service", "list"))

    refused = daemon.cli("service", "delete", service)
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    ok(daemon.cli("service", "delete", service, "--force"))
    assert daemon.raw("GET", f"/v1/services/{service}").status_code == 404
    assert httpx.post(url, content=b"x", timeout=30).status_code == 404
    assert daemon.api("GET", "/v1/tasks", params={"startedBy": f"service/{service}"}) == {
        "tasks": []
    }


def test_run_task_of_a_command_that_exits_0_ends_stopped_with_exit_code_0(
    daemon: Daemon, web_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("job")
    revision = register(daemon, tmp_path, task_definition(family, web_image, "none"))
    overrides = tmp_path / "overrides.json"
    overrides.write_text(
        json.dumps(
            {"containerOverrides": [{"name": "web", "command": ["python3", "-c", "print(1)"]}]}
        )
    )

    run = ["run-task", "--task-definition", revision, "--overrides", str(overrides)]
    shown = ok(daemon.cli(*run, "--started-by", family, "--wait"))

    (task,) = daemon.api("GET", "/v1/tasks", params={"startedBy": family})["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "EssentialContainerExited"
    assert [c["exitCode"] for c in task["containers"]] == [0]
    assert "STOPPED" in shown
