"""Dockyard's control plane, measured: deploys side by side, API latency, reconcile scale.

1. ``deploy``: 8 endpoints of 2 replicas deployed at once through the daemon (real
   engine, real HAProxy) until all are InService, next to one endpoint alone and to
   the same 16 containers started through the engine directly; rounds alternate, the
   paired ratios' median is the result (:mod:`control_plane_deploy`).
2. The API's latency (``GET /v1/endpoints``, p50/p99) during those deploys, and with
   the daemon idle as the ceiling (same rounds).
3. ``scale``: one full reconcile pass of the control plane on in-memory fakes, at
   1,000 and 10,000 tasks, split into the fakes' time and the control plane's own,
   with the pure planning share and the port calls per pass (:mod:`control_plane_fakes`).

The daemon is the benchmark's own (state under ``--state-dir``, kept between runs)
on the engine ``dockyard setup`` prepared; it is stopped at the end. Results go to
``bench/results/control-plane.json``; the markdown table printed at the end is the
one in ``bench/README.md``.

Usage: ``.venv/bin/python bench/control_plane.py [--rounds N] [--only deploy,scale]
[--quick] [--print]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import control_plane_deploy as deploys
from control_plane_clock import wrapper_cost
from control_plane_fakes import PROBES, REPLICAS, measure_scale
from control_plane_report import calls_line, markdown, scale_growth, summarize_deploys
from foundation import say
from foundation_build import api_build, serve_copy, train_model_tarball
from foundation_report import machine
from foundation_stack import FOREIGN_ENV

import dockyard
from dockyard.adapters.engine import connect
from dockyard.settings import Settings

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "control-plane.json"
QUICK_RESULTS = Path("/tmp/dockyard-bench-control-plane-quick.json")
PARTS = ("deploy", "scale")
IMAGE = "bench-iris:control-plane"


# -- part 1 and 2 -------------------------------------------------------------------------


def measure_deploys(
    stack: deploys.EngineStack, count: int, rounds: int, idle_s: float, poll_s: float
) -> dict[str, Any]:
    """A warm-up deploy, the idle API with nothing deployed, then ``rounds`` rounds of
    (``count`` at once, one alone, the engine directly)."""
    group = deploys.names(count)
    say("deploy: warm-up (one endpoint, not counted)")
    warmup = deploys.deploy_round(stack, IMAGE, (deploys.ALONE,), period=poll_s)
    idle_empty = deploys.idle_latency(stack, idle_s, poll_s)
    many, alone, direct = [], [], []
    for i in range(rounds):
        many.append(deploys.deploy_round(stack, IMAGE, group, idle_s, poll_s))
        alone.append(deploys.deploy_round(stack, IMAGE, (deploys.ALONE,), period=poll_s))
        direct.append(deploys.engine_round(stack, IMAGE, count * deploys.REPLICAS))
        a, b, c = many[-1], alone[-1], direct[-1]
        say(
            f"deploy {i + 1}/{rounds}: {count} at once {a['in_service_s']} s "
            f"(daemon {a['daemon_cpu_s']} CPU-s, API errors {a['api_errors']}) | "
            f"alone {b['in_service_s']} s | engine {c['all_200_s']} s"
        )
    summary, pairs = summarize_deploys(many, alone, direct, idle_empty)
    return {
        "endpoints": count,
        "replicas": deploys.REPLICAS,
        "rounds": rounds,
        "image": IMAGE,
        "poll_ms": round(poll_s * 1e3),
        "idle_s": idle_s,
        "summary": summary,
        "paired_ratios": pairs,
        "raw": {
            "many": many,
            "alone": alone,
            "engine": direct,
            "idle_empty_latency_ms": idle_empty,
            "warmup": warmup,
        },
    }


def run_deploy_part(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Part 1-2 on the benchmark's own daemon; returns (part, engine version)."""
    engine_url = args.engine_url or connect(Settings(), start=False).base_url
    stack = deploys.EngineStack.on_engine(args.state_dir, engine_url)
    say(
        f"daemon: {stack.settings.state_dir}, engine {engine_url}, LB port {stack.settings.lb_port}"
    )
    try:
        client = stack.client()
        left = deploys.clear_endpoints(stack)
        if left:
            say(f"deleted endpoints left by an earlier run: {', '.join(left)}")
        work = args.state_dir / "bench-work"
        built = api_build(client, serve_copy(work / "serve"), IMAGE, train_model_tarball(work))
        say(f"built {IMAGE} in {built['wall_s']} s")
        stamp = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        part = stamp | measure_deploys(
            stack, args.endpoints, args.rounds, args.idle_s, args.poll_ms / 1e3
        )
        return part, stack.engine.version
    finally:
        say(f"stopped: {', '.join(stack.close()) or 'nothing'}")


