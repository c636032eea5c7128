"""Autoscaling on real containers: a busy service gets more tasks.

A service of one task whose server burns a whole core from the start (the load),
a target-tracking policy at 50 % average CPU: the daemon's usage collector reads the
engine's statistics, the scaling reconciler raises the desired count, the service
starts the task and the event says why. No timing is asserted; the waits only bound
a hang.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dockyard_daemon import Daemon, wait_until
from test_ecs_services import TIMEOUT, ok, register

pytestmark = pytest.mark.integration

BURNER = """
import signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def burn():
    while True:
        sum(i * i for i in range(10_000))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
threading.Thread(target=burn, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def burner_image(script_image: Callable[[str, str], str]) -> str:
    return script_image("burner", BURNER)


def test_a_busy_service_gets_more_tasks_and_the_events_say_why(
    daemon: Daemon, burner_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("burn")
    service = unique_name("busy")
    document = {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": burner_image,
                "portMappings": [{"containerPort": 8080}],
                "stopTimeout": 2,
            }
        ],
    }
    revision = register(daemon, tmp_path, document)
    create = ["service", "create", service, "--task-definition", revision]
    ok(daemon.cli(*create, "--desired-count", "1", "--load-balancer", "web:8080"))
    ok(
        daemon.cli(
            "autoscaling",
            "put-policy",
            service,
            "--metric",
            "cpu",
            "--target",
            "50",
            "--min",
            "1",
            "--max",
            "2",
            "--scale-out-cooldown",
            "0",
        )
    )

    def desired() -> int:
        return int(daemon.api("GET", f"/v1/services/{service}")["service"]["desiredCount"])

    wait_until(lambda: desired() == 2, timeout=TIMEOUT, what="the desired count to rise")

    events = [
        e["message"] for e in daemon.api("GET", f"/v1/services/{service}")["service"]["events"]
    ]
    assert any("Setting desired count to 2 (from 1)" in m for m in events)
    shown = ok(daemon.cli("autoscaling", "describe", service))
    assert "Setting desired count to 2." in shown
    ok(daemon.cli("autoscaling", "delete-policy", service))
    ok(daemon.cli("service", "delete", service, "--force"))
