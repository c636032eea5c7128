"""Fixtures for the model server tests: an iris model on disk and real server processes.

Servers run as ``python -m dockyard.runtime serve`` subprocesses on loopback, configured
only through the environment, exactly as a container starts them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import dockyard

SRC = Path(dockyard.__file__).resolve().parents[1]
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One model server subprocess and an HTTP client for it."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dockyard.runtime", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.Client(base_url=self.url, trust_env=False, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> ServerProcess:
        """Poll /ping until it answers 200; fail with the server's log if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.client.get("/ping", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def wait_exit(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def invoke(
        self,
        body: bytes | str,
        content_type: str | None = "text/csv",
        accept: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        if accept is not None:
            sent["Accept"] = accept
        return self.client.post("/invocations", content=body, headers=sent)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Launcher:
    """Starts servers against a model directory, with optional user code."""

    def __init__(self, root: Path, model_dir: Path) -> None:
        self.root = root
        self.model_dir = model_dir
        self.started: list[ServerProcess] = []

    def start(
        self,
        *,
        code: str | None = None,
        env: dict[str, str] | None = None,
        model_dir: Path | None = None,
        wait: bool = True,
    ) -> ServerProcess:
        port = free_port()
        # Named by order, not by port: a port freed by an earlier server is handed out again.
        workdir = self.root / f"server-{len(self.started)}-{port}"
        workdir.mkdir()
        full_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SAGEMAKER_", "SM_"))
        }
        full_env.update(
            SM_MODEL_DIR=str(model_dir or self.model_dir),
            SAGEMAKER_BIND_TO_PORT=str(port),
            SAGEMAKER_MODEL_SERVER_WORKERS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        )
        if code is not None:
            (workdir / "inference.py").write_text(code)
            full_env["SAGEMAKER_SUBMIT_DIRECTORY"] = str(workdir)
            full_env["SAGEMAKER_PROGRAM"] = "inference.py"
        full_env.update(env or {})
        server = ServerProcess(full_env, workdir / "server.log", port)
        self.started.append(server)
        return server.wait_ready() if wait else server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="session")
def iris_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding ``model.joblib``: LogisticRegression fitted on iris."""
    directory = tmp_path_factory.mktemp("iris-model")
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    joblib.dump(model, directory / "model.joblib")
    return directory


@pytest.fixture(scope="session")
def iris_model(iris_model_dir: Path) -> Any:
    return joblib.load(iris_model_dir / "model.joblib")


@pytest.fixture(scope="session")
def launcher(tmp_path_factory: pytest.TempPathFactory, iris_model_dir: Path) -> Iterator[Launcher]:
    servers = Launcher(tmp_path_factory.mktemp("servers"), iris_model_dir)
    yield servers
    servers.stop_all()


@pytest.fixture
def start_server(launcher: Launcher) -> Iterator[Callable[..., ServerProcess]]:
    """Start a server for one test; it is stopped when the test ends."""
    started: list[ServerProcess] = []

    def start(**options: Any) -> ServerProcess:
        server = launcher.start(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
