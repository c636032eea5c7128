"""A real ``dockyard server`` in a subprocess, for tests that drive the whole platform.

The daemon runs on its own state directory (database, artifacts, HAProxy, sockets)
against the session's engine, and is reached the way the CLI reaches it: over its
unix socket with :class:`~dockyard.cli.client.ApiClient`. :meth:`Daemon.cleanup`
leaves nothing behind on the shared engine: endpoints are deleted through the API
(so their routes and replicas go the normal way), then the daemon and its HAProxy
are stopped and any container still labelled as its own is removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from dockyard.adapters.lb.process import terminate
from dockyard.adapters.processes import read_pid
from dockyard.adapters.registry.process import RegistryPaths
from dockyard.adapters.registry.process import terminate as terminate_registry
from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.cli.client import ApiClient
from dockyard.errors import DockyardError
from dockyard.ports.engine import Engine
from dockyard.server.containers import INSTALLATION_LABEL
from dockyard.server.training import network_of
from dockyard.settings import Settings

T = TypeVar("T")

START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
DELETE_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def holds_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Check ``condition`` again and again for ``seconds``: for what must *not* happen.

    Polling can show that something happened, never that it will not; this watches
    for a stated window (a few reconcile passes) and fails at the first violation.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), f"{what} no longer holds"
        time.sleep(0.1)


class Daemon:
    """One ``python -m dockyard.cli.main server`` process and its state directory."""

    def __init__(
        self, state_dir: Path, engine_url: str, *, lb_port: int, tcp: str | None = None
    ) -> None:
        self.state_dir = state_dir
        self.engine_url = engine_url
        self.lb_port = lb_port
        self.tcp = tcp
        self.registry_port = free_port()  # each test daemon has its own registry front
        self.console_port = free_port()  # and its own console
        self.aws_port = free_port()  # and AWS front: never a user's daemon's 9090
        self.settings = Settings(
            state_dir=state_dir,
            engine_url=engine_url,
            lb_port=lb_port,
            registry_port=self.registry_port,
            console_port=self.console_port,
            aws_port=self.aws_port,
        )
        self.client = ApiClient(self.settings)
        self.log_path = state_dir.parent / f"{state_dir.name}-daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- environment ----------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment of the daemon, and of CLI commands that should reach it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
        env.update(
            DOCKYARD_STATE_DIR=str(self.state_dir),
            DOCKYARD_ENGINE_URL=self.engine_url,
            DOCKYARD_LB_PORT=str(self.lb_port),
            DOCKYARD_REGISTRY_PORT=str(self.registry_port),
            DOCKYARD_CONSOLE_PORT=str(self.console_port),
            DOCKYARD_AWS_PORT=str(self.aws_port),
            COLUMNS="200",
        )
        return env

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``dockyard ARGS`` against this daemon; output captured as text."""
        return subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # -- life -----------------------------------------------------------------------

    def start(self) -> None:
        command = [sys.executable, "-m", "dockyard.cli.main", "server"]
        if self.tcp:
            command += ["--tcp", self.tcp]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.client.alive():
            if self.process.poll() is not None:
                raise AssertionError(f"the daemon exited while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the daemon did not answer /v1/health:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL only if it will not go. Returns the exit status."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"the daemon ignored SIGTERM for {STOP_TIMEOUT:.0f} s:\n{self.log_tail()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL the daemon alone (its HAProxy and containers live on), as a crash."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> int | None:
        """Stop the daemon (SIGTERM, wait) and start a new one on the same state dir."""
        status = self.stop()
        self.start()
        return status

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no daemon log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- API ------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call that must succeed (a :class:`DockyardError` otherwise)."""
        return self.client.request(method, path, **kwargs)

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call whose failure is the point: the response as it came."""
        transport = httpx.HTTPTransport(uds=str(self.settings.api_socket))
        with httpx.Client(transport=transport, base_url="http://dockyard", timeout=60) as http:
            return http.request(method, path, **kwargs)

    def stream_result(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The ``result`` of a streaming call (builds), after all its progress lines."""
        result: dict[str, Any] = {}
        for item in self.client.stream(method, path, **kwargs):
            result = item.get("result", result)
        return result

    def installation(self) -> str | None:
        path = self.state_dir / "installation-id"
        return path.read_text().strip() if path.is_file() else None

    def containers(self, engine: Engine, labels: dict[str, str] | None = None) -> list[str]:
        """Ids of this daemon's containers (optionally narrowed by more labels)."""
        installation = self.installation()
        if installation is None:
            return []
        wanted = {INSTALLATION_LABEL: installation, **(labels or {})}
        return sorted(state.id for state in engine.list(wanted))

    # -- teardown -------------------------------------------------------------------

    def cleanup(self, engine: Engine) -> None:
        """Delete endpoints, stop the daemon and its HAProxy, remove leftover containers."""
        try:
            if self.process is not None and self.client.alive():
                self._delete_endpoints()
        finally:
            self.stop()
            self.client._http.close()
            pid = read_pid(self.state_dir / "run" / "haproxy.pid")
            if pid is not None:
                terminate(pid)
            registry_pid = read_pid(
                RegistryPaths.under(
                    self.state_dir, self.state_dir / "run", self.state_dir / "logs"
                ).pidfile
            )
            if registry_pid is not None:  # a daemon killed on purpose leaves it running
                terminate_registry(registry_pid)
            self._remove_leftovers(engine)

    def _delete_endpoints(self) -> None:
        names = [e["EndpointName"] for e in self.api("GET", "/v1/endpoints")["Endpoints"]]
        for name in names:
            with contextlib.suppress(DockyardError):
                self.api("DELETE", f"/v1/endpoints/{name}")
        wait_until(
            lambda: not self.api("GET", "/v1/endpoints")["Endpoints"],
            timeout=DELETE_TIMEOUT,
            what=f"endpoints {names} to be deleted",
            interval=0.2,
        )

    def _remove_leftovers(self, engine: Engine) -> None:
        labels: list[dict[str, str]] = []
        if (installation := self.installation()) is not None:
            labels.append({INSTALLATION_LABEL: installation})
        jobs: list[str] = []
        if self.settings.db_path.exists():
            store = SqliteStore(self.settings.db_path)
            try:
                labels += [{"dockyard.service": s.name} for s in store.services.list()]
                jobs = [job.name for job in store.training_jobs.list()]
            finally:
                store.close()
        labels += [{"dockyard.training-job": job} for job in jobs]
        for wanted in labels:
            for state in engine.list(wanted):
                with contextlib.suppress(DockyardError):
                    engine.remove(state.id)
        for job in jobs:
            with contextlib.suppress(DockyardError):
                engine.remove_network(network_of(job))