# -- part 3 -------------------------------------------------------------------------------


def run_scale_part(services: list[int], passes: int, large_passes: int) -> dict[str, Any]:
    """Each size with the passing probe, the smallest also with the fake probe."""
    stamp = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    sizes = []
    for probe in PROBES:
        for count in services if probe == "passing" else services[:1]:
            n = passes if count == services[0] else large_passes
            sizes.append(measure_scale(count, probe, n, say))
    return stamp | {
        "replicas": REPLICAS,
        "timer_overhead_us_per_call": round(wrapper_cost() * 1e6, 2),
        "sizes": sizes,
        "growth": scale_growth(sizes),
    }


# -- orchestration ------------------------------------------------------------------------


def source() -> dict[str, Any]:
    """The code measured: where ``dockyard`` was imported from and, when that is a git
    checkout, its commit and whether tracked files differed from it."""
    package = Path(dockyard.__file__).resolve().parent

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=package, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or None
    return {
        "package": str(package),
        "commit": commit,
        "modified": bool(git("status", "-s", "-uno", ".")) if commit else None,
    }


def write_results(
    path: Path, machine_info: dict[str, Any], parts: dict[str, Any]
) -> dict[str, Any]:
    """Update ``path`` with the parts just measured; parts not run this time are kept."""
    doc: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    doc["benchmark"] = "control-plane"
    doc["machine"] = machine_info
    doc.setdefault("parts", {}).update(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def print_report(doc: dict[str, Any]) -> None:
    print(f"\nDockyard control plane — {doc['machine']['date']}\n")
    print(markdown(doc))
    for size in doc.get("parts", {}).get("scale", {}).get("sizes", []):
        print(f"\nport calls per pass, {calls_line(size)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="deploy rounds (default 5)")
    parser.add_argument("--endpoints", type=int, default=8, help="deployed at once (default 8)")
    parser.add_argument("--idle-s", type=float, default=3.0, help="idle latency per round")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="API poll period")
    parser.add_argument(
        "--services",
        default="100,1000",
        help=f"fake-plane sizes, in services of {REPLICAS} tasks (default 100,1000)",
    )
    parser.add_argument("--passes", type=int, default=5, help="timed passes, smallest size")
    parser.add_argument("--large-passes", type=int, default=2, help="timed passes, larger sizes")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated: deploy,scale")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("/tmp/dockyard-bench-control-plane"),
        help="the benchmark daemon's state (kept between runs)",
    )
    parser.add_argument("--engine-url", help="engine to deploy on (default: the installation's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small and short")
    parser.add_argument("--out", type=Path, help=f"results file (default {RESULTS})")
    parser.add_argument("--print", action="store_true", help="print the results file and exit")
    args = parser.parse_args(argv)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    if args.print:
        print_report(json.loads(out.read_text()))
        return 0
    if args.quick:
        args.rounds, args.endpoints, args.idle_s = 1, 2, 1.0
        args.services, args.passes, args.large_passes = "10,100", 2, 1
    wanted = {p.strip() for p in args.only.split(",") if p.strip()}
    if wanted - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(wanted - set(PARTS)))}")
    for name in (*FOREIGN_ENV, "DOCKYARD_STATE_DIR", "DOCKYARD_LB_PORT"):
        os.environ.pop(name, None)
    t0 = time.monotonic()
    code = source()
    parts: dict[str, Any] = {}
    version = None
    if "deploy" in wanted:
        parts["deploy"], version = run_deploy_part(args)
    if "scale" in wanted:
        services = [int(x) for x in args.services.split(",")]
        parts["scale"] = run_scale_part(services, args.passes, args.large_passes)
    info = machine(version) | {"nproc": len(os.sched_getaffinity(0)), "source": code}
    info["run_s"] = round(time.monotonic() - t0, 1)
    doc = write_results(out, info, parts)
    print_report(doc)
    say(f"results: {out} ({info['run_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
