"""Eight endpoints deployed at once through the daemon, next to one alone and the bare engine.

Three things are timed in each round, one after the other (A/B/C, A/B/C…), so that
the machine's noise hits all three alike:

* ``eight``: 8 ``POST /v1/endpoints`` (2 replicas each of the iris image), sent at
  once from 8 threads, until all 8 endpoints say ``InService``;
* ``alone``: one such endpoint, the same way, until ``InService``;
* ``engine``: the same 16 containers (``IMAGE serve``) started directly through the
  engine adapter, 16 side by side, until each answers ``GET /ping`` with 200 on its
  published port: what the engine and the model servers cost with no control plane.
  Each is pinged one attempt at a time every 50 ms (Dockyard checks a converging
  replica every 100 ms): the foundation benchmark's prober, an attempt every 10 ms
  each in its own thread, spends more CPU than 16 model servers can spare on 2 cores.

In ``eight`` and ``alone`` a :class:`Poller` calls ``GET /v1/endpoints`` every 50 ms
on one connection of the daemon's unix socket (an in-process client, the CLI's
:class:`~dockyard.cli.client.ApiClient`), for the whole deploy: its answers tell when
each endpoint turned ``InService``, and its latencies are the API's latency under
that load. After the eight are in service and the daemon has settled, the same poller
runs for a while longer: the API's latency with the daemon idle (the ceiling).

The daemon is the benchmark's own (its own state directory, SQLite store, HAProxy
on a free port) on the engine ``dockyard setup`` prepared: containers carry their
daemon's installation label, and each daemon removes only its own, so the benchmark
and the installation's daemon leave each other's replicas alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from control_plane_stack import DaemonLog, EngineStack, OwnContainers, cpu_of, cpu_self, delta
from foundation_deploy import delete_endpoint

from dockyard.adapters.engine import DockerEngine
from dockyard.cli.client import ApiClient
from dockyard.errors import DockyardError
from dockyard.ports.engine import ContainerSpec
from dockyard.server.containers import installation_id
from dockyard.settings import Settings

REPLICAS = 2
ROUND_TIMEOUT = 240.0
SETTLE_S = 1.0  # after InService, before the idle latency is taken
POLL_PERIOD_S = 0.05  # the API poller's pace: 20 calls a second
DIRECT_PROBE_PERIOD_S = 0.05  # engine-direct containers are pinged this often
PING_TIMEOUT_S = 2.0  # as Dockyard's own checks (the SageMaker contract)
BENCH_LABEL = {"dockyard.bench": "control-plane"}
ALONE = "cp-bench-alone"


def names(count: int) -> tuple[str, ...]:
    """The endpoints deployed at once."""
    return tuple(f"cp-bench-{i}" for i in range(count))


class Poller(threading.Thread):
    """``GET /v1/endpoints`` every ``period`` seconds until stopped, one call at a time
    (a call slower than the period is followed at once by the next): every call's
    latency (when it ended, monotonic; seconds), and when each of ``names`` was first
    seen ``InService``."""

    def __init__(
        self, settings: Settings, names: tuple[str, ...] = (), period: float = POLL_PERIOD_S
    ) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.client = ApiClient(settings)
        self.names = set(names)
        self.samples: list[tuple[float, float]] = []
        self.in_service_at: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.errors = 0
        self.first = threading.Event()
        self.done = threading.Event()  # every name InService, or one Failed
        self._halt = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._halt.wait(max(0.0, next_at - time.monotonic())):
            t0 = time.monotonic()
            next_at = t0 + self.period
            try:
                doc = self.client.request("GET", "/v1/endpoints")
            except DockyardError:
                self.errors += 1
                continue
            t1 = time.monotonic()
            self.samples.append((t1, t1 - t0))
            self.first.set()
            for endpoint in doc["Endpoints"]:
                name, status = endpoint["EndpointName"], endpoint["EndpointStatus"]
                if name in self.names and status == "InService":
                    self.in_service_at.setdefault(name, t1)
                elif name in self.names and status == "Failed":
                    self.failed[name] = str(endpoint.get("FailureReason"))
            if self.failed or (self.names and self.names <= self.in_service_at.keys()):
                self.done.set()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def latencies_ms(self, start: float, end: float) -> list[float]:
        return [round(s * 1e3, 3) for at, s in self.samples if start <= at <= end]


# -- the rounds ---------------------------------------------------------------------------


def deploy_round(
    stack: EngineStack,
    image: str,
    names: tuple[str, ...],
    idle_s: float = 0.0,
    period: float = POLL_PERIOD_S,
) -> dict[str, Any]:
    """POST ``names`` at once; time until all are InService; then (``idle_s``) the API's
    latency with the daemon settled; then delete them and wait until they are gone."""
    posters = [ApiClient(stack.settings) for _ in names]
    poller = Poller(stack.settings, names, period)
    poller.start()
    poller.first.wait(30)  # the poller's connection is open before the clock starts
    pid = stack.daemon_pid()
    log = DaemonLog(stack.settings)
    log.mark()
    cpu0, daemon0, load = cpu_self(), cpu_of(pid), round(os.getloadavg()[0], 2)

    def post(client: ApiClient, name: str) -> float:
        body = {"EndpointName": name, "Image": image, "InstanceCount": REPLICAS}
        client.request("POST", "/v1/endpoints", json=body)
        return time.monotonic()

    with ThreadPoolExecutor(len(names)) as pool:
        t0 = time.monotonic()
        posted = list(pool.map(post, posters, names))
        finished = poller.done.wait(ROUND_TIMEOUT)
    t_end = max(poller.in_service_at.values(), default=time.monotonic())
    cpu1, daemon1 = cpu_self(), cpu_of(pid)
    result: dict[str, Any] = {
        "in_service_s": round(t_end - t0, 4) if finished and not poller.failed else None,
        "per_endpoint_s": [_since(t0, poller.in_service_at.get(n)) for n in names],
        "post_s": [_since(t0, t) for t in posted],
        "failed": poller.failed,
        "api_errors": poller.errors,
        "daemon_log": log.counts(),
        "latency_ms": poller.latencies_ms(t0, t_end),
        "bench_cpu_s": round(cpu1 - cpu0, 3),
        "daemon_cpu_s": delta(daemon1, daemon0),
        "loadavg_1m": load,
    }
    if idle_s and result["in_service_s"] is not None:
        time.sleep(SETTLE_S)
        t_idle = time.monotonic()
        time.sleep(idle_s)
        result["idle_latency_ms"] = poller.latencies_ms(t_idle, time.monotonic())
    poller.stop()
    log.mark()
    result["delete_s"] = delete_all(stack, names)
    result["delete_daemon_log"] = log.counts()
    return result


def _since(t0: float, at: float | None) -> float | None:
    return None if at is None else round(at - t0, 4)


def delete_all(stack: EngineStack, names: tuple[str, ...]) -> float:
    """Delete every one, then wait until each is gone and no container of ours is left.

    The waits run one after the other: each polls the API, and side by side they would
    add to the load on HAProxy's admin socket that the README's findings describe.
    """
    mine = OwnContainers(stack.engine, installation_id(stack.settings.state_dir))
    client = ApiClient(stack.settings)
    t0 = time.monotonic()
    for name in names:
        _retrying(lambda n=name: client.request("DELETE", f"/v1/endpoints/{n}"))
    for name in names:
        _retrying(lambda n=name: delete_endpoint(client, mine, n))  # type: ignore[arg-type]
    return round(time.monotonic() - t0, 4)


def _retrying(call: Callable[[], object], attempts: int = 10) -> None:
    """``call``, again after a 500 from the daemon (its HAProxy admin socket was busy);
    an endpoint already gone is fine."""
    for attempt in range(attempts):
        try:
            call()
            return
        except DockyardError as error:
            if error.code == "ResourceNotFound":
                return
            if error.code != "SetupError" or attempt == attempts - 1:
                raise
            time.sleep(0.2)


def engine_round(stack: EngineStack, image: str, containers: int) -> dict[str, Any]:
    """``containers`` times ``IMAGE serve`` started through the engine adapter side by
    side, each pinged (``GET /ping`` on its published port, one attempt at a time, every
    :data:`DIRECT_PROBE_PERIOD_S`) from the moment its ``run`` returned, until all answer
    200; then removed."""
    specs = [
        ContainerSpec(
            name=f"cp-bench-direct-{i}",
            image=image,
            command=["serve"],
            ports=[8080],
            labels=BENCH_LABEL,
            stop_timeout=1,
        )
        for i in range(containers)
    ]
    for spec in specs:  # left by an interrupted run
        stack.engine.remove(spec.name)
    pid = stack.daemon_pid()  # idle meanwhile: its CPU shows that it stays out of the way
    cpu0, daemon0, load = cpu_self(), cpu_of(pid), round(os.getloadavg()[0], 2)
    with ThreadPoolExecutor(containers) as pool:
        t0 = time.monotonic()
        outcomes = list(pool.map(lambda spec: _run_and_ping(stack.engine, spec), specs))
        cpu1, daemon1 = cpu_self(), cpu_of(pid)
        list(pool.map(stack.engine.remove, [spec.name for spec in specs]))
    answered = [at for _, at in outcomes]
    done = [round(at - t0, 4) for at in answered if at is not None]
    return {
        "all_200_s": max(done) if len(done) == containers else None,
        "first_200_s": min(done) if done else None,
        "per_container_s": [_since(t0, at) for at in answered],
        "run_returned_s": [_since(t0, started) for started, _ in outcomes],
        "bench_cpu_s": round(cpu1 - cpu0, 3),
        "daemon_cpu_s": delta(daemon1, daemon0),
        "loadavg_1m": load,
    }


def _run_and_ping(engine: DockerEngine, spec: ContainerSpec) -> tuple[float, float | None]:
    """(when ``run`` returned, when the container first answered ``/ping`` with 200)."""
    state = engine.run(spec)
    started = time.monotonic()
    url = f"http://127.0.0.1:{state.host_ports[8080]}/ping"
    deadline = started + ROUND_TIMEOUT
    with httpx.Client(timeout=PING_TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            attempt = time.monotonic()
            try:
                if client.get(url).status_code == 200:
                    return started, time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(max(0.0, attempt + DIRECT_PROBE_PERIOD_S - time.monotonic()))
    return started, None


def idle_latency(stack: EngineStack, seconds: float, period: float = POLL_PERIOD_S) -> list[float]:
    """The API's latency with nothing deployed and nothing happening."""
    poller = Poller(stack.settings, (), period)
    poller.start()
    poller.first.wait(30)
    t0 = time.monotonic()
    time.sleep(seconds)
    poller.stop()
    return poller.latencies_ms(t0, time.monotonic())


def clear_endpoints(stack: EngineStack) -> list[str]:
    """Delete every endpoint of the benchmark's daemon (left by an interrupted run)."""
    doc = stack.client().request("GET", "/v1/endpoints")
    names = tuple(e["EndpointName"] for e in doc["Endpoints"])
    if names:
        delete_all(stack, names)
    return list(names)
