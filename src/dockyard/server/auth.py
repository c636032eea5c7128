"""Who may talk to the API.

The API starts containers, so it is never open to whoever can reach a port. The
unix socket is the default door: it lives in a 0700 directory and is itself 0600,
so the kernel already checked that the caller is the owner. A TCP listener exists
only when asked for, and every request on it must carry the token
(``Authorization: Bearer <token>``); a wrong or missing one gets 401 before any
route runs, so it changes nothing.
"""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.errors import Unauthorized


def load_or_create_token(path: Path, configured: str | None) -> str:
    """The token the TCP listener demands: the configured one, or a persisted random one."""
    if configured:
        return configured
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


class TokenGuard:
    """ASGI middleware: requests that arrived over TCP must carry the bearer token.

    uvicorn reports the local address of a TCP connection as ``scope["server"]``
    (a host/port pair) and, for a unix socket, ``None`` or the socket's path with no
    port: that is how the two doors are told apart without running two servers.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] != "http" or server is None or server[1] is None:
            await self.app(scope, receive, send)
            return
        presented = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(presented, self._expected):
            await self.app(scope, receive, send)
            return
        error = Unauthorized(
            "missing or wrong API token",
            hint="send 'Authorization: Bearer <token>'; the token is in the daemon's "
            "state directory (run/api-token) or DOCKYARD_API_TOKEN",
        )
        body = json.dumps(error.to_dict()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
