"""ECS services, measured (``make bench-ecs``): one run, a few minutes.

On the installation's engine, with a private daemon (its own state dir, HAProxy and
port), the fault tests' server image (``tests/integration/test_ecs_faults.py``):

1. ``create``: ``POST /v1/services`` of 2 tasks → first 200 through the load balancer
   (probes every 10 ms), and → both tasks healthy;
2. ``kill``: 3 tasks under steady load (2 client threads), one container killed →
   first answer from its replacement; failed requests;
3. ``deploy``: a rolling deploy of 4 tasks to a new revision under load → the new
   deployment COMPLETED and the old tasks gone; failed requests;
4. ``autoscaling``: 1 task whose answers cost 50 ms of CPU, a target-tracking policy
   at 20 % CPU (of one core: the machine is shared) (scale-out cooldown 0); 4 client
   threads start at once → first answer
   from a second task. Application Auto Scaling acts on CloudWatch's one-minute
   metrics, so AWS's own reaction is at least 60 s: the ratio to that floor is given.

Results go to ``bench/results/ecs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests" / "integration"))

import httpx  # noqa: E402
from dockyard_daemon import Daemon, free_port, wait_until  # noqa: E402
from load import Load  # noqa: E402
from test_ecs_faults import (  # noqa: E402
    SERVER,
    create_service,
    register,
    serving,
    task_definition,
)
from test_ecs_faults import ids as task_ids  # noqa: E402

from dockyard.adapters.baseimage import ensure_base_image  # noqa: E402
from dockyard.adapters.engine import DockerEngine, connect  # noqa: E402
from dockyard.settings import Settings  # noqa: E402

RESULTS = BENCH / "results" / "ecs.json"
TIMEOUT = 180.0
AWS_METRIC_PERIOD_S = 60.0  # CloudWatch's standard resolution behind target tracking
LABELS = {"dockyard.bench": "ecs"}


def say(line: str) -> None:
    print(f"[bench ecs] {line}", file=sys.stderr, flush=True)


def build_image(engine: DockerEngine, settings: Settings, work: Path) -> str:
    base = ensure_base_image(engine, settings, progress=say)
    (work / "server.py").write_text(SERVER)
    (work / "Dockerfile").write_text(
        f'FROM {base}\nCOPY server.py /server.py\nCMD ["python3", "/server.py"]\n'
    )
    tag = "dockyard-bench/ecs-web:latest"
    list(engine.build(str(work), tag, labels=LABELS))
    return tag


def delete(daemon: Daemon, name: str) -> None:
    daemon.raw("DELETE", f"/v1/services/{name}", params={"force": "true"})
    wait_until(
        lambda: daemon.raw("GET", f"/v1/services/{name}").status_code == 404,
        timeout=TIMEOUT,
        what=f"service {name} deleted",
    )


def measure_create(daemon: Daemon, image: str) -> dict[str, Any]:
    revision = register(daemon, task_definition("bench-create", image, "blue"))
    started = time.monotonic()
    url = create_service(daemon, "bench-create", revision, 2)
    with httpx.Client(timeout=5) as http:
        while True:
            try:
                if http.post(url, content=b"x").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > TIMEOUT:
                raise AssertionError("no 200 from the new service")
            time.sleep(0.01)
    first = time.monotonic() - started
    serving(daemon, "bench-create", revision, 2)
    both = time.monotonic() - started
    delete(daemon, "bench-create")
    return {"first_200_s": round(first, 2), "both_healthy_s": round(both, 2)}


def measure_kill(daemon: Daemon, engine: DockerEngine, image: str) -> dict[str, Any]:
    revision = register(daemon, task_definition("bench-kill", image, "blue"))
    url = create_service(daemon, "bench-kill", revision, 3)
    victim = serving(daemon, "bench-kill", revision, 3)[0]
    with Load(url, threads=2) as load:
        load.wait_answers(30, timeout=TIMEOUT, what="answers before the kill")
        before = task_ids(load.answers)
        killed = time.monotonic()
        for container in engine.list({"dockyard.task": victim["taskId"]}):
            engine.kill(container.id)

        def replacement() -> float | None:
            new = [o.at for o in load.answers if o.at > killed and task_ids([o]) - before]
            return min(new) if new else None

        served = wait_until(replacement, timeout=TIMEOUT, what="the replacement")
        load.wait_answers(30, timeout=TIMEOUT, what="answers after")
    delete(daemon, "bench-kill")
    return {
        "replacement_serving_s": round(served - killed, 2),
        "requests": load.count(),
        "failed_requests": len(load.failures),
    }


def measure_deploy(daemon: Daemon, image: str) -> dict[str, Any]:
    blue = register(daemon, task_definition("bench-roll", image, "blue"))
    green = register(daemon, task_definition("bench-roll", image, "green"))
    url = create_service(daemon, "bench-roll", blue, 4)
    serving(daemon, "bench-roll", blue, 4)
    with Load(url, threads=2) as load:
        load.wait_answers(30, timeout=TIMEOUT, what="answers before the deploy")
        started = time.monotonic()
        daemon.api("POST", "/v1/services/bench-roll", json={"taskDefinition": green})

        def completed() -> bool:
            deployments = daemon.api("GET", "/v1/services/bench-roll")["service"]["deployments"]
            return [d["rolloutState"] for d in deployments] == ["COMPLETED"]

        wait_until(completed, timeout=TIMEOUT, what="the deployment to complete")
        done = time.monotonic() - started
        serving(daemon, "bench-roll", green, 4)
        settled = time.monotonic() - started
        load.wait_answers(30, timeout=TIMEOUT, what="answers after")
    delete(daemon, "bench-roll")
    return {
        "completed_s": round(done, 2),
        "old_tasks_gone_s": round(settled, 2),
        "requests": load.count(),
        "failed_requests": len(load.failures),
    }


def measure_autoscaling(daemon: Daemon, image: str) -> dict[str, Any]:
    revision = register(
        daemon, task_definition("bench-scale", image, "blue", env={"BURN_MS": "50"})
    )
    url = create_service(daemon, "bench-scale", revision, 1)
    serving(daemon, "bench-scale", revision, 1)
    policy = daemon.cli(
        "autoscaling",
        "put-policy",
        "bench-scale",
        "--metric",
        "cpu",
        "--target",
        "20",
        "--min",
        "1",
        "--max",
        "2",
        "--scale-out-cooldown",
        "0",
    )
    assert policy.returncode == 0, policy.stderr
    first = httpx.post(url, content=b"x", timeout=30).text.split()[-1]
    with Load(url, threads=4) as load:
        spike = time.monotonic()

        def second_task() -> float | None:
            new = [o.at for o in load.answers if task_ids([o]) - {first}]
            return min(new) if new else None

        served = wait_until(second_task, timeout=TIMEOUT, what="a second task to serve")
    delete(daemon, "bench-scale")
    reaction = served - spike
    return {
        "spike_to_new_task_serving_s": round(reaction, 2),
        "aws_floor_s": AWS_METRIC_PERIOD_S,
        "ratio_to_aws_floor": round(reaction / AWS_METRIC_PERIOD_S, 3),
        "goal_s": 15,
        "failed_requests": len(load.failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="re-print the last results")
    parser.add_argument(
        "--only", default="", help="comma-separated parts (others keep their last figures)"
    )
    args = parser.parse_args()
    if args.print:
        print(RESULTS.read_text())
        return
    settings = Settings()
    engine = connect(settings, progress=say)
    work = Path(tempfile.mkdtemp(prefix="dy-bench-ecs-"))
    image = build_image(engine, settings, work)
    daemon = Daemon(work / "state", engine.base_url, lb_port=free_port())
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    only = {part for part in args.only.split(",") if part}
    try:
        daemon.start()
        for part, measure in (
            ("create", lambda: measure_create(daemon, image)),
            ("kill", lambda: measure_kill(daemon, engine, image)),
            ("deploy", lambda: measure_deploy(daemon, image)),
            ("autoscaling", lambda: measure_autoscaling(daemon, image)),
        ):
            if only and part not in only:
                continue
            say(f"{part} ...")
            results[part] = measure()
            say(f"{part}: {results[part]}")
            RESULTS.parent.mkdir(exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        daemon.cleanup(engine)
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "engine": engine.kind,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
