"""The reconcile pass at 1,000 tasks on the swarm backend, simulated through the port.

The daemon's control plane runs on :class:`~dockyard.adapters.engine.swarm.SwarmEngine`
itself, with everything it translates (services to container states, task states,
nodes), but the swarm manager's API behind it is :class:`FakeSwarmApi`: services,
tasks and nodes in memory with swarm's semantics as the adapter relies on them (one
task per one-replica service, placed on the ready node with the fewest tasks, ports
published in host mode on a node port, a service scaled to 0 has its task shut down
with its exit code, a removed service takes its task). Everything else is the same
in-memory world as the local backend's figure (:mod:`control_plane_fakes`), so the
two passes compare the backends' cost to the control plane, not two machines.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from control_plane_fakes import IMAGE, REPLICAS, PassingProbe, World, converge, loop_pass

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.engine.swarm import SwarmEngine
from dockyard.adapters.store.memory import MemoryStore
from dockyard.server.control_plane import ControlPlane
from dockyard.server.platform import Platform
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeLoadBalancer

NODES = (("node-a", "10.213.0.11"), ("node-b", "10.213.0.12"))


class FakeSwarmApi:
    """The part of a swarm manager's Engine API the swarm adapter calls, in memory."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._ports = itertools.count(30000)
        self.nodes_docs = [
            {
                "ID": name,
                "Status": {"State": "ready", "Addr": address},
                "Description": {"Hostname": name},
                "Spec": {"Role": "worker", "Availability": "active"},
            }
            for name, address in NODES
        ]
        self.services_docs: dict[str, dict[str, Any]] = {}
        self.tasks_docs: dict[str, dict[str, Any]] = {}

    def _count(self, name: str) -> None:
        self.calls[name] += 1

    def info(self) -> dict[str, Any]:
        self._count("info")
        return {"Swarm": {"LocalNodeState": "active", "ControlAvailable": True, "NodeID": "x"}}

    def nodes(self) -> list[dict[str, Any]]:
        self._count("nodes")
        return self.nodes_docs

    def create_service(self, **args: Any) -> dict[str, str]:
        self._count("create_service")
        service_id = f"svc{next(self._ids):06d}"
        template = dict(args["task_template"])
        self.services_docs[service_id] = {
            "ID": service_id,
            "Version": {"Index": 1},
            "Spec": {
                "Name": args["name"],
                "Labels": dict(args["labels"]),
                "TaskTemplate": template,
                "Mode": {"Replicated": {"Replicas": 1}},
            },
        }
        load = Counter(t["NodeID"] for t in self.tasks_docs.values())
        node = min((n["ID"] for n in self.nodes_docs), key=lambda n: load[n])
        ports = (args.get("endpoint_spec") or {}).get("Ports") or []
        published = [{**p, "PublishedPort": next(self._ports)} for p in ports]
        self.tasks_docs[service_id] = {
            "ID": f"task-{service_id}",
            "ServiceID": service_id,
            "NodeID": node,
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "DesiredState": "running",
            "Status": {"State": "running", "PortStatus": {"Ports": published}},
        }
        return {"ID": service_id}

    def inspect_service(self, service_id: str) -> dict[str, Any]:
        self._count("inspect_service")
        return self.services_docs[service_id]

    def services(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._count("services")
        wanted = [tuple(f.split("=", 1)) for f in (filters or {}).get("label", [])]
        return [
            s
            for s in self.services_docs.values()
            if all(s["Spec"]["Labels"].get(k) == v for k, v in wanted)
        ]

    def tasks(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._count("tasks")
        ids = (filters or {}).get("service", [])
        ids = [ids] if isinstance(ids, str) else ids
        return [self.tasks_docs[i] for i in ids if i in self.tasks_docs]

    def update_service(self, service_id: str, version: int, **args: Any) -> None:
        self._count("update_service")
        task = self.tasks_docs[service_id]
        task["DesiredState"] = "shutdown"
        task["Status"] = {"State": "shutdown", "ContainerStatus": {"ExitCode": 0}}
        self.services_docs[service_id]["Spec"]["Mode"] = {"Replicated": {"Replicas": 0}}

    def remove_service(self, service_id: str) -> None:
        self._count("remove_service")
        self.services_docs.pop(service_id, None)
        self.tasks_docs.pop(service_id, None)


#: the endpoints' image, named in a registry: a swarm's nodes pull every task's image
#: themselves, so an image only on the manager is refused (see ``transfer.node_reference``)
NODE_IMAGE = f"registry.example.com/{IMAGE}"


class SwarmManagerFake(FakeEngine):
    """The manager's own engine (images) with the fake swarm API behind it."""

    def __init__(self) -> None:
        super().__init__()
        self._api = FakeSwarmApi()
        self.base_url = "fake://swarm-manager"


def swarm_world() -> tuple[World, FakeSwarmApi]:
    scratch = tempfile.mkdtemp(prefix="dockyard-bench-swarm-")
    manager = SwarmManagerFake()
    manager.add_image(NODE_IMAGE)
    engine = SwarmEngine(manager, run_wait=0)  # type: ignore[arg-type]
    store, lb, probe = MemoryStore(), FakeLoadBalancer(), PassingProbe()
    settings = Settings(state_dir=Path(scratch))
    platform = Platform(settings, store, engine, lb, LocalArtifactStore(Path(scratch) / "a"), probe)
    world = World(ControlPlane(platform), platform, store, manager, lb, probe, Path(scratch))
    return world, manager._api


def measure_swarm_scale(services: int, passes: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Converge ``services`` endpoints of :data:`REPLICAS` on the fake swarm, then time
    ``passes`` full loop passes; the swarm API calls of the last one."""
    quiet = logging.getLogger("dockyard")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    world, api = swarm_world()
    try:
        setup = converge(world, services, NODE_IMAGE)
        tasks = len(world.store.tasks.list())
        seconds = []
        calls: Counter[str] = Counter()
        for i in range(passes):
            before = Counter(api.calls)
            s, _ = loop_pass(world)
            seconds.append(s)
            calls = api.calls - before
            say(f"swarm fake {tasks} tasks, pass {i + 1}/{passes}: {s * 1e3:.0f} ms")
        if calls.get("create_service") or calls.get("update_service"):
            raise RuntimeError("the steady passes changed the swarm: not a steady state")
        median = statistics.median(seconds)
        return {
            "services": services,
            "replicas": REPLICAS,
            "tasks": tasks,
            "converge_passes": len(setup["passes_s"]),
            "loop_pass_ms": round(median * 1e3, 2),
            "loop_pass_us_per_task": round(median * 1e6 / tasks, 2),
            "swarm_api_calls_per_pass": dict(sorted(calls.items())),
            "raw_loop_pass_s": [round(x, 5) for x in seconds],
        }
    finally:
        world.close()
        shutil.rmtree(world.scratch, ignore_errors=True)
        quiet.setLevel(level)
