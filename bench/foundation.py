"""Dockyard's foundation figures, measured on this machine next to their floors.

Deploy, rebuild, image size and quickstart, each against a peer or ceiling from the
same run (the machines are shared and noisy, so the ratios are the result):

1. ``deploy``: deploy of an already-built image with 2 replicas → first HTTP 200
   through the load balancer; floor: ``docker run`` of the same image (and of a
   trivial ``http.server``) → first 200, 2 containers in parallel.
2. ``rebuild``: rebuild after a code-only change (``inference.py``), through the API;
   peer: a plain ``docker build`` of the equivalent 2-layer Dockerfile.
3. ``size``: the inference, framework and base images' sizes, and a single-stage
   image of the same content.
4. ``quickstart``: ``make quickstart`` on a fresh state directory, then again.

Parts 1-3 run on a private stack (:mod:`foundation_stack`: its own dockerd, daemon and
HAProxy under ``--state-dir``, kept between runs so images are cached), part 4 on a
temporary one. Everything started is stopped at the end. Results are merged into
``bench/results/foundation.json`` (parts not run keep their previous figures).

Usage: ``.venv/bin/python bench/foundation.py [--repeat N] [--only deploy,rebuild,...]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from foundation_build import (
    api_build,
    docker_build,
    image_size,
    layer_sizes,
    naive_context,
    peer_context,
    serve_copy,
    touch_code,
    train_model_tarball,
)
from foundation_deploy import Floor, delete_endpoint, dockyard_round, floor_round
from foundation_quickstart import measure_quickstart
from foundation_report import (
    column,
    machine,
    median,
    merge_results,
    paired_ratios,
    print_table,
    spread,
    summarize_deploy,
)
from foundation_stack import FOREIGN_ENV, Isolation, Stack, free_port, seed_base_cache
from rich.console import Console

from dockyard.adapters.baseimage import BASE_REF, ensure_base_image
from dockyard.server.framework_images import ensure_framework_image

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "foundation.json"
PARTS = ("deploy", "rebuild", "size", "quickstart")
SHARED_TEST_STATE = Path("/tmp/dockyard-test-state")
DEPLOY_TAG = "bench-iris:deploy"
REBUILD_TAG = "bench-iris:rebuild"
ENDPOINT = "bench-deploy"
REPLICAS = 2
console = Console()
if not console.is_terminal:  # a log file or pipe: keep table rows on one line
    console = Console(width=160)


def say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def say_milestone(line: str) -> None:
    """Progress of image preparation without the builder's step-by-step output."""
    if not line.startswith((" ", "Step ", "Removing ", "Successfully ")):
        say(line)


# -- part 1 -----------------------------------------------------------------------------


def measure_deploy(stack: Stack, repeat: int) -> dict[str, Any]:
    """Rounds of (Dockyard deploy, docker run model image, docker run http.server)."""
    client = stack.client()
    url = str(stack.settings.engine_url)
    delete_endpoint(client, stack.engine, ENDPOINT)
    model = Floor(DEPLOY_TAG, ["serve"], "/invocations")
    trivial = Floor(BASE_REF, ["python3", "-m", "http.server", "8080"], "/", "GET", None)

    def one_round() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        load = round(os.getloadavg()[0], 2)  # the machine is shared: say how busy it was
        a = dockyard_round(
            client, stack.engine, DEPLOY_TAG, ENDPOINT, stack.settings.lb_port, REPLICAS
        )
        b = floor_round(url, model, REPLICAS, free_port)
        c = floor_round(url, trivial, REPLICAS, free_port)
        return a | {"loadavg_1m": load}, b, c

    say("deploy: warm-up round (not counted)")
    warmup = one_round()
    rounds: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for i in range(repeat):
        rounds.append(one_round())
        a, b, c = rounds[-1]
        say(
            f"deploy {i + 1}/{repeat}: Dockyard first 200 {a['first_200_s']} s "
            f"(InService {a['in_service_s']} s) | docker run model {b['first_200_s']} s | "
            f"http.server {c['first_200_s']} s"
        )
    dy, fm, ft = ([r[k] for r in rounds] for k in range(3))
    summary, pairs = summarize_deploy(dy, fm, ft)
    return {
        "replicas": REPLICAS,
        "repeat": repeat,
        "image": DEPLOY_TAG,
        "raw": {"dockyard": dy, "floor_model": fm, "floor_trivial": ft, "warmup": warmup},
        "paired_ratios": pairs,
        "summary": summary,
    }


