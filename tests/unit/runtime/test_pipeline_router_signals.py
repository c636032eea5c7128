"""The multi-container router stops at once on SIGTERM.

In a container the router is PID 1, for which an unhandled SIGTERM is ignored: a
replica being replaced or deleted would then wait its whole stop timeout (30 s) for
SIGKILL. Outside a container an unhandled SIGTERM kills the process instead (exit
status -15), so a clean exit 0 here shows the router handles it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.unit


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_stops_the_router_cleanly_and_promptly() -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DOCKYARD_PIPELINE": json.dumps([{"hostname": "container-1", "port": _free_port()}]),
        "DOCKYARD_PIPELINE_PORT": str(port),
    }
    router = subprocess.Popen(
        [sys.executable, "-m", "dockyard.runtime.pipeline.router"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # listening (the container behind it is down: any answer will do)
            try:
                httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except httpx.TransportError:
                assert router.poll() is None, "the router exited while starting"
                assert time.monotonic() < deadline, "the router never listened"
                time.sleep(0.05)
        router.send_signal(signal.SIGTERM)
        assert router.wait(timeout=10) == 0
    finally:
        router.kill()
        router.wait()
