"""The API's doors: unix socket trusted by file mode, TCP only with the token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dockyard.server.auth import TokenGuard, load_or_create_token

pytestmark = pytest.mark.unit


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _call(server: Any, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "server": server, "headers": headers}
    asyncio.run(TokenGuard(_app, "s3cret")(scope, receive, send))
    return int(sent[0]["status"])


def test_unix_socket_requests_pass_without_token() -> None:
    assert _call(None, []) == 200


def test_unix_socket_reported_as_path_without_port_passes_without_token() -> None:
    assert _call(("/state/run/api.sock", None), []) == 200


def test_tcp_request_without_token_is_401() -> None:
    assert _call(("127.0.0.1", 7000), []) == 401


def test_tcp_request_with_wrong_token_is_401() -> None:
    assert _call(("127.0.0.1", 7000), [(b"authorization", b"Bearer nope")]) == 401


def test_tcp_request_with_token_passes() -> None:
    assert _call(("127.0.0.1", 7000), [(b"authorization", b"Bearer s3cret")]) == 200


def test_generated_token_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "run" / "api-token"
    first = load_or_create_token(path, None)
    assert load_or_create_token(path, None) == first
    assert path.stat().st_mode & 0o077 == 0
    assert load_or_create_token(path, "given") == "given"
