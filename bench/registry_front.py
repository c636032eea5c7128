"""The registry front's blob download rate next to Distribution's own, in the same run.

One Distribution on a temporary state directory, and its front served by the daemon's
own code (:func:`dockyard.server.daemon._serve_registry_front`) in a process of its own,
as in the daemon. One random blob is uploaded; then ``curl`` downloads it with a pull
token, alternately through the front and straight from Distribution's private port,
``--rounds`` times each way. Each download is timed, and the CPU seconds the front's
process and Distribution spent on it are read from ``/proc``: on a shared machine the
rates swing with the load, the CPU spent per download much less.

Usage: ``.venv/bin/python bench/registry_front.py [--mb 128] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.registry import Scope
from dockyard.adapters.store.memory import MemoryStore
from dockyard.server.daemon import _serve_registry_front
from dockyard.server.platform import Platform
from dockyard.server.registry.handles import RegistryHandles
from dockyard.server.registry.operations import create_repository
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

REPOSITORY = "bench/blob"
TICK = os.sysconf("SC_CLK_TCK")


def serve(state: Path, port: int) -> None:
    """The front over a registry on ``state``, until SIGTERM (the child process)."""
    settings = Settings(state_dir=state, registry_port=port)
    handles = RegistryHandles.open(settings)
    handles.process.ensure_running()
    engine = FakeEngine()  # the front needs the store and the registry, nothing else
    artifacts = LocalArtifactStore(settings.artifacts_dir)
    platform = Platform(
        settings, MemoryStore(), engine, FakeLoadBalancer(), artifacts,
        FakeHealthProbe(engine), registry=handles,
    )  # fmt: skip
    create_repository(platform.store, {"repositoryName": REPOSITORY}, time.time())
    stop = _serve_registry_front(platform)
    assert stop is not None, "the front did not start"
    done = False

    def finish(*_: object) -> None:
        nonlocal done
        done = True

    signal.signal(signal.SIGTERM, finish)
    print(f"{handles.process.host} {handles.process.pid()}", flush=True)
    while not done:
        time.sleep(0.2)
    stop()
    handles.process.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def upload(host: str, token: str, blob: bytes) -> str:
    digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://{host}", headers=headers, timeout=300) as client:
        session = client.post(f"/v2/{REPOSITORY}/blobs/uploads/")
        session.raise_for_status()
        location = httpx.URL(session.headers["location"]).copy_merge_params({"digest": digest})
        client.put(location, content=blob).raise_for_status()
    return digest


def download(host: str, token: str, digest: str) -> tuple[float, int]:
    """Seconds ``curl`` took, and the bytes it got."""
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
         "-H", f"Authorization: Bearer {token}", f"http://{host}/v2/{REPOSITORY}/blobs/{digest}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out[0] == "200", out
    return float(out[2]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128, help="blob size in MiB")
    parser.add_argument("--rounds", type=int, default=5, help="downloads each way")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = Path(tempfile.mkdtemp(prefix="dockyard-bench-registry-")) / "state"
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(state), str(port)], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    direct, distribution = child.stdout.readline().decode().split()
    try:
        run(args.mb, args.rounds, state, port, direct, child.pid, int(distribution))
    finally:
        child.terminate()
        child.wait(30)


def run(
    mb: int, rounds: int, state: Path, port: int, direct: str, front_pid: int, dist_pid: int
) -> None:
    handles = RegistryHandles.open(Settings(state_dir=state, registry_port=port))
    scope = Scope("repository", REPOSITORY, ("pull", "push"))
    token = handles.issuer.issue("AWS", [scope]).token
    digest = upload(direct, token, os.urandom(mb << 20))
    hosts = {"front": f"127.0.0.1:{port}", "direct": direct}
    seconds: dict[str, list[float]] = {way: [] for way in hosts}
    cpu: dict[str, list[tuple[float, float]]] = {way: [] for way in hosts}
    for number in range(rounds):
        for way in ("front", "direct") if number % 2 == 0 else ("direct", "front"):
            before = cpu_seconds(front_pid), cpu_seconds(dist_pid)
            took, size = download(hosts[way], token, digest)
            assert size == mb << 20, size
            seconds[way].append(took)
            after = cpu_seconds(front_pid), cpu_seconds(dist_pid)
            cpu[way].append((after[0] - before[0], after[1] - before[1]))
    print(f"GET of a {mb} MiB blob with curl, {rounds} rounds each way, alternating")
    columns = f"{'median MiB/s':>12} {'runs (s)':40} {'CPU s: front':>12} {'Distribution':>12}"
    print(f"{'way':7} {columns}")
    for way in hosts:
        rate = statistics.median(mb / s for s in seconds[way])
        runs = " ".join(f"{s:.2f}" for s in seconds[way])
        front_cpu = statistics.median(c[0] for c in cpu[way])
        dist_cpu = statistics.median(c[1] for c in cpu[way])
        print(f"{way:7} {rate:12.0f} {runs:40} {front_cpu:12.2f} {dist_cpu:12.2f}")
    front = statistics.median(mb / s for s in seconds["front"])
    print(f"front / direct: {front / statistics.median(mb / s for s in seconds['direct']):.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
