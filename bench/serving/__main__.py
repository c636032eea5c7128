"""``make bench-serving``: Dockyard's serving next to its peers, end to end and server to server.

Usage (from the repository root, as root, after ``dockyard setup``)::

    .venv/bin/python -m bench.serving                       # full run (~1 h on 2 cores)
    .venv/bin/python -m bench.serving --rounds 1 --duration 3   # smoke run
    .venv/bin/python -m bench.serving --only dockyard,fastapi --groups e2e
    .venv/bin/python -m bench.serving --print               # re-print the results file

A run shorter than the defaults (fewer rounds, shorter duration, ``--only``) is a smoke
run: it is labelled ``"smoke": true`` and written to
``bench/results/serving-smoke.json``, never over the committed results, and the README
is left alone. So is a full run that is interrupted (``"interrupted": true``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import ceilings, dockyard_side, peers, report, venvs
from .load import LoadError, run_wrk
from .model import ROW, train
from .targets import Context, Target, e2e_group, server_group

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "serving.json"
SMOKE_RESULTS = REPO / "bench" / "results" / "serving-smoke.json"
CHART = REPO / "bench" / "results" / "serving.png"
README = REPO / "bench" / "README.md"
DEFAULT_ROUNDS = 3
DEFAULT_DURATION = 10.0
DEFAULT_TIMED = 5.0
DEFAULT_C = (1, 8, 32, 128)
GROUPS = ("server", "e2e")
TOOLS = peers.Peer(
    name="_tools",
    title="report tools",
    requirements=("matplotlib",),
    request=peers.FASTAPI.request,
    ping="",
    command=(),
    process_model="",
)


def machine() -> dict[str, Any]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])

    def version(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return "absent"
        return (
            (done.stdout + done.stderr).strip().splitlines()[0]
            if done.stdout + done.stderr
            else "?"
        )

    cores = os.cpu_count() or 0
    info = {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": version("wrk", "-v"),
        "haproxy": version("haproxy", "-v"),
        "nginx": version("nginx", "-v") if shutil.which("nginx") else "absent",
        "load_average_start": list(os.getloadavg()),
    }
    info["summary"] = (
        f"{cores} cores ({cpu}), {info['memory_gib']} GiB, kernel {info['kernel']}, "
        f"Python {info['python']}"
    )
    return info


def dockyard_versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    out = {}
    for name in ("dockyard", "scikit-learn", "numpy", "uvicorn", "uvloop", "httptools"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "?"
    with contextlib.suppress(OSError):
        out["git"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    return out


def measure(
    targets: list[Target], args: argparse.Namespace, group: str, runs: list[dict[str, Any]]
) -> None:
    """Rounds by concurrencies by servers, the server order rotated every time (A/B/A/B)."""
    for target in targets:  # warm-up, not recorded
        try:
            run_wrk(target.base_url, target.request, 8, args.warmup, 0)
        except LoadError as exc:
            print(f"  warm-up of {target.name} failed: {exc}", flush=True)
    step = 0
    for rnd in range(args.rounds):
        for c in args.concurrency:
            shift = step % len(targets)
            order = targets[shift:] + targets[:shift]
            step += 1
            for target in order:
                try:
                    fig = run_wrk(
                        target.base_url,
                        target.request,
                        c,
                        args.duration,
                        args.timed_duration,
                        meter=target.meter,
                    )
                except LoadError as exc:
                    print(f"  {group} r{rnd} c={c} {target.name}: {exc}", flush=True)
                    runs.append(
                        {"round": rnd, "c": c, "target": target.name, "failed": str(exc)[:300]}
                    )
                    continue
                runs.append({"round": rnd, "c": c, "target": target.name, **fig.as_dict()})
                print(
                    f"  {group} r{rnd} c={c:<3} {target.name:<15} {fig.rps:>9,.0f} req/s  "
                    f"p50 {fig.p50_ms or 0:6.2f}  p99 {fig.p99_ms or 0:7.2f} ms  "
                    f"(corrected {fig.p99_corrected_ms:7.2f})  errors {fig.errors}"
                    + report.cpu_line(fig.cpu_us),
                    flush=True,
                )


def describe(targets: list[Target]) -> dict[str, Any]:
    out = {}
    for t in targets:
        try:
            rss = t.rss()
        except Exception as exc:
            rss = {}
            t.info["rss_error"] = str(exc)
        out[t.name] = {
            "title": t.title,
            "kind": t.kind,
            "url": t.base_url + t.request.path,
            "content_type": t.request.content_type,
            "body": t.request.body,
            "process_model": t.process_model,
            "rss_mib": rss,
            "rss_total_mib": round(sum(rss.values()), 1) if rss else None,
            **t.info,
        }
    return out


def run_group(ctx: Context, group: str, args: argparse.Namespace, doc: dict[str, Any]) -> None:
    print(f"── {group} ──", flush=True)
    stack = None
    targets: list[Target] = []
    try:
        if group == "server":
            targets = server_group(ctx)
        else:
            stack = dockyard_side.open_stack(args.state_dir, args.engine_url)
            engine = stack.engine.version
            doc["machine"]["engine"] = (
                f"{engine.get('Version')} (API {engine.get('ApiVersion')})"
                if isinstance(engine, dict)
                else str(engine)
            )
            targets = e2e_group(ctx, stack)
        # every started server is stopped below, measured or not
        chosen = [t for t in targets if not args.only or t.name in args.only]
        runs: list[dict[str, Any]] = []
        if chosen:
            measure(chosen, args, group, runs)
        doc["groups"][group] = {"targets": describe(chosen), "runs": runs}
    finally:
        for target in targets:
            try:
                target.stop()
            except Exception as exc:
                print(f"  stopping {target.name}: {exc}", flush=True)
        if stack is not None:
            for name in ("dockyard", "dockyard-batch", "const-lb"):
                dockyard_side.delete(stack, f"bench-serving-{name}")
            stack.close()


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so a killed run still stops its peers and endpoints.

    Without it ``kill`` ends the interpreter at once and the ``finally`` blocks that stop
    peer processes and delete the benchmark's endpoints never run.
    """

    def _raise(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def main(argv: list[str] | None = None) -> int:
    _exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="seconds")
    parser.add_argument(
        "--timed-duration",
        type=float,
        help="seconds of the uncorrected-latency pass (default: min(5, --duration); 0: skip)",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per server, once")
    parser.add_argument(
        "--concurrency", default=",".join(map(str, DEFAULT_C)), help="comma-separated"
    )
    parser.add_argument(
        "--only", default="", help="servers to measure, e.g. dockyard,fastapi,const-lb"
    )
    parser.add_argument("--peers", default=",".join(peers.PEERS), help="peers to install")
    parser.add_argument("--groups", default=",".join(GROUPS), help="server,e2e")
    parser.add_argument("--no-batching", action="store_true", help="skip the batching endpoint")
    parser.add_argument("--cache", type=Path, default=venvs.default_cache())
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/dockyard-bench-serving"))
    parser.add_argument("--engine-url", help="engine to deploy on (default: the installation's)")
    parser.add_argument("--output", type=Path, help="results file (default: by run kind)")
    parser.add_argument("--print", action="store_true", help="print the results file and exit")
    args = parser.parse_args(argv)
    if args.print:
        doc = json.loads((args.output or RESULTS).read_text())
        print(json.dumps(doc["summary"], indent=2))
        print(report.readme_section(doc, None))
        return 0
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    if args.timed_duration is None:
        args.timed_duration = min(DEFAULT_TIMED, args.duration)
    args.only = {n for n in args.only.split(",") if n}
    peer_names = [n for n in args.peers.split(",") if n]
    unknown = [n for n in peer_names if n not in peers.PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; known: {', '.join(peers.PEERS)}")
    if args.only:
        peer_names = [n for n in peer_names if n in args.only]
    groups = [g for g in args.groups.split(",") if g in GROUPS]
    full = (
        args.rounds >= DEFAULT_ROUNDS
        and args.duration >= DEFAULT_DURATION
        and not args.only
        and set(groups) == set(GROUPS)
        and set(args.concurrency) >= set(DEFAULT_C)
        and set(peer_names) == set(peers.PEERS)
    )
    output = args.output or (RESULTS if full else SMOKE_RESULTS)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    began = time.monotonic()
    work = args.cache / "work"
    work.mkdir(parents=True, exist_ok=True)
    model = train(work)
    doc: dict[str, Any] = {
        "benchmark": "serving",
        "smoke": not full,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "workers_per_server": peers.WORKERS,
            "timed_duration_s": args.timed_duration,
            "load": "per server and concurrency C, two wrk passes on 127.0.0.1: "
            "1) wrk -t min(C,2) -c C -d duration, static request: rps, *_corrected_ms, errors; "
            "2) wrk -t C -c C -d timed_duration (one connection per thread, per-request "
            "Lua timing): p50_ms/p90_ms/p99_ms/p999_ms, timed_rps, errors",
            "latency": "p50_ms/p99_ms are uncorrected (what requests saw, pass 2); "
            "*_corrected_ms are wrk's coordinated-omission-corrected percentiles (pass 1)",
            "errors": "pass 1: status >= 400 and socket errors (connect, read, write, "
            "timeout); pass 2: non-2xx and socket errors; summed",
            "model": f"iris LogisticRegression, scikit-learn {model.sklearn_version}",
            "row": list(ROW),
        },
        "versions": {"dockyard": dockyard_versions()},
        "groups": {},
    }
    ctx = Context(
        work=work,
        cache=args.cache,
        model=model,
        peer_names=peer_names,
        state_dir=args.state_dir,
        engine_url=args.engine_url,
        batching=not args.no_batching,
    )
    completed = False
    try:
        rate = ceilings.predict_rate(model.joblib_path, min(5.0, args.duration))
        doc["ceilings"] = {"predict_one_row_in_process": rate}
        print(f"ceiling: one-row predict {rate['calls_per_s']:,.0f} calls/s in process")
        for group in groups:
            run_group(ctx, group, args, doc)
        completed = True
    finally:
        if not completed:
            # an interrupted run keeps what it measured, but never over the committed results
            doc["interrupted"] = True
            doc["smoke"] = True
            if output == RESULTS:
                output = SMOKE_RESULTS
        doc["versions"].update(ctx.versions)
        doc["failures"] = ctx.failures
        doc["notes"] = ctx.notes
        doc["image_builds_s"] = ctx.builds
        doc["elapsed_s"] = round(time.monotonic() - began, 1)
        batch = ctx.failures.get("e2e/dockyard-batch")
        if batch:
            doc["batching_unavailable"] = batch
        if doc["groups"]:
            report.reduce(doc)
        report.write_json(doc, output)
        print(f"results: {output}")
    if doc.get("medians"):
        tools = venvs.ensure_venv(TOOLS, args.cache / "peers", ctx.log("install-tools"))
        chart = CHART if full else work / "serving-smoke.png"
        report.chart(str(tools / "bin" / "python"), output, chart)
        print(f"chart: {chart}")
    if full:
        report.update_readme(README, report.readme_section(doc, "results/serving.png"))
        print("README section updated")
    print(json.dumps(doc.get("summary"), indent=2))
    print(f"took {doc['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
