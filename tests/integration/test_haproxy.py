"""The HAProxy load balancer, for real: a live HAProxy in front of loopback targets.

Needs HAProxy only (no container engine). Targets are small HTTP servers on threads
that answer ``/ping`` and ``/invocations`` with their own id; a request with
``?hold=1`` stays in flight until the test releases it. Every call of the adapter
returns at once; what takes time is observed through ``targets()``, as the control
plane does on its next pass.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import itertools
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.lb import HAProxyLoadBalancer, LbOptions
from dockyard.adapters.lb.config import HealthCheck, LbConfig, ServerLine, Timeouts, render_config
from dockyard.adapters.lb.process import check_config, find_binary, terminate
from dockyard.adapters.processes import pid_alive
from dockyard.errors import SetupError
from dockyard.ports.lb import Share, Target

pytestmark = pytest.mark.integration

# Checks every 100 ms, one result decides: tests see health changes quickly.
FAST = HealthCheck(inter_ms=100, fastinter_ms=50, downinter_ms=50, rise=1, fall=1, timeout_ms=1000)


# -- targets ----------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall
    server: _TargetServer

    def do_GET(self) -> None:
        target = self.server.target
        target.seen.append(("GET", self.path))
        self._answer(target.ping_status if self.path == "/ping" else 404, b"")

    def do_POST(self) -> None:
        target = self.server.target
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target.seen.append(("POST", self.path))
        if "hold=1" in self.path:
            target.holding.release()
            target.release.wait(30)
        if "crash=1" in self.path:  # as a server that dies of this request: no answer
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        body = {"id": target.ident, "path": self.path}
        self._answer(target.invocation_status, json.dumps(body).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _TargetServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    target: FakeTarget

    def handle_error(self, *args: Any) -> None:
        pass  # HAProxy closes check connections with a reset; that is not an error here


class FakeTarget:
    """A replica: answers /ping with ``ping_status`` and /invocations with its id."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.ping_status = 200
        self.invocation_status = 200
        self.seen: list[tuple[str, str]] = []
        self.holding = threading.Semaphore(0)  # released once per request being held
        self.release = threading.Event()
        self._server = _TargetServer(("127.0.0.1", 0), _Handler)
        self._server.target = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def target(self, name: str | None = None) -> Target:
        return Target(name or self.ident, self.address)

    def kill(self) -> None:
        """Stop accepting: new connections are refused, as for a dead container."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def make_target() -> Iterator[Callable[[str], FakeTarget]]:
    made: list[FakeTarget] = []

    def make(ident: str) -> FakeTarget:
        made.append(FakeTarget(ident))
        return made[-1]

    yield make
    for target in made:
        with contextlib.suppress(OSError):
            target.kill()


# -- the load balancer ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short, because the admin socket lives under it and unix socket paths are short.
    path = Path(tempfile.mkdtemp(prefix="dy-lb-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_lb(state_dir: Path) -> Iterator[Callable[..., HAProxyLoadBalancer]]:
    """Adapters on one state dir and port; every HAProxy they ran is stopped at the end."""
    port = free_port()
    made: list[HAProxyLoadBalancer] = []

    def make(**options: Any) -> HAProxyLoadBalancer:
        options.setdefault("health", FAST)
        made.append(HAProxyLoadBalancer(state_dir, port=port, options=LbOptions(**options)))
        return made[-1]

    yield make
    for lb in made:
        lb.stop()
    for pid in _pids_seen:
        terminate(pid)
    _pids_seen.clear()


_pids_seen: list[int] = []


@pytest.fixture
def lb(make_lb: Callable[..., HAProxyLoadBalancer]) -> HAProxyLoadBalancer:
    balancer = make_lb()
    balancer.ensure_running()
    return balancer


def call(
    lb: HAProxyLoadBalancer, route: str, action: str = "invocations", query: str = ""
) -> tuple[int, dict[str, Any]]:
    """One request through the load balancer on a new connection: (status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=30)
    try:
        if action == "ping":
            conn.request("GET", f"/endpoints/{route}/ping{query}")
        else:
            conn.request("POST", f"/endpoints/{route}/{action}{query}", body=b"[[1, 2]]")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response.status, json.loads(body) if body else {}


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def health_of(lb: HAProxyLoadBalancer, route: str) -> dict[str, str]:
    return {t.name: t.health for t in lb.targets(route)}


