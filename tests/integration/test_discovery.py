"""Engine discovery starting and reusing a real dockerd in a private state directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.adapters.engine import connect, daemons, discovery, stop_started_engine
from dockyard.errors import EngineUnavailable
from dockyard.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def private_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A state dir no engine has used, with every shared engine hidden from discovery.

    The dockerd started here runs next to the shared test engine, so it must not
    touch that engine's ``docker0`` (``--bridge=none`` would delete it) nor its
    iptables rules: it gets a bridge of its own, made here and removed afterwards.
    The path is short on purpose: the engine's sockets live under it.
    """
    if os.geteuid() != 0:
        pytest.skip("starting dockerd needs root")
    bridge = f"dyd{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.213.251.1/24", "dev", bridge], check=True)
    monkeypatch.setattr(daemons, "DOCKERD_EXTRA_ARGS", (f"--bridge={bridge}", "--iptables=false"))
    monkeypatch.setattr(discovery, "DOCKER_SOCKET", Path("/nonexistent/docker.sock"))
    monkeypatch.setattr(discovery, "SYSTEM_PODMAN_SOCKET", Path("/nonexistent/podman.sock"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    state = Path(tempfile.mkdtemp(prefix="dy-disc-", dir="/tmp"))
    settings = Settings(state_dir=state, engine_url=None, engine_kind="docker")
    yield settings
    stop_started_engine(settings)
    shutil.rmtree(state, ignore_errors=True)
    subprocess.run(["ip", "link", "del", bridge], check=False)


@pytest.mark.slow
def test_connect_starts_dockerd_once_and_reuses_it(private_settings):
    lines: list[str] = []

    first = connect(private_settings, progress=lines.append)
    pid = daemons.read_pid(private_settings.run_dir / "dockerd.pid")
    second = connect(private_settings)

    assert first.kind == "docker"
    assert any("starting dockerd" in line for line in lines)
    assert second.base_url == first.base_url == f"unix://{private_settings.run_dir}/docker.sock"
    assert daemons.read_pid(private_settings.run_dir / "dockerd.pid") == pid
    second.ping()
    assert stop_started_engine(private_settings) == ["docker"]
    with pytest.raises(EngineUnavailable):
        connect(private_settings, start=False)


def test_an_engine_that_dies_on_start_is_reported_with_its_log(private_settings, monkeypatch):
    fake = private_settings.state_dir / "fake-dockerd"
    fake.write_text("#!/bin/sh\necho 'failed to start daemon: fake reason' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(daemons, "find_binary", lambda name: str(fake))

    with pytest.raises(EngineUnavailable) as failure:
        connect(private_settings)

    assert "fake reason" in failure.value.message
    assert str(private_settings.logs_dir / "dockerd.log") in (failure.value.hint or "")
