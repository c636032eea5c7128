"""What the model server costs beyond ``predict``: Dockyard's server against the HTTP floor.

``make bench-serving-floor`` (``python -m bench.serving.http_floor``). Three servers of
the same model, the same JSON in and out and two worker processes each, on the host,
wrk on 127.0.0.1 with one-row requests, alternated over several rounds:

* **dockyard** — Dockyard's model server (``python -m dockyard.runtime serve``: uvicorn's
  httptools protocol on uvloop, invocations answered in the protocol, the handler chain
  on the event loop, a ping guard thread per worker);
* **floor, thread** — :mod:`.floor_server` with ``predict`` handed to one thread per
  process, the usual way to keep answering ``/ping`` during a long prediction;
* **floor, inline** — :mod:`.floor_server` with ``predict`` on the event loop.

Each pass reads the server's CPU time (its process tree) before and after; CPU µs per
request, less one-row ``predict`` alone in one process (same run), is what the HTTP
layer, the codecs and the hand-off cost. Writes ``bench/results/serving-floor.json``
and prints a table; the figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .ceilings import predict_rate
from .cpu import Meter, tree_reader
from .load import Request, run_wrk
from .model import REPO, ROW, train
from .procs import HostServer, wait_ready
from .targets import base_env, free_port

FLOOR = Path(__file__).with_name("floor_server.py")
RESULTS = REPO / "bench" / "results" / "serving-floor.json"
WORKERS = 2
REQUEST = Request("/invocations", "application/json", json.dumps([list(ROW)]))
SERVERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "dockyard": ([sys.executable, "-m", "dockyard.runtime", "serve"], {}),
    "floor, thread": ([sys.executable, str(FLOOR)], {"FLOOR_HANDOFF": "thread"}),
    "floor, inline": ([sys.executable, str(FLOOR)], {"FLOOR_HANDOFF": "inline"}),
}


def summarise(runs: dict[str, list[dict[str, float]]], predict_us: float) -> dict[str, Any]:
    """Medians per server, and what each costs beyond ``predict`` (µs per request)."""
    summary: dict[str, Any] = {}
    for name, passes in runs.items():
        server_us = statistics.median(p["server_us"] for p in passes)
        summary[name] = {
            "rps": round(statistics.median(p["rps"] for p in passes)),
            "server_us": round(server_us, 1),
            "beyond_predict_us": round(server_us - predict_us, 1),
        }
    return summary


def table(summary: dict[str, Any], predict_us: float) -> str:
    lines = [
        f"{'server':16} {'req/s':>8} {'CPU µs/req':>11} {'beyond predict':>15}",
        *(
            f"{name:16} {row['rps']:>8,} {row['server_us']:>11.1f} "
            f"{row['beyond_predict_us']:>15.1f}"
            for name, row in summary.items()
        ),
        f"one-row predict alone: {predict_us:.1f} µs a call",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    work = REPO / "build" / "bench-serving-floor"
    model = train(work)
    started: dict[str, tuple[HostServer, int]] = {}
    try:
        for name, (command, extra) in SERVERS.items():
            port = free_port()
            env = {
                **base_env(),
                **extra,
                "SM_MODEL_DIR": str(model.directory),
                "SAGEMAKER_BIND_TO_PORT": str(port),
                "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
            }
            log = work / f"{name.replace(', ', '-')}.log"
            server = HostServer.start(name, command, log, env)
            started[name] = (server, port)
            wait_ready(f"http://127.0.0.1:{port}/ping", 120.0, server.process)
        predict_us = predict_rate(model.joblib_path, 3.0)["us_per_call"]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in started}
        for round_number in range(1, args.rounds + 1):
            for name, (server, port) in started.items():
                meter = Meter({"server": tree_reader(server.process.pid)})
                figures = run_wrk(
                    f"http://127.0.0.1:{port}",
                    REQUEST,
                    args.connections,
                    args.seconds,
                    timed_s=0,
                    meter=meter,
                )
                if figures.errors:
                    print(f"  ✗ {name}: {figures.errors} errors", flush=True)
                server_us = figures.cpu_us.get("server")
                if server_us is None:
                    raise RuntimeError(f"{name}: its CPU time could not be read")
                runs[name].append({"rps": figures.rps, "server_us": server_us})
                print(
                    f"round {round_number} {name:16} {figures.rps:>8,.0f} req/s "
                    f"{server_us:>6.1f} µs/req",
                    flush=True,
                )
    finally:
        for server, _ in started.values():
            server.stop()
    summary = summarise(runs, predict_us)
    print(table(summary, predict_us))
    RESULTS.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "connections": args.connections,
                "seconds": args.seconds,
                "workers": WORKERS,
                "predict_us": predict_us,
                "summary": summary,
                "runs": runs,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