# -- start and configuration ------------------------------------------------------------


def test_rendered_config_with_servers_is_valid_for_haproxy(tmp_path: Path) -> None:
    cfg = LbConfig(
        bind_host="127.0.0.1",
        bind_port=free_port(),
        socket_path=tmp_path / "s.sock",
        map_path=tmp_path / "routes.map",
        server_state_path=tmp_path / "state",
        split_path=tmp_path / "splits.map",
        slots=3,
    )
    (tmp_path / "routes.map").write_text("iris slot_1\n")
    (tmp_path / "splits.map").write_text("iris *\niris.0 iris-a:a\n")
    (tmp_path / "state").write_text("1\n")
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_config(cfg, [ServerLine(1, "task-1", "127.0.0.1:8080")]))
    check_config(find_binary(), config)  # raises with HAProxy's words if not


def test_missing_haproxy_is_a_setup_error_saying_how_to_install(state_dir: Path) -> None:
    lb = HAProxyLoadBalancer(state_dir, port=free_port(), binary="no-such-haproxy")
    with pytest.raises(SetupError) as raised:
        lb.ensure_running()
    assert "apt-get install" in (raised.value.hint or "")


def test_busy_port_is_a_setup_error_pointing_at_the_log(state_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        lb = HAProxyLoadBalancer(state_dir, port=taken.getsockname()[1])
        with pytest.raises(SetupError) as raised:
            lb.ensure_running()
    assert raised.value.resource == str(lb.paths.log)
    assert "DOCKYARD_LB_PORT" in (raised.value.hint or "")


def test_ensure_running_reuses_the_live_process(
    lb: HAProxyLoadBalancer, make_lb: Callable[..., HAProxyLoadBalancer]
) -> None:
    pid = lb.pid()
    make_lb().ensure_running()
    assert lb.pid() == pid
    assert lb.paths.pidfile.read_text().strip() == str(pid)


def test_url_names_the_invocations_path_of_the_route(lb: HAProxyLoadBalancer) -> None:
    assert lb.url_for("iris") == f"http://127.0.0.1:{lb.port}/endpoints/iris/invocations"


# -- routing ----------------------------------------------------------------------------


def test_route_without_targets_answers_503(lb: HAProxyLoadBalancer) -> None:
    lb.ensure_route("iris")
    status, body = call(lb, "iris")
    assert status == 503
    assert body["route"] == "iris"


def test_unknown_route_answers_404_naming_it(lb: HAProxyLoadBalancer) -> None:
    status, body = call(lb, "nope")
    assert status == 404
    assert body["route"] == "nope"
    assert "nope" in body["message"]


def test_other_paths_answer_404(lb: HAProxyLoadBalancer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    conn.request("GET", "/invocations")
    assert conn.getresponse().status == 404
    conn.close()


def test_requests_alternate_between_two_targets_with_the_path_rewritten(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    lb.register("iris", b.target())
    answers = [call(lb, "iris", query="?x=1") for _ in range(6)]
    assert {status for status, _ in answers} == {200}
    ids = [body["id"] for _, body in answers]
    assert set(ids) == {"a", "b"}
    assert all(first != second for first, second in itertools.pairwise(ids))
    assert {body["path"] for _, body in answers} == {"/invocations?x=1"}


def test_ping_of_a_route_reaches_a_target_ping(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    a.seen.clear()
    status, _ = call(lb, "iris", action="ping")
    assert status == 200
    assert ("GET", "/ping") in a.seen


def test_registered_targets_read_back_healthy(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", Target("arn:aws:ecs:local:0:task/c/1", a.address))
    assert lb.targets("iris") == [Target("arn:aws:ecs:local:0:task/c/1", a.address, "healthy")]


def test_register_does_not_wait_for_haproxy_to_check_the_target(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    a.ping_status = 503  # HAProxy's check could never pass
    lb.register("iris", a.target())
    assert [(t.name, t.address) for t in lb.targets("iris")] == [("a", a.address)]


def test_registering_again_is_a_no_op(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    call(lb, "iris")
    lb.register("iris", a.target())
    assert lb.targets("iris") == [Target("a", a.address, "healthy")]
    assert lb.stats()[0].targets[0].counters.requests == 1  # the same server, kept


def test_registering_a_new_address_under_the_same_name_replaces_the_old_one(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    old, new = make_target("old"), make_target("new")
    lb.register("iris", old.target("replica"))
    old.kill()
    wait_until(lambda: health_of(lb, "iris")["replica"] == "unhealthy")
    lb.register("iris", new.target("replica"))
    assert lb.targets("iris") == [Target("replica", new.address, "healthy")]
    assert call(lb, "iris") == (200, {"id": "new", "path": "/invocations"})


def test_registering_a_drained_target_again_puts_it_back_in_service(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    lb.drain("iris", "a")
    assert call(lb, "iris")[0] == 503
    lb.register("iris", a.target())
    assert health_of(lb, "iris") == {"a": "healthy"}
    assert call(lb, "iris")[0] == 200


def test_removed_route_answers_404_and_loses_its_targets(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    lb.register("iris", make_target("a").target())
    lb.remove_route("iris")
    assert lb.routes() == []
    assert lb.targets("iris") == []
    assert call(lb, "iris")[0] == 404
    lb.ensure_route("iris")  # its slot comes back empty
    assert call(lb, "iris")[0] == 503


# -- health ----------------------------------------------------------------------------


def test_target_whose_ping_fails_is_out_of_rotation_until_it_passes_again(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    b.ping_status = 503
    lb.register("iris", b.target())
    wait_until(lambda: health_of(lb, "iris")["b"] == "unhealthy")
    assert {call(lb, "iris")[1]["id"] for _ in range(6)} == {"a"}
    b.ping_status = 200
    wait_until(lambda: health_of(lb, "iris")["b"] == "healthy")
    assert {call(lb, "iris")[1]["id"] for _ in range(6)} == {"a", "b"}


def test_killed_target_costs_no_request_and_is_marked_down(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    lb.register("iris", b.target())
    b.kill()
    answers = [call(lb, "iris") for _ in range(10)]
    assert [status for status, _ in answers] == [200] * 10
    assert {body["id"] for _, body in answers} == {"a"}
    wait_until(lambda: health_of(lb, "iris")["b"] == "unhealthy")


def test_a_request_that_kills_its_target_is_not_sent_to_another(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    lb.register("iris", b.target())
    wait_until(lambda: set(health_of(lb, "iris").values()) == {"healthy"})

    status, body = call(lb, "iris", query="?crash=1")

    assert status == 502
    assert body["code"] == "BadGateway"
    crashed = [t.ident for t in (a, b) if ("POST", "/invocations?crash=1") in t.seen]
    assert len(crashed) == 1, f"the request reached {crashed}"
    assert [call(lb, "iris")[0] for _ in range(4)] == [200] * 4


def test_target_refusing_connections_answers_502(
    make_lb: Callable[..., HAProxyLoadBalancer], make_target: Callable[[str], FakeTarget]
) -> None:
    slow_checks = HealthCheck(inter_ms=60_000, fastinter_ms=60_000, downinter_ms=50, rise=1)
    lb = make_lb(health=slow_checks)  # the dead target stays UP: no check comes soon
    lb.ensure_running()
    a = make_target("a")
    lb.register("iris", a.target())
    wait_until(lambda: ("GET", "/ping") in a.seen)  # the check made at once; next in 60 s
    a.kill()
    status, body = call(lb, "iris")
    assert status == 502
    assert body["route"] == "iris"


def test_error_a_target_sends_itself_passes_unchanged(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    a.invocation_status = 503
    assert call(lb, "iris") == (503, {"id": "a", "path": "/invocations"})


def test_target_answering_too_late_answers_504(
    make_lb: Callable[..., HAProxyLoadBalancer], make_target: Callable[[str], FakeTarget]
) -> None:
    lb = make_lb(timeouts=Timeouts(server_ms=300))
    lb.ensure_running()
    a = make_target("a")
    lb.register("iris", a.target())
    status, body = call(lb, "iris", query="?hold=1")
    a.release.set()
    assert status == 504
    assert body["code"] == "GatewayTimeout"


# -- draining and removal ----------------------------------------------------------------


def hold_request(lb: HAProxyLoadBalancer, target: FakeTarget, route: str) -> Callable[[], Any]:
    """Start a request that ``target`` holds; returns a function giving its answer."""
    answers: list[tuple[int, dict[str, Any]]] = []
    thread = threading.Thread(target=lambda: answers.append(call(lb, route, query="?hold=1")))
    thread.start()
    assert target.holding.acquire(timeout=10)

    def answer() -> tuple[int, dict[str, Any]]:
        thread.join(30)
        return answers[0]

    return answer


def test_drained_target_finishes_its_request_while_new_ones_go_elsewhere(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    held = hold_request(lb, a, "iris")
    lb.register("iris", b.target())
    lb.drain("iris", "a")
    assert lb.targets("iris") == [
        Target("a", a.address, "draining", in_flight=1),
        Target("b", b.address, "healthy"),
    ]
    assert {call(lb, "iris")[1]["id"] for _ in range(4)} == {"b"}
    a.release.set()
    assert held() == (200, {"id": "a", "path": "/invocations?hold=1"})
    wait_until(lambda: lb.targets("iris")[0].in_flight == 0)
    assert health_of(lb, "iris") == {"a": "draining", "b": "healthy"}


def test_draining_an_unknown_target_or_route_does_nothing(lb: HAProxyLoadBalancer) -> None:
    lb.drain("iris", "ghost")
    lb.ensure_route("iris")
    lb.drain("iris", "ghost")
    assert lb.targets("iris") == []


def test_removing_an_idle_drained_target_takes_it_out_at_once(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    lb.register("iris", b.target())
    for _ in range(4):
        call(lb, "iris")  # leaves idle connections to both in HAProxy's pool
    lb.drain("iris", "a")
    assert lb.remove("iris", "a") is True
    assert lb.targets("iris") == [Target("b", b.address, "healthy")]
    assert {call(lb, "iris")[1]["id"] for _ in range(4)} == {"b"}


def test_removing_a_busy_target_cuts_its_request_in_flight(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    held = hold_request(lb, a, "iris")
    wait_until(lambda: lb.remove("iris", "a"))  # a later pass asks again if HAProxy refused
    assert held()[0] == 502
    assert lb.targets("iris") == []


def test_removing_an_unknown_target_or_route_succeeds(lb: HAProxyLoadBalancer) -> None:
    assert lb.remove("iris", "ghost") is True
    lb.ensure_route("iris")
    assert lb.remove("iris", "ghost") is True


def test_deregister_drains_then_removes_once_the_request_in_flight_finished(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    held = hold_request(lb, a, "iris")
    lb.register("iris", b.target())
    deregistering = threading.Thread(target=lb.deregister, args=("iris", "a", 30.0))
    deregistering.start()
    wait_until(lambda: health_of(lb, "iris").get("a") == "draining")
    assert {call(lb, "iris")[1]["id"] for _ in range(4)} == {"b"}
    a.release.set()
    deregistering.join(30)
    assert held() == (200, {"id": "a", "path": "/invocations?hold=1"})
    assert health_of(lb, "iris") == {"b": "healthy"}


def test_deregister_of_unknown_target_or_route_does_nothing(lb: HAProxyLoadBalancer) -> None:
    lb.deregister("iris", "ghost", drain_seconds=0)
    lb.ensure_route("iris")
    lb.deregister("iris", "ghost", drain_seconds=0)
    assert lb.targets("iris") == []


# -- growth and restarts ---------------------------------------------------------------


def test_more_routes_than_slots_grow_the_pool_with_one_reload_while_serving(
    make_lb: Callable[..., HAProxyLoadBalancer], make_target: Callable[[str], FakeTarget]
) -> None:
    lb = make_lb(pool_size=2)
    lb.ensure_running()
    a, sick = make_target("a"), make_target("sick")
    lb.register("r0", a.target())
    sick.ping_status = 500
    lb.register("r0", sick.target())
    wait_until(lambda: health_of(lb, "r0")["sick"] == "unhealthy")  # must stay DOWN
    lb.ensure_route("r1")
    first_pid = lb.pid()
    assert first_pid is not None
    _pids_seen.append(first_pid)
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            statuses.append(call(lb, "r0")[0])

    background = threading.Thread(target=traffic)
    background.start()
    wait_until(lambda: len(statuses) >= 5)
    lb.ensure_route("r2")  # no slot left: one reload, to 4 slots
    lb.ensure_route("r3")  # fits
    seen = len(statuses)
    wait_until(lambda: len(statuses) >= seen + 5)
    stop.set()
    background.join(10)
    assert lb.slot_count() == 4
    assert lb.pid() != first_pid
    assert set(statuses) == {200}
    assert lb.routes() == ["r0", "r1", "r2", "r3"]
    assert lb.targets("r0") == [
        Target("a", a.address, "healthy"),
        Target("sick", sick.address, "unhealthy"),
    ]
    assert call(lb, "r3")[0] == 503
    wait_until(lambda: not pid_alive(first_pid))  # the old process finished and left


def test_targets_carried_over_a_reload_can_be_drained_and_removed(
    make_lb: Callable[..., HAProxyLoadBalancer], make_target: Callable[[str], FakeTarget]
) -> None:
    lb = make_lb(pool_size=1)
    lb.ensure_running()
    a = make_target("a")
    lb.register("r0", a.target())
    first_pid = lb.pid()
    assert first_pid is not None
    _pids_seen.append(first_pid)
    lb.ensure_route("r1")  # no slot left: a reload writes "a" into the config
    lb.drain("r0", "a")
    assert health_of(lb, "r0") == {"a": "draining"}
    assert lb.remove("r0", "a") is True
    assert lb.targets("r0") == []


def test_new_adapter_on_the_same_state_reads_back_the_same_targets(
    lb: HAProxyLoadBalancer,
    make_lb: Callable[..., HAProxyLoadBalancer],
    make_target: Callable[[str], FakeTarget],
) -> None:
    a, b = make_target("a"), make_target("b")
    lb.register("iris", a.target())
    lb.register("churn", b.target())
    b.ping_status = 500
    wait_until(lambda: health_of(lb, "churn")["b"] == "unhealthy")
    again = make_lb()
    again.ensure_running()
    assert again.routes() == ["churn", "iris"]
    assert again.targets("iris") == lb.targets("iris") == [Target("a", a.address, "healthy")]
    assert again.targets("churn") == [Target("b", b.address, "unhealthy")]


def test_a_running_haproxy_with_another_configuration_is_replaced_keeping_its_targets(
    lb: HAProxyLoadBalancer,
    make_lb: Callable[..., HAProxyLoadBalancer],
    make_target: Callable[[str], FakeTarget],
) -> None:
    """What an upgrade of Dockyard does: the new version's configuration takes over."""
    a = make_target("a")
    lb.register("iris", a.target())
    before = lb.pid()
    upgraded = make_lb(retries=1)

    assert upgraded.ensure_running() is False  # targets kept: nothing to re-register
    assert upgraded.pid() not in (None, before)
    assert "    retries 1" in upgraded.paths.config.read_text()
    assert upgraded.targets("iris") == [Target("a", a.address, "healthy")]
    assert call(upgraded, "iris") == (200, {"id": "a", "path": "/invocations"})
    again = upgraded.pid()
    assert upgraded.ensure_running() is False
    assert upgraded.pid() == again  # the same configuration: left alone


def test_killed_haproxy_restarts_with_its_routes_and_targets_come_back_by_registering(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    a = make_target("a")
    lb.register("iris", a.target())
    lb.ensure_route("churn")
    pid = lb.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid))
    lb.ensure_running()
    assert lb.pid() not in (None, pid)
    assert lb.routes() == ["churn", "iris"]
    assert lb.targets("iris") == []
    assert call(lb, "iris")[0] == 503
    lb.register("iris", a.target())
    assert call(lb, "iris") == (200, {"id": "a", "path": "/invocations"})


# -- statistics ---------------------------------------------------------------------------


def test_stats_count_responses_per_route_and_target(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    lb.ensure_route("empty")
    lb.register("iris", make_target("a").target())
    for _ in range(3):
        call(lb, "iris")
    call(lb, "empty")
    stats = {s.route: s for s in lb.stats()}
    assert stats["iris"].counters.requests == 3
    assert stats["iris"].counters.responses_2xx == 3
    assert [(t.name, t.counters.responses_2xx) for t in stats["iris"].targets] == [("a", 3)]
    assert stats["empty"].counters.responses_5xx == 1


def test_every_answered_request_s_time_is_read_back_once_by_route(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    lb.ensure_route("empty")
    lb.register("iris", make_target("a").target())
    for _ in range(5):
        call(lb, "iris")
    call(lb, "empty")
    call(lb, "no-such-route")  # answered by the front end: no route, not counted

    answered = lb.response_times()

    assert sorted((r.route, r.status) for r in answered) == [("empty", 503)] + [("iris", 200)] * 5
    assert all(r.ms >= 0 for r in answered)
    assert lb.response_times() == []
    call(lb, "iris")
    assert [(r.route, r.status) for r in lb.response_times()] == [("iris", 200)]
    traffic = {t.route: t for t in lb.traffic()}
    assert traffic["iris"].requests == 6
    assert traffic["empty"].responses_5xx == 1


# -- multi-model routes ------------------------------------------------------------------


def _target_model_call(lb: HAProxyLoadBalancer, route: str, model: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=30)
    try:
        headers = {"X-Amzn-SageMaker-Target-Model": model}
        conn.request("POST", f"/endpoints/{route}/invocations", body=b"[[1]]", headers=headers)
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200, body
    return str(body["id"])


def test_an_affinity_route_sends_each_target_model_to_one_replica(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    lb.ensure_route("mme", affinity=True)
    for ident in ("a", "b", "c"):
        lb.register("mme", make_target(ident).target())
    models = [f"m{i}/model.tar.gz" for i in range(12)]
    first = {model: _target_model_call(lb, "mme", model) for model in models}
    again = {model: _target_model_call(lb, "mme", model) for model in models}
    assert first == again
    assert len(set(first.values())) > 1  # the models spread over the replicas


def test_an_affinity_route_keeps_its_targets_across_a_growth_of_the_pool(
    make_lb: Callable[..., HAProxyLoadBalancer], make_target: Callable[[str], FakeTarget]
) -> None:
    lb = make_lb(pool_size=1)
    lb.ensure_running()
    lb.ensure_route("mme", affinity=True)
    lb.register("mme", make_target("a").target())
    lb.ensure_route("r1")
    lb.ensure_route("r2")  # no ordinary slot left: a reload
    assert _target_model_call(lb, "mme", "x.tar.gz") == "a"


# -- production variants (splits) -------------------------------------------------------


def call_variant(
    lb: HAProxyLoadBalancer, route: str, pin: str | None = None
) -> tuple[int, str | None, dict[str, Any]]:
    """One request, pinned to a variant or not: (status, invoked variant, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=30)
    headers = {"X-Amzn-SageMaker-Target-Variant": pin} if pin is not None else {}
    try:
        conn.request("POST", f"/endpoints/{route}/invocations", body=b"[[1]]", headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    invoked = response.getheader("X-Amzn-Invoked-Production-Variant")
    return response.status, invoked, json.loads(body) if body else {}


@pytest.fixture
def two_variants(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> HAProxyLoadBalancer:
    """Route ``ep`` (variant ``a``'s own) and ``ep-b`` (variant ``b``), a target each."""
    for route, ident in (("ep", "a1"), ("ep-b", "b1")):
        lb.ensure_route(route)
        lb.register(route, make_target(ident).target())
    return lb


def test_a_split_route_spreads_requests_by_weight_and_names_the_variant(
    two_variants: HAProxyLoadBalancer,
) -> None:
    lb = two_variants
    lb.split("ep", [Share("a", "ep", 0.75), Share("b", "ep-b", 0.25)])
    seen = {"a": 0, "b": 0}
    for _ in range(800):
        status, invoked, body = call_variant(lb, "ep")
        assert status == 200
        assert invoked is not None and body["id"] == f"{invoked}1"
        seen[invoked] += 1
    # binomial(800, 0.25): sd ~12; 5 sd either side
    assert 140 <= seen["b"] <= 260, seen


def test_a_pinned_variant_takes_the_request_whatever_its_weight(
    two_variants: HAProxyLoadBalancer,
) -> None:
    lb = two_variants
    lb.split("ep", [Share("a", "ep", 1.0), Share("b", "ep-b", 0.0)])
    assert {call_variant(lb, "ep")[1] for _ in range(20)} == {"a"}
    assert {call_variant(lb, "ep", pin="b")[1] for _ in range(5)} == {"b"}


def test_an_unknown_pinned_variant_answers_400_naming_it(
    two_variants: HAProxyLoadBalancer,
) -> None:
    lb = two_variants
    lb.split("ep", [Share("a", "ep", 1.0), Share("b", "ep-b", 1.0)])
    status, _, body = call_variant(lb, "ep", pin="nope")
    assert status == 400
    assert body["code"] == "ValidationError" and "nope" in body["message"]


def test_changing_weights_keeps_the_process_and_its_servers(
    two_variants: HAProxyLoadBalancer,
) -> None:
    lb = two_variants
    lb.split("ep", [Share("a", "ep", 1.0), Share("b", "ep-b", 0.0)])
    pid, targets = lb.pid(), lb.targets("ep") + lb.targets("ep-b")
    lb.split("ep", [Share("a", "ep", 0.0), Share("b", "ep-b", 1.0)])
    assert {call_variant(lb, "ep")[1] for _ in range(20)} == {"b"}
    assert lb.pid() == pid and lb.targets("ep") + lb.targets("ep-b") == targets


def test_a_split_outlives_a_restart_of_haproxy_and_goes_with_its_route(
    lb: HAProxyLoadBalancer,
    make_lb: Callable[..., HAProxyLoadBalancer],
    make_target: Callable[[str], FakeTarget],
) -> None:
    b1 = make_target("b1")
    lb.ensure_route("ep")
    lb.ensure_route("ep-b")
    lb.split("ep", [Share("a", "ep", 0.0), Share("b", "ep-b", 1.0)])
    lb.stop()
    again = make_lb()
    assert again.ensure_running()
    again.register("ep-b", b1.target())
    assert call_variant(again, "ep")[:2] == (200, "b")
    again.remove_route("ep")
    assert again.splits() == {}
    assert call_variant(again, "ep")[0] == 404


def test_a_split_larger_than_one_runtime_command_is_applied_whole(
    lb: HAProxyLoadBalancer, make_target: Callable[[str], FakeTarget]
) -> None:
    route = "an-endpoint-whose-name-is-long-enough-to-make-the-split-map-large-" + "x" * 40
    lb.ensure_route(route)
    lb.ensure_route(f"{route}-b")
    lb.register(route, make_target("a1").target())
    lb.register(f"{route}-b", make_target("b1").target())
    lb.split(route, [Share("a", route, 1.0), Share("b", f"{route}-b", 0.0)])
    lb.split(route, [Share("a", route, 0.5), Share("b", f"{route}-b", 0.5)])
    seen = Counter(call_variant(lb, route)[1] for _ in range(200))
    assert seen["a"] > 40 and seen["b"] > 40, seen  # binomial(200, 0.5): sd ~7
