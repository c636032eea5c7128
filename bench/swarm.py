"""The swarm backend, measured (``make bench-swarm``).

1. ``deploy``: an ECS service of 2 tasks behind the load balancer, from ``dockyard
   service create`` to the first 200 through HAProxy and to both tasks running, on a
   real two-node swarm (two dockerd in network namespaces, the topology of
   ``tests/integration/swarm_topology.py``) and on the local backend (the shared
   engine), in the same run, alternating, ``--rounds`` times each.
2. ``recovery``: the worker's engine stopped while a client sends requests one after
   another: seconds until both tasks run again (on the manager), and failed requests.
3. ``scale``: one reconcile pass at 1,000 tasks (100 endpoints x 10) on the swarm
   backend simulated through the port (:mod:`swarm_fakes`), next to the local
   backend's pass on the same in-memory world (:mod:`control_plane_fakes`).

Needs root for part 1 and 2 (``--only scale`` does not). Results go to
``bench/results/swarm.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests" / "integration"))

import httpx  # noqa: E402
from control_plane_fakes import measure_scale  # noqa: E402
from dockyard_daemon import Daemon, free_port  # noqa: E402
from swarm_fakes import measure_swarm_scale  # noqa: E402
from swarm_topology import Topology, missing_requirements  # noqa: E402
from test_ecs_services import SERVER, Client, register  # noqa: E402

from dockyard.adapters.engine import connect  # noqa: E402
from dockyard.adapters.engine.docker_api import DockerEngine  # noqa: E402
from dockyard.adapters.engine.swarm import SwarmEngine  # noqa: E402
from dockyard.server.containers import INSTALLATION_LABEL  # noqa: E402
from dockyard.settings import Settings  # noqa: E402

RESULTS = BENCH / "results" / "swarm.json"
TIMEOUT = 180.0


def say(line: str) -> None:
    print(f"[bench swarm] {line}", file=sys.stderr, flush=True)


class SwarmDaemon(Daemon):
    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "DOCKYARD_BACKEND": "swarm"}


def running(engine: Any, daemon: Daemon) -> list[str]:
    states = engine.list({INSTALLATION_LABEL: daemon.installation() or "-"})
    return sorted(s.host_address or "127.0.0.1" for s in states if s.running)


def until(condition: Any, what: str) -> float:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic()


def first_200(url: str) -> bool:
    try:
        return httpx.post(url, content=b"x", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def deploy_once(
    daemon: Daemon, engine: Any, image: str, scratch: Path, name: str
) -> dict[str, Any]:
    document = {
        "family": name,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "portMappings": [{"containerPort": 8080}],
                "memory": 128,
                "cpu": 256,
                "stopTimeout": 2,
            }
        ],
    }
    revision = register(daemon, scratch, document)
    t0 = time.monotonic()
    created = daemon.cli(
        "service", "create", name, "--task-definition", revision, "--desired-count", "2",
        "--load-balancer", "web:8080",
    )  # fmt: skip
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    url = daemon.api("GET", f"/v1/services/{name}")["url"]
    answered = until(lambda: first_200(url), "the first 200")
    both = until(lambda: len(running(engine, daemon)) == 2, "both tasks running")
    return {
        "first_200_s": round(answered - t0, 3),
        "both_running_s": round(both - t0, 3),
        "nodes": running(engine, daemon),
        "url": url,
    }


def delete(daemon: Daemon, engine: Any, name: str) -> None:
    daemon.cli("service", "delete", name, "--force")
    until(lambda: not running(engine, daemon), "tasks gone")


def live(rounds: int) -> dict[str, Any]:
    reason = missing_requirements()
    if reason:
        raise SystemExit(f"the live parts {reason}; run with --only scale")
    scratch = Path(tempfile.mkdtemp(prefix="dockyard-bench-swarm-"))
    shared = connect(Settings())
    context = scratch / "image"
    context.mkdir()
    (context / "server.py").write_text(SERVER)
    (context / "Dockerfile").write_text(
        'FROM dockyard/base:py3.11\nCOPY server.py /server.py\nCMD ["python3", "/server.py"]\n'
    )
    image = "dockyard-bench/swarm-web:1"
    list(shared.build(str(context), image))
    topology = Topology(scratch / "topology").up()
    daemons: list[tuple[Daemon, Any]] = []
    try:
        topology.load_image(shared._api, image)
        manager, worker = topology.nodes
        swarm = SwarmEngine(DockerEngine(manager.url))
        on_swarm = SwarmDaemon(scratch / "swarm" / "state", manager.url, lb_port=free_port())
        on_local = Daemon(scratch / "local" / "state", shared.base_url, lb_port=free_port())
        daemons = [(on_swarm, swarm), (on_local, shared)]
        for daemon, _ in daemons:
            daemon.start()
        url = on_swarm.cli("cluster", "init", "--advertise-addr", manager.address).stdout
        join = next(word for word in url.split() if word.startswith("swarm://"))
        on_swarm.cli(
            "cluster", "join", join, "--advertise-addr", worker.address, "--engine", worker.url
        )
        until(lambda: len(on_swarm.api("GET", "/v1/cluster/nodes")["Nodes"]) == 2, "2 nodes")
        results: dict[str, list[dict[str, Any]]] = {"swarm": [], "local": []}
        for i in range(rounds):
            for backend, (daemon, engine) in zip(("swarm", "local"), daemons, strict=True):
                name = f"bench-{backend}-{i}"
                result = deploy_once(daemon, engine, image, scratch, name)
                say(f"{backend} round {i + 1}: {result}")
                results[backend].append(result)
                delete(daemon, engine, name)
        name = "bench-recovery"
        deployed = deploy_once(on_swarm, swarm, image, scratch, name)
        with Client(deployed["url"]) as client:
            until(lambda: len(client.answers) >= 50, "answers before")
            stopped = worker.stop()
            back = until(lambda: running(swarm, on_swarm) == [manager.address] * 2, "recovery")
            served = len(client.answers)
            until(lambda: len(client.answers) >= served + 50, "answers after")
        recovery = {
            "recovery_s": round(back - stopped, 2),
            "failed_requests": len(client.failures),
            "requests": len(client.answers) + len(client.failures),
        }
        say(f"recovery: {recovery}")
        return {
            "deploy": {
                backend: {
                    "first_200_s_median": statistics.median(r["first_200_s"] for r in rows),
                    "both_running_s_median": statistics.median(r["both_running_s"] for r in rows),
                    "rounds": rows,
                }
                for backend, rows in results.items()
            },
            "recovery": recovery,
        }
    finally:
        for daemon, engine in daemons:
            try:
                daemon.cleanup(engine)
            except Exception as error:
                say(f"cleanup: {error}")
        topology.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--only", default="live,scale")
    args = parser.parse_args()
    parts = args.only.split(",")
    out: dict[str, Any] = {}
    if "scale" in parts:
        out["scale"] = {
            "swarm": measure_swarm_scale(100, args.passes, say),
            "local": {
                k: v
                for k, v in measure_scale(100, "passing", args.passes, say).items()
                if k in ("tasks", "loop_pass_ms", "loop_pass_us_per_task", "calls_per_pass")
            },
        }
    if "live" in parts:
        out |= live(args.rounds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