# -- part 2 -----------------------------------------------------------------------------


def measure_rebuild(stack: Stack, work: Path, model_tar: Path, repeat: int) -> dict[str, Any]:
    """A build, then ``repeat`` pairs of (Dockyard rebuild, docker build) after a code edit."""
    client = stack.client()
    url = str(stack.settings.engine_url)
    serve = serve_copy(work / "rebuild-serve")
    initial = api_build(client, serve, REBUILD_TAG, model_tar)
    peer_ctx = peer_context(work, model_tar, str(initial["framework_image"]))
    peer_initial = docker_build(url, peer_ctx, "bench-iris:peer")
    run_id = uuid.uuid4().hex[:8]  # unique edits: an earlier run's layers must not match
    dockyard_runs, peer_runs = [], []
    for i in range(repeat):
        touch_code(serve / "inference.py", f"dockyard-{run_id}-{i}")
        dockyard_runs.append(api_build(client, serve, REBUILD_TAG, model_tar))
        touch_code(peer_ctx / "code" / "inference.py", f"peer-{run_id}-{i}")
        peer_runs.append(docker_build(url, peer_ctx, "bench-iris:peer"))
        say(
            f"rebuild {i + 1}/{repeat}: Dockyard {dockyard_runs[-1]['wall_s']} s "
            f"({dockyard_runs[-1]['steps_cached']}/{dockyard_runs[-1]['steps_total']} cached) | "
            f"docker build {peer_runs[-1]['wall_s']} s "
            f"({peer_runs[-1]['steps_cached']}/{peer_runs[-1]['steps_total']} cached)"
        )
    pairs = paired_ratios(column(dockyard_runs, "wall_s"), column(peer_runs, "wall_s"))
    last, peer_last = dockyard_runs[-1], peer_runs[-1]
    return {
        "repeat": repeat,
        "initial": {"dockyard": initial, "docker_build": peer_initial},
        "raw": {"dockyard": dockyard_runs, "docker_build": peer_runs},
        "dockyard_steps": initial["steps"],
        "peer_dockerfile": (peer_ctx / "Dockerfile").read_text(),
        "paired_ratios": pairs,
        "summary": {
            "dockyard_wall": spread(column(dockyard_runs, "wall_s")),
            "dockyard_server": spread(column(dockyard_runs, "server_s")),
            "dockyard_cached": f"{last['steps_cached']}/{last['steps_total']}",
            "peer_wall": spread(column(peer_runs, "wall_s")),
            "peer_cached": f"{peer_last['steps_cached']}/{peer_last['steps_total']}",
            "ratio": median(pairs),
        },
    }


# -- part 3 -----------------------------------------------------------------------------


def measure_size(stack: Stack, work: Path, model_tar: Path, framework_image: str) -> dict[str, Any]:
    """Engine-reported sizes, and a single-stage build of the same content to compare."""
    url = str(stack.settings.engine_url)
    say("size: building the single-stage comparison image")
    ctx = naive_context(stack.settings, work, model_tar)
    naive = docker_build(url, ctx, "bench-iris:single-stage")
    iris = image_size(url, DEPLOY_TAG)
    framework = image_size(url, framework_image)
    base = image_size(url, BASE_REF)
    return {
        "iris_image": DEPLOY_TAG,
        "framework_image": framework_image,
        "base_image": BASE_REF,
        "iris_bytes": iris,
        "framework_bytes": framework,
        "base_bytes": base,
        "model_and_code_bytes": None if iris is None or framework is None else iris - framework,
        "naive_bytes": naive["size_bytes"],
        "naive_build_s": naive["wall_s"],
        "iris_layers": [list(x) for x in layer_sizes(url, DEPLOY_TAG)],
        "naive_layers": [list(x) for x in layer_sizes(url, "bench-iris:single-stage")],
        "naive_dockerfile": (ctx / "Dockerfile").read_text(),
    }


