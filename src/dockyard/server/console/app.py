"""The web console: a few static pages over the daemon's public HTTP API.

It is one ASGI app on its own loopback port (:func:`serve`): ``/`` is a single page
whose script reads everything it shows from ``/v1/…``, the same API app the CLI talks
to, so the console can show nothing the API cannot give. ``/static/`` holds the
page's own files (package data, no build step); ``/vendor/`` the chart library
``dockyard setup`` installed (:mod:`dockyard.adapters.chart_library`), a 404 when it
is absent, which the page explains. Every request first passes
:func:`~dockyard.server.console.guard.decide`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.adapters.chart_library import FILES, package_dir
from dockyard.errors import Forbidden, Unauthorized
from dockyard.server.console.guard import (
    API_PREFIX,
    LOGIN_PATH,
    Decision,
    Request,
    Verdict,
    decide,
    set_cookie_header,
)
from dockyard.server.listeners import serve_on_loopback

STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"frame-ancestors 'none'",
    ),
]


def _login_page(message: str = "") -> str:
    page = (STATIC_DIR / "login.html").read_text()
    return page.replace("<!--message-->", message)


def _pages(token: str, share_dir: Path) -> Starlette:
    vendor = {Path(name).name: package_dir(share_dir) / name for name in FILES}

    def index(_: StarletteRequest) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})

    def login(_: StarletteRequest) -> Response:
        return HTMLResponse(_login_page(), headers={"cache-control": "no-store"})

    async def login_form(request: StarletteRequest) -> Response:
        fields = dict(parse_qsl((await request.body()).decode(errors="replace")))
        if hmac.compare_digest(fields.get("token", "").strip().encode(), token.encode()):
            response = RedirectResponse("/", status_code=303)
            response.headers["set-cookie"] = set_cookie_header(token)
            return response
        return HTMLResponse(
            _login_page('<p class="error" role="alert">Wrong token: try again.</p>'),
            status_code=401,
        )

    def library(request: StarletteRequest) -> Response:
        path = vendor.get(request.path_params["name"])
        if path is None or not path.is_file():
            return Response("chart library not installed: run `dockyard setup`", 404)
        return FileResponse(path)

    return Starlette(
        routes=[
            Route("/", index),
            Route(LOGIN_PATH, login, methods=["GET"]),
            Route(LOGIN_PATH, login_form, methods=["POST"]),
            Route("/vendor/{name}", library),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
        ]
    )


class Console:
    """The console's ASGI app: the guard, then the pages or the API."""

    def __init__(self, api: ASGIApp, token: str, share_dir: Path) -> None:
        self.api = api
        self.token = token
        self.pages = _pages(token, share_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.pages(scope, receive, send)  # lifespan: the pages' own
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = Request(
            scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers
        )
        decision = decide(request, self.token)
        send = _with_headers(send)
        if decision.verdict is Verdict.PASS:
            target = self.api if request.path.startswith(API_PREFIX) else self.pages
            await target(scope, receive, send)
            return
        await _refusal(decision, self.token)(scope, receive, send)


def _refusal(decision: Decision, token: str) -> Response:
    verdict = decision.verdict
    if verdict is Verdict.REDIRECT_WITH_COOKIE:
        response = RedirectResponse(decision.location or "/", status_code=303)
        response.headers["set-cookie"] = set_cookie_header(token)
        return response
    if verdict is Verdict.TO_LOGIN:
        return RedirectResponse(decision.location or LOGIN_PATH, status_code=303)
    if verdict is Verdict.WRONG_TOKEN:
        return HTMLResponse(
            _login_page(
                '<p class="error" role="alert">Wrong token: the link is out of date or was '
                "mistyped. Run <code>dockyard console</code> for a new one.</p>"
            ),
            status_code=401,
        )
    if verdict is Verdict.API_UNAUTHORIZED:
        unauthorized = Unauthorized(
            "missing or wrong console session",
            hint="open the address `dockyard console` prints, or send "
            "'Authorization: Bearer <token>'",
        )
        return _json(unauthorized.to_dict(), 401)
    if verdict is Verdict.CSRF:
        error = Forbidden(
            "a change through the console's session must come from the console's own page",
            hint="send the X-Dockyard-Console header, or use 'Authorization: Bearer <token>'",
        )
        return _json(error.to_dict(), 403)
    error = Forbidden(
        "the console answers only on the loopback (127.0.0.1 or localhost)",
        hint="open the address `dockyard console` prints",
    )
    return _json(error.to_dict(), 403)


def _json(body: dict[str, object], status: int) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return sending


def serve(api: ASGIApp, token: str, share_dir: Path, port: int) -> Callable[[], None] | None:
    """Serve the console on 127.0.0.1:``port``; the function that stops it, or None."""
    return serve_on_loopback(
        Console(api, token, share_dir), port, what="console", setting="DOCKYARD_CONSOLE_PORT"
    )
