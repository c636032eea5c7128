"""One reconcile pass of the whole control plane, on in-memory fakes, at scale.

The daemon's own control plane (:class:`dockyard.server.control_plane.ControlPlane`)
runs here on :class:`~dockyard.adapters.store.memory.MemoryStore`,
:class:`~dockyard.testing.FakeEngine`, :class:`~dockyard.testing.FakeLoadBalancer` and
a health probe, with no container, socket or file in the way. ``services`` endpoints
of :data:`REPLICAS` replicas are deployed through :func:`dockyard.server.endpoints.deploy`
and passes are run until every endpoint is InService and every service steady; then
one full pass is timed, several times:

* ``loop``: :meth:`ControlLoop.run_once`, what the daemon's loop does on a resync
  (every resource submitted to the worker pool, side by side);
* ``serial``: every reconciler's ``reconcile(key, now)`` called in turn on this
  thread, with each port's methods timed (:class:`PortClock`), which splits the pass
  into the fakes' time and the control plane's own;
* ``planning``: :func:`dockyard.control.service.plan_service` alone, on the inputs the
  pass hands it (each service's tasks and their health), to show the pure part.

Two probes: :class:`~dockyard.testing.FakeHealthProbe` (answers from the fake engine's
containers) and :class:`PassingProbe` (every ping passes, in constant time per url),
because the fake probe looks through every container for every url and at 10,000
tasks would be most of the pass (see the README's findings).
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from control_plane_clock import PortClock

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.store.memory import MemoryStore
from dockyard.control.endpoint import EndpointStatus
from dockyard.control.service import plan_service
from dockyard.ports.probe import HealthProbe
from dockyard.server import endpoints
from dockyard.server.control_plane import ControlPlane
from dockyard.server.platform import Platform
from dockyard.server.services import replica_health
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

REPLICAS = 10
IMAGE = "bench-iris:fake"
MAX_CONVERGE_PASSES = 20
PROBES = ("fake", "passing")

ENGINE_METHODS = ("ping", "run", "inspect", "list", "stop", "kill", "remove", "image")
ENGINE_METHODS += ("ensure_network", "remove_network")
LB_METHODS = ("ensure_running", "url_for", "ensure_route", "remove_route", "targets")
LB_METHODS += ("register", "drain", "remove")
COLLECTION_METHODS = ("get", "require", "list", "put", "create", "delete")
COLLECTIONS = ("tasks", "services", "endpoints", "training_jobs", "task_definitions")


class PassingProbe:
    """A :class:`~dockyard.ports.probe.HealthProbe` whose every check passes at once.

    Every fake container runs from the moment it starts, so this answers what
    :class:`FakeHealthProbe` answers, in O(1) per url instead of a scan of the engine.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.urls_checked = 0

    def check(self, urls: Mapping[str, str]) -> dict[str, bool]:
        self.calls["check"] += 1
        self.urls_checked += len(urls)
        return dict.fromkeys(urls, True)

    def close(self) -> None:
        self.calls["close"] += 1


@dataclass
class World:
    """A control plane on fakes, and the fakes, to read their counters."""

    control_plane: ControlPlane
    platform: Platform
    store: MemoryStore
    engine: FakeEngine
    lb: FakeLoadBalancer
    probe: FakeHealthProbe | PassingProbe
    scratch: Path

    @classmethod
    def build(cls, probe_kind: str) -> World:
        scratch = Path(tempfile.mkdtemp(prefix="dockyard-bench-fakes-"))
        store, engine, lb = MemoryStore(), FakeEngine(), FakeLoadBalancer()
        engine.add_image(IMAGE)
        probe: FakeHealthProbe | PassingProbe = (
            FakeHealthProbe(engine) if probe_kind == "fake" else PassingProbe()
        )
        settings = Settings(state_dir=scratch)
        artifacts = LocalArtifactStore(scratch / "a")
        port: HealthProbe = probe
        platform = Platform(settings, store, engine, lb, artifacts, port)
        return cls(ControlPlane(platform), platform, store, engine, lb, probe, scratch)

    def close(self) -> None:
        self.control_plane.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def counters(self) -> Counter[str]:
        calls: Counter[str] = Counter()
        for port, counter in (("engine", self.engine.calls), ("lb", self.lb.calls)):
            calls.update({f"{port}.{name}": n for name, n in counter.items()})
        calls.update({f"probe.{name}": n for name, n in self.probe.calls.items()})
        calls["probe.urls"] = self.probe.urls_checked
        return calls

    def settled(self) -> bool:
        in_service = all(e.status is EndpointStatus.IN_SERVICE for e in self.store.endpoints.list())
        return in_service and all(s.state.steady for s in self.store.services.list())

    def clock(self) -> PortClock:
        clock = PortClock()
        clock.attach("engine", self.engine, ENGINE_METHODS)
        clock.attach("lb", self.lb, LB_METHODS)
        clock.attach("probe", self.probe, ("check",))
        for name in COLLECTIONS:
            clock.attach("store", getattr(self.store, name), COLLECTION_METHODS)
        clock.attach("store", self.store, ("add_event", "events"))
        clock.attach_context("store", self.store, "transaction")
        return clock


# -- the passes ---------------------------------------------------------------------------


def converge(world: World, services: int, image: str = IMAGE) -> dict[str, Any]:
    """Deploy ``services`` endpoints, then pass until all are InService and steady."""
    t0 = time.perf_counter()
    for i in range(services):
        request = {"EndpointName": f"ep-{i:04d}", "Image": image, "InstanceCount": REPLICAS}
        endpoints.deploy(world.platform, request)
    deploy_s = time.perf_counter() - t0
    passes: list[float] = []
    while not world.settled():
        if len(passes) >= MAX_CONVERGE_PASSES:
            raise RuntimeError(f"{services} services not steady after {len(passes)} passes")
        t0 = time.perf_counter()
        world.control_plane.run_once()
        passes.append(round(time.perf_counter() - t0, 4))
    return {"deploy_api_s": round(deploy_s, 4), "passes_s": passes}


