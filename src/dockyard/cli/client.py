"""The CLI's only way into Dockyard: the daemon's HTTP API.

By default over the owner-only unix socket, starting the daemon first when it does
not answer; with ``DOCKYARD_API_URL`` (and ``DOCKYARD_API_TOKEN``) over TCP to a
daemon elsewhere, which the CLI never tries to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

from dockyard.errors import DaemonUnavailable, DockyardError, error_from_dict
from dockyard.installation import fingerprint
from dockyard.settings import Settings

DAEMON_START_TIMEOUT = 90.0


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = os.environ.get("DOCKYARD_API_URL")
        self.remote = url is not None
        if url:
            token = os.environ.get("DOCKYARD_API_TOKEN", "")
            headers = {"authorization": f"Bearer {token}"} if token else {}
            self._http = httpx.Client(base_url=url, headers=headers, timeout=None)
        else:
            transport = httpx.HTTPTransport(uds=str(settings.api_socket))
            self._http = httpx.Client(transport=transport, base_url="http://dockyard", timeout=None)

    # plumbing ------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield the JSON lines of a streaming response (builds, logs, waits)."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                for line in response.iter_lines():
                    if line.strip():
                        item = json.loads(line)
                        if "error" in item:
                            raise error_from_dict(item["error"], 500)
                        yield item
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: httpx.Response) -> DockyardError:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text or response.reason_phrase}
        if isinstance(body, dict) and "detail" in body and "message" not in body:
            body = {"code": "ValidationException", "message": str(body["detail"])}
        return error_from_dict(body, response.status_code)

    def _unreachable(self, exc: Exception) -> DaemonUnavailable:
        return DaemonUnavailable(
            f"the Dockyard daemon did not answer ({exc})",
            hint="check DOCKYARD_API_URL"
            if self.remote
            else f"see {self.settings.logs_dir / 'daemon.log'}, or run `dockyard server`",
        )

    # daemon life ---------------------------------------------------------------

    def alive(self) -> bool:
        return self.health() is not None

    def health(self) -> dict[str, Any] | None:
        """The daemon's ``/v1/health``, or None when it does not answer."""
        try:
            response = self._http.get("/v1/health", timeout=5)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        return body if isinstance(body, dict) else {}

    def runs_another_installation(self, health: dict[str, Any] | None) -> bool:
        """Whether the local daemon that answered ``health`` (:meth:`health`) runs other
        code than this command (an upgrade since, or a daemon too old to say): it should
        be restarted. Never for a remote daemon."""
        if self.remote:
            return False
        return health is not None and health.get("Installation") != fingerprint()

    def ensure_daemon(self, on_wait: Any = None) -> None:
        """Start the daemon in the background unless it already answers."""
        if self.alive():
            return
        if self.remote:
            raise self._unreachable(ConnectionError("connection refused"))
        log_path = self.settings.logs_dir / "daemon.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "dockyard.cli.main", "server"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.alive():
                return
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                raise DaemonUnavailable(
                    "the Dockyard daemon exited while starting:\n  " + "\n  ".join(tail),
                    hint=f"full log: {log_path}",
                )
            if on_wait is not None:
                on_wait()
            time.sleep(0.2)
        raise DaemonUnavailable(
            f"the Dockyard daemon did not answer within {DAEMON_START_TIMEOUT:.0f} s",
            hint=f"see {log_path}",
        )
