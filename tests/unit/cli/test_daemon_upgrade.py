"""A daemon left running from an earlier installation is restarted by the next command.

The daemon reports the installation it loaded (``/v1/health``'s ``Installation``);
the CLI compares it with its own (:func:`dockyard.installation.fingerprint`). The
daemon's side is an ``httpx.MockTransport`` here; the restart itself (SIGTERM through
the lock's pid, then the usual start) is recorded, not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.cli import context, daemon_process
from dockyard.cli.client import ApiClient
from dockyard.installation import fingerprint
from dockyard.settings import Settings

pytestmark = pytest.mark.unit


def client_of(tmp_path: Path, health: dict[str, Any] | None) -> ApiClient:
    client = ApiClient(Settings(state_dir=tmp_path))

    def answer(request: httpx.Request) -> httpx.Response:
        if health is None:
            raise httpx.ConnectError("no daemon", request=request)
        return httpx.Response(200, json=health)

    client._http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://d")
    return client


@pytest.mark.parametrize(
    ("health", "restart"),
    [
        ({"Version": "0.1.0", "Installation": fingerprint()}, False),
        ({"Version": "0.1.0", "Installation": "0123456789abcdef"}, True),
        ({"Version": "0.1.0"}, True),  # a daemon from before installations were reported
        (None, False),  # none runs: it is started, not restarted
    ],
    ids=["same", "upgraded", "too-old-to-say", "none"],
)
def test_a_daemon_of_another_installation_is_told_apart(
    tmp_path: Path, health: dict[str, Any] | None, restart: bool
) -> None:
    client = client_of(tmp_path, health)
    assert client.runs_another_installation(client.health()) is restart


def test_a_remote_daemon_is_never_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_API_URL", "http://elsewhere:9070")
    client = client_of(tmp_path, {"Installation": "0123456789abcdef"})
    assert client.remote
    assert client.runs_another_installation(client.health()) is False


def test_the_first_command_after_an_upgrade_stops_the_old_daemon_then_starts_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    health: dict[str, Any] = {"Installation": "0123456789abcdef"}
    steps: list[str] = []

    def stop(_: Settings, timeout: float = 0) -> int:
        steps.append("stop")
        health.clear()
        return 4242

    made = client_of(tmp_path, health)
    monkeypatch.setattr(context, "ApiClient", lambda _settings: made)
    monkeypatch.setattr(context, "_client", None)
    monkeypatch.setattr(daemon_process, "stop", stop)
    monkeypatch.setattr(made, "ensure_daemon", lambda on_wait=None: steps.append("start"))

    assert context.api() is made
    assert steps == ["stop", "start"]
    assert "earlier installation" in capsys.readouterr().err
