"""``GET /token``: Docker's token endpoint, the realm Distribution's challenges name.

A client that Distribution challenged comes here with HTTP Basic credentials (an
ECR-style login: user ``AWS``, a short-lived password) and the scopes it wants. It gets
a registry token holding those scopes cut down to what the login allows, and only for
repositories that exist: like ECR, a push never creates a repository.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockyard.adapters.registry import IssuedToken, grant
from dockyard.errors import Unauthorized
from dockyard.server.platform import Platform
from dockyard.server.registry.credentials import verify_login
from dockyard.server.registry.front.answers import token_error
from dockyard.server.registry.handles import LOGIN_USER, RegistryHandles

TOKEN_TTL_S = 300.0


class TokenEndpoint:
    """Trades a login for a registry token scoped to what the login may do."""

    def __init__(self, platform: Platform, registry: RegistryHandles) -> None:
        self.platform = platform
        self.registry = registry

    async def answer(self, request: Request) -> Response:
        """Basic auth (an ECR-style login) → a registry token, or a refusal."""
        issuer = self.registry.issuer
        service = request.query_params.get("service")
        if service is not None and service != issuer.service:
            return token_error(400, f"unknown service {service!r}; this one is {issuer.service}")
        basic = basic_credentials(request.headers.get("authorization", ""))
        if basic is None:
            return token_error(401, "log in with user AWS and a registry password")
        try:
            allowed = verify_login(issuer, *basic)
        except Unauthorized as exc:
            return token_error(401, f"{exc.message} ({exc.hint})")
        requested = request.query_params.getlist("scope")
        issued = await run_in_threadpool(self._issue, requested, allowed)
        return JSONResponse(issued.response())

    def _issue(self, requested: list[str], allowed: Mapping[str, Iterable[str]]) -> IssuedToken:
        """What the login allows of the request, for repositories that exist."""
        repositories = self.platform.store.repositories
        granted = [
            scope
            for scope in grant(requested, allowed)
            if scope.type != "repository" or repositories.get(scope.name) is not None
        ]
        return self.registry.issuer.issue(LOGIN_USER, granted, TOKEN_TTL_S)


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic …`` header, if it is one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
