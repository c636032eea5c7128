"""HAProxy's thread count on the request path, measured (``make bench-lb-threads``).

The daemon's own HAProxy configuration is copied with the endpoint's replicas as static
servers, on a free port, once per thread count; each copy serves ``wrk`` (one-row JSON
to ``/endpoints/NAME/invocations``) in turn, round after round, so the copies see the
same machine. One replica straight (no balancer) is measured each round too, as the
ceiling of one replica. Results go to ``bench/results/lb-threads.json``.

Needs a running endpoint (the quickstart's ``iris``), ``wrk`` and ``haproxy``.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dockyard.settings import get_settings

BENCH = Path(__file__).resolve().parent
BODY = "[[5.1,3.5,1.4,0.2]]"
WRK_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def runtime(command: str, socket_path: Path) -> str:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(socket_path))
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


def replicas(route: str) -> tuple[str, list[str]]:
    """The slot backend that serves ``route`` and its servers' addresses, from the
    running HAProxy."""
    settings = get_settings()
    routes = (settings.state_dir / "lb" / "routes.map").read_text().split("\n")
    slot = next((line.split()[1] for line in routes if line.split()[:1] == [route]), None)
    if slot is None:
        sys.exit(f"no route {route!r}: deploy it first (make quickstart deploys iris)")
    state = runtime(f"show servers state {slot}", settings.run_dir / "haproxy.sock")
    servers = [
        f"{fields[4]}:{fields[18]}"
        for fields in (line.split() for line in state.splitlines())
        if len(fields) > 18 and fields[1] == slot
    ]
    if not servers:
        sys.exit(f"route {route!r} has no replica in the balancer")
    return slot, servers


def variant(slot: str, servers: list[str], threads: int, port: int) -> str:
    """The daemon's configuration as a standalone copy with ``threads`` threads."""
    settings = get_settings()
    text = (settings.state_dir / "lb" / "haproxy.cfg").read_text()
    text = re.sub(r"^\s+(stats socket|server-state-file|nbthread) .*\n", "", text, flags=re.M)
    text = text.replace("    load-server-state-from-file global\n", "")
    text = re.sub(r"bind \S+:\d+", f"bind 127.0.0.1:{port}", text, count=1)
    text = text.replace("global\n", f"global\n    nbthread {threads}\n", 1)
    lines = "".join(f"    server r{i} {a} check inter 2s\n" for i, a in enumerate(servers))
    head = f"backend {slot}\n"
    start = text.index(head)
    end = text.find("\nbackend ", start + len(head))
    end = len(text) if end < 0 else end
    return text[:end].rstrip("\n") + "\n" + lines + text[end:]


def wrk(url: str, script: Path, seconds: int, connections: int) -> float:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"errors from {url}:\n{done.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)[1])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", default="iris")
    parser.add_argument("--threads", default="1,2", help="thread counts to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    slot, servers = replicas(args.endpoint)
    path = f"/endpoints/{args.endpoint}/invocations"
    results: dict[str, list[float]] = {f"{n} thread(s)": [] for n in counts}
    results["one replica, no balancer"] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-lb-threads-") as scratch:
        script = Path(scratch) / "post.lua"
        script.write_text(WRK_SCRIPT)
        for round_ in range(1, args.rounds + 1):
            for n in counts:
                port = free_port()
                config = Path(scratch) / f"haproxy-{n}.cfg"
                config.write_text(variant(slot, servers, n, port))
                proc = subprocess.Popen(
                    ["haproxy", "-db", "-f", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    url = f"http://127.0.0.1:{port}{path}"
                    deadline = time.monotonic() + 10
                    while True:  # listening, and a replica passed its first check
                        try:
                            headers = {"Content-Type": "application/json"}
                            if httpx.post(url, content=BODY, headers=headers).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"the copy with {n} thread(s) never answered")
                        time.sleep(0.1)
                    rate = wrk(url, script, args.seconds, args.connections)
                finally:
                    proc.terminate()
                    proc.wait()
                results[f"{n} thread(s)"].append(rate)
                print(f"[lb-threads] round {round_}: {n} thread(s) {rate:,.0f} req/s", flush=True)
            direct = f"http://{servers[0]}/invocations"
            rate = wrk(direct, script, args.seconds, args.connections)
            results["one replica, no balancer"].append(rate)
            print(f"[lb-threads] round {round_}: one replica {rate:,.0f} req/s", flush=True)
    summary = {name: round(statistics.median(rates)) for name, rates in results.items()}
    out = {
        "endpoint": args.endpoint,
        "replicas": len(servers),
        "connections": args.connections,
        "seconds": args.seconds,
        "median_req_per_s": summary,
        "rounds_req_per_s": results,
    }
    (BENCH / "results" / "lb-threads.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