# -- orchestration ------------------------------------------------------------------------


def prepare(stack: Stack) -> float:
    """Base and framework images in the stack's engine (cached after the first run)."""
    t0 = time.monotonic()
    cached = seed_base_cache(stack.settings, SHARED_TEST_STATE)
    say("base tarball cached" if cached else "no base tarball to reuse: debootstrap will run")
    ensure_base_image(stack.engine, stack.settings, progress=say_milestone)
    ensure_framework_image(stack.engine, stack.settings, "sklearn", progress=say_milestone)
    return round(time.monotonic() - t0, 2)


def run_stack_parts(wanted: set[str], repeat: int, state_dir: Path) -> tuple[dict[str, Any], Any]:
    """Parts 1-3 on the private stack; returns (parts, engine version)."""
    parts: dict[str, Any] = {}
    stack = Stack.open(state_dir, Isolation("dyb-bench", "10.213.252.1/24"))
    say(
        f"stack: {stack.settings.state_dir}, engine {stack.settings.engine_url}, "
        f"LB port {stack.settings.lb_port}"
    )
    try:
        prep = prepare(stack)
        work = state_dir / "bench-work"
        model_tar = train_model_tarball(work)
        client = stack.client()
        built = api_build(client, serve_copy(work / "deploy-serve"), DEPLOY_TAG, model_tar)
        say(f"built {DEPLOY_TAG} in {built['wall_s']} s (prepare {prep} s)")
        stamp = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if "deploy" in wanted:
            parts["deploy"] = stamp | measure_deploy(stack, repeat)
        if "rebuild" in wanted:
            parts["rebuild"] = stamp | measure_rebuild(stack, work, model_tar, repeat)
        if "size" in wanted:
            fw = str(built["framework_image"])
            parts["size"] = stamp | measure_size(stack, work, model_tar, fw)
        delete_endpoint(client, stack.engine, ENDPOINT)
        version = stack.engine.version
    finally:
        say(f"stopped: {', '.join(stack.close())}")
    return parts, version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per measure (default 5)")
    parser.add_argument(
        "--only", default=",".join(PARTS), help="comma-separated: " + ",".join(PARTS)
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("/tmp/dockyard-bench-state"),
        help="private state for parts 1-3 (kept between runs)",
    )
    parser.add_argument("--print", action="store_true", help="print the results file and exit")
    args = parser.parse_args(argv)
    if args.print:
        print_table(json.loads(RESULTS.read_text()), console)
        return 0
    wanted = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = wanted - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    for name in (*FOREIGN_ENV, "DOCKYARD_STATE_DIR", "DOCKYARD_LB_PORT"):
        os.environ.pop(name, None)
    parts: dict[str, Any] = {}
    version = None
    if wanted & {"deploy", "rebuild", "size"}:
        stack_parts, version = run_stack_parts(wanted, args.repeat, args.state_dir)
        parts |= stack_parts
    if "quickstart" in wanted:
        say("quickstart: fresh state directory (this takes a few minutes)")
        dockyard_cli = Path(sys.executable).parent / "dockyard"
        quick = measure_quickstart(dockyard_cli, RESULTS.parent)
        engine_version = quick.pop("engine_version")
        version = version or engine_version
        parts["quickstart"] = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **quick}
    doc = merge_results(RESULTS, machine(version), parts)
    print_table(doc, console)
    say(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
