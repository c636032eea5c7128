"""A service's target-group algorithm and slow start, on real containers and HAProxy.

Every task of the service runs the same small server; it answers ``/invocations`` with
its own hostname (the container's), and a POST of ``/slow`` to one task's own address
makes that task sleep 0.2 s on every later request (``/fast`` undoes it). What is
asserted is the order of request counts, never a duration:

- least outstanding requests: with 8 clients at once, the slow task holds its requests
  longer and so gets fewer than half as many as the fast one; after an update to
  round robin both get the same share whatever their speed;
- slow start: a task added by scaling up, while the others serve, starts with a smaller
  share than theirs, and its share grows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, wait_until
from test_ecs_services import ok, register

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
CLIENTS = 8

SERVER = """
import signal, socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = socket.gethostname().encode()
DELAY = [0.0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

    def _answer(self, body):
        self.send_response(200)
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
        if self.path in ("/slow", "/fast"):
            DELAY[0] = 0.2 if self.path == "/slow" else 0.0
        elif DELAY[0]:
            time.sleep(DELAY[0])
        self._answer(NAME)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def image(script_image: Callable[[str, str], str]) -> str:
    return script_image("ecs-lb", SERVER)


def counts(url: str, requests: int, clients: int = 1) -> Counter[str]:
    """Which task answered each of ``requests``, sent by ``clients`` at once."""

    def client(share: int) -> list[str]:
        with httpx.Client(timeout=30) as http:
            answers = [http.post(url, content=b"x") for _ in range(share)]
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        return [a.text for a in answers]

    with ThreadPoolExecutor(clients) as pool:
        shares = list(pool.map(client, [requests // clients] * clients))
    return Counter(name for names in shares for name in names)


def tasks(daemon: Daemon, service: str) -> dict[str, str]:
    """Each running task's own address -> its hostname (what it answers with)."""
    described = daemon.api("GET", f"/v1/services/{service}")
    addresses = [t["address"] for t in described["tasks"] if t["health"] == "healthy"]
    return {a: httpx.post(f"http://{a}/fast", timeout=10).text for a in addresses}


def test_least_outstanding_requests_round_robin_and_slow_start_on_a_service(
    daemon: Daemon, image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family, service = unique_name("lb"), unique_name("svc")
    document: dict[str, Any] = {
        "family": family,
        "containerDefinitions": [
            {"name": "web", "image": image, "portMappings": [{"containerPort": 8080}]}
        ],
    }
    revision = register(daemon, tmp_path, document)
    create = ["service", "create", service, "--task-definition", revision, "--desired-count", "2"]
    shown = ok(
        daemon.cli(
            *create, "--load-balancer", "web:8080", "--lb-algorithm", "least_outstanding_requests"
        )
    )
    assert "least_outstanding_requests" in shown
    url = daemon.api("GET", f"/v1/services/{service}")["url"]
    (slow, slow_name), (_, fast_name) = sorted(tasks(daemon, service).items())
    httpx.post(f"http://{slow}/slow", timeout=10)

    by_lor = counts(url, 160, CLIENTS)
    print("least outstanding requests, a slow and a fast task:", dict(by_lor))
    assert by_lor[fast_name] > 2 * by_lor[slow_name], by_lor

    ok(daemon.cli("service", "update", service, "--lb-algorithm", "round_robin"))
    by_turn = counts(url, 80, CLIENTS)
    print("round robin, the same tasks:", dict(by_turn))
    assert abs(by_turn[fast_name] - by_turn[slow_name]) <= CLIENTS, by_turn

    httpx.post(f"http://{slow}/fast", timeout=10)
    ok(daemon.cli("service", "update", service, "--slow-start", "30"))
    ok(daemon.cli("service", "update", service, "--desired-count", "3"))
    (new_name,) = set(tasks(daemon, service).values()) - {slow_name, fast_name}
    first = counts(url, 60)
    assert first[new_name] < min(first[slow_name], first[fast_name]), first
    shares = [first[new_name]]

    def grown() -> bool:
        shares.append(counts(url, 60)[new_name])
        return shares[-1] > first[new_name] + 5

    wait_until(grown, timeout=TIMEOUT, what="the new task's share to grow")
    print("slow start: the new task's answers of each 60 requests:", shares)
    attributes = daemon.api("GET", f"/v1/target-groups/{service}/attributes")["Attributes"]
    assert {"Key": "slow_start.duration_seconds", "Value": "30"} in attributes
    ok(daemon.cli("service", "delete", service, "--force"))