def loop_pass(world: World) -> tuple[float, dict[str, int]]:
    """One ``ControlLoop.run_once``: seconds, and the port calls it made."""
    before = world.counters()
    t0 = time.perf_counter()
    world.control_plane.loop.run_once()
    seconds = time.perf_counter() - t0
    return seconds, dict(sorted((world.counters() - before).items()))


def serial_pass(world: World, clock: PortClock) -> dict[str, Any]:
    """Every reconcile in turn on this thread; total, time in each port, the rest."""
    clock.reset()
    reconcilers = world.control_plane.loop.reconcilers.values()
    t0 = time.perf_counter()
    for reconciler in reconcilers:
        names = reconciler.keys()
        for key in names:
            reconciler.reconcile(key, time.time())
    total = time.perf_counter() - t0
    in_ports = dict(clock.seconds)
    return {
        "total_s": total,
        "ports_s": in_ports,
        "own_s": total - sum(in_ports.values()),
        "port_calls": sum(clock.calls.values()),
        "store_calls": {k: v for k, v in sorted(clock.calls.items()) if k.startswith("store.")},
    }


def planning(world: World) -> float:
    """Seconds of ``plan_service`` over every service, on the inputs a pass gives it."""
    now = time.time()
    inputs = []
    for service in world.store.services.list():
        route = service.state.target_group if service.target is not None else None
        targets = {t.name: t for t in world.lb.targets(route)} if route else {}
        records = world.store.tasks.list(service.tasks_owner)
        health = {
            r.task.task_id: replica_health(r.replica, targets.get(r.task.task_id)) for r in records
        }
        inputs.append((service.state, [r.task for r in records], health))
    t0 = time.perf_counter()
    for state, tasks, health in inputs:
        plan_service(state, tasks, health, now)
    return time.perf_counter() - t0


# -- one size -----------------------------------------------------------------------------


def measure_scale(
    services: int, probe_kind: str, passes: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Converge ``services`` x :data:`REPLICAS` tasks, then ``passes`` rounds of
    (loop pass, serial pass, planning), alternated."""
    quiet = logging.getLogger("dockyard")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the fake balancer's first start is logged as a restart
    world = World.build(probe_kind)
    try:
        setup = converge(world, services)
        tasks = len(world.store.tasks.list())
        say(
            f"fakes: {services} services x {REPLICAS} = {tasks} tasks ({probe_kind} probe) "
            f"steady after {len(setup['passes_s'])} passes, {sum(setup['passes_s']):.1f} s"
        )
        loop_s, serial, plan_s = [], [], []
        calls: dict[str, int] = {}
        for i in range(passes):
            seconds, calls = loop_pass(world)
            loop_s.append(seconds)
            clock = world.clock()
            try:
                serial.append(serial_pass(world, clock))
            finally:
                clock.detach()
            plan_s.append(planning(world))
            say(
                f"fakes {tasks} tasks, pass {i + 1}/{passes}: loop {seconds * 1e3:.0f} ms, "
                f"serial {serial[-1]['total_s'] * 1e3:.0f} ms "
                f"(own {serial[-1]['own_s'] * 1e3:.0f} ms), plan_service {plan_s[-1] * 1e3:.1f} ms"
            )
        if not world.settled() or calls.get("engine.run") or calls.get("engine.stop"):
            raise RuntimeError("the steady passes changed the world: not a steady state")
        return summarize_scale(
            services, tasks, probe_kind, world, setup, loop_s, serial, plan_s
        ) | {"calls_per_pass": calls}
    finally:
        world.close()
        quiet.setLevel(level)


def summarize_scale(
    services: int,
    tasks: int,
    probe_kind: str,
    world: World,
    setup: dict[str, Any],
    loop_s: list[float],
    serial: list[dict[str, Any]],
    plan_s: list[float],
) -> dict[str, Any]:
    def ms(values: Iterable[float]) -> float:
        return round(statistics.median(values) * 1e3, 2)

    ports = sorted({port for s in serial for port in s["ports_s"]})
    return {
        "services": services,
        "replicas": REPLICAS,
        "tasks": tasks,
        "probe": probe_kind,
        "workers": world.platform.settings.reconcile_workers,
        "setup": setup,
        "loop_pass_ms": ms(loop_s),
        "serial_pass_ms": ms(s["total_s"] for s in serial),
        "serial_own_ms": ms(s["own_s"] for s in serial),
        "serial_ports_ms": {p: ms(s["ports_s"].get(p, 0.0) for s in serial) for p in ports},
        "plan_service_ms": ms(plan_s),
        "loop_pass_us_per_task": round(statistics.median(loop_s) * 1e6 / tasks, 2),
        "serial_own_us_per_task": round(
            statistics.median(s["own_s"] for s in serial) * 1e6 / tasks, 2
        ),
        "plan_service_us_per_task": round(statistics.median(plan_s) * 1e6 / tasks, 2),
        "port_calls_timed_per_pass": serial[-1]["port_calls"],
        "store_calls_per_pass": serial[-1]["store_calls"],
        "raw": {
            "loop_pass_s": [round(x, 5) for x in loop_s],
            "serial_pass_s": [round(s["total_s"], 5) for s in serial],
            "serial_own_s": [round(s["own_s"], 5) for s in serial],
            "plan_service_s": [round(x, 6) for x in plan_s],
        },
    }
