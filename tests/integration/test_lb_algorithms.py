"""Target-group algorithms and slow start on a live HAProxy (no container engine).

Two loopback targets answer with their id; one of them can be made slow (each request
sleeps). What is asserted is the order of the request counts each target got, never a
duration: with least outstanding requests the slow target, holding its requests longer,
gets fewer than the fast one; with round robin both get the same share whatever their
speed; with slow start a target registered next to a warm one starts with a small
share that grows.
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from test_haproxy import make_lb, state_dir, wait_until  # noqa: F401 (fixtures)

from dockyard.adapters.lb import HAProxyLoadBalancer
from dockyard.ports.lb import RouteSettings, Target

pytestmark = pytest.mark.integration

CLIENTS = 8


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall
    server: _Server

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        self._answer(200, json.dumps({"id": self.server.ident}).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    ident = ""
    delay_s = 0.0

    def handle_error(self, *args: Any) -> None:
        pass


@pytest.fixture
def make_target() -> Iterator[Callable[[str, float], Target]]:
    """A target answering /invocations with its id after ``delay_s`` seconds."""
    made: list[_Server] = []

    def make(ident: str, delay_s: float = 0.0) -> Target:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.ident, server.delay_s = ident, delay_s
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        made.append(server)
        return Target(ident, f"127.0.0.1:{server.server_address[1]}")

    yield make
    for server in made:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lb(make_lb: Callable[..., HAProxyLoadBalancer]) -> HAProxyLoadBalancer:  # noqa: F811
    balancer = make_lb()
    balancer.ensure_running()
    return balancer


def counts(lb: HAProxyLoadBalancer, route: str, requests: int, clients: int = 1) -> Counter[str]:
    """Which target answered each of ``requests`` requests sent by ``clients`` at once,
    each client on its own kept-alive connection."""

    def client(share: int) -> list[str]:
        conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=30)
        ids = []
        for _ in range(share):
            conn.request("POST", f"/endpoints/{route}/invocations", body=b"[1]")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, body
            ids.append(json.loads(body)["id"])
        conn.close()
        return ids

    with ThreadPoolExecutor(clients) as pool:
        shares = list(pool.map(client, [requests // clients] * clients))
    return Counter(i for ids in shares for i in ids)


def test_least_outstanding_requests_sends_a_slow_target_fewer_than_round_robin_does(
    lb: HAProxyLoadBalancer, make_target: Callable[..., Target]
) -> None:
    lor = RouteSettings("least_outstanding_requests")
    lb.ensure_route("lor", lor)
    lb.register("lor", make_target("fast"))
    lb.register("lor", make_target("slow", 0.2))
    by_lor = counts(lb, "lor", 160, CLIENTS)
    print("least outstanding requests:", dict(by_lor))
    assert by_lor["fast"] > 2 * by_lor["slow"], by_lor

    lb.ensure_route("lor", RouteSettings("round_robin"))  # a seamless reload
    assert lb.route_settings("lor") == RouteSettings("round_robin")
    assert {t.name: t.health for t in lb.targets("lor")} == {"fast": "healthy", "slow": "healthy"}
    by_turn = counts(lb, "lor", 80, CLIENTS)
    print("round robin:", dict(by_turn))
    assert abs(by_turn["fast"] - by_turn["slow"]) <= CLIENTS, by_turn


def test_a_new_route_gets_round_robin_or_lor_as_asked_and_keeps_it_across_a_restart(
    lb: HAProxyLoadBalancer,
    make_lb: Callable[..., HAProxyLoadBalancer],  # noqa: F811
) -> None:
    lb.ensure_route("plain")
    lb.ensure_route("turns", RouteSettings("round_robin", 30))
    assert lb.route_settings("plain") == RouteSettings()
    lb.stop()
    again = make_lb()
    assert again.ensure_running()
    assert again.route_settings("turns") == RouteSettings("round_robin", 30)
    assert again.route_settings("plain") == RouteSettings()
    assert again.route_settings("unknown") is None


def test_slow_start_gives_a_new_target_a_growing_share(
    lb: HAProxyLoadBalancer, make_target: Callable[..., Target]
) -> None:
    lb.ensure_route("warm", RouteSettings("round_robin", 30))
    lb.register("warm", make_target("old"))
    wait_until(lambda: {t.health for t in lb.targets("warm")} == {"healthy"})
    lb.register("warm", make_target("new"))
    assert {t.name: t.health for t in lb.targets("warm")}["new"] == "healthy"
    first = counts(lb, "warm", 60)
    assert first["new"] < first["old"], first
    shares = [first["new"]]  # the new target's answers of each round of 60 requests

    def grown() -> bool:
        shares.append(counts(lb, "warm", 60)["new"])
        return shares[-1] > first["new"] + 5

    wait_until(grown, timeout=60)  # the ramp lasts 30 s; its end is not waited for
    print("slow start: the new target's answers of each 60 requests:", shares)

    lb.ensure_route("cold", RouteSettings("round_robin"))
    lb.register("cold", make_target("a"))
    lb.register("cold", make_target("b"))
    even = counts(lb, "cold", 60)
    assert even["a"] == even["b"] == 30, even
