"""Who may use the console: the API token, presented once, then a session cookie.

``dockyard console`` prints ``http://127.0.0.1:PORT/?token=…``. The first request
trades the token for an HttpOnly, SameSite=Strict cookie and is redirected to the same
address without it, so the token leaves the address bar (and browser history from
then on) at once; no access log is written, so it is never logged either. The cookie
holds an HMAC of the token, not the token, and stops working when the token changes.

Every request is decided by :func:`decide` (pure, unit-tested) before anything runs:

* static files and the login page are public (code, no data);
* a right ``?token=`` sets the cookie and redirects; a wrong one is a 401;
* the API under ``/v1`` needs the cookie or ``Authorization: Bearer <token>``, else a
  401 with the API's error body; a write authenticated by the cookie must also carry
  :data:`CSRF_HEADER`, which no form of another site can send;
* any other page without a valid cookie redirects to the login page;
* a ``Host`` other than the loopback's is refused (no DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "dockyard_console"
CSRF_HEADER = "x-dockyard-console"
LOGIN_PATH = "/login"
PUBLIC_PREFIXES = ("/static/", "/vendor/")
API_PREFIX = "/v1/"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_value(token: str) -> str:
    """The cookie's value for ``token``: proves the token was shown, without holding it."""
    return hmac.new(token.encode(), b"dockyard-console-session", hashlib.sha256).hexdigest()


def set_cookie_header(token: str) -> str:
    return f"{COOKIE}={session_value(token)}; Path=/; HttpOnly; SameSite=Strict"


def without_token(query: str) -> str:
    """The query string with every ``token`` parameter removed."""
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
    return urlencode(kept)


def token_in(query: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "token":
            return value
    return None


def cookie_in(header: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no session, not a 500
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def host_name(host_header: str) -> str:
    """``Host`` without its port (``[::1]:9070`` → ``[::1]``)."""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


class Verdict(Enum):
    PASS = "pass"
    REDIRECT_WITH_COOKIE = "redirect-with-cookie"  # right ?token=: cookie, then without it
    WRONG_TOKEN = "wrong-token"  # 401, an HTML page
    API_UNAUTHORIZED = "api-unauthorized"  # 401, the API's error body
    TO_LOGIN = "to-login"  # 303 to the login page
    CSRF = "csrf"  # 403: a cookie-authenticated write without the console's header
    FOREIGN_HOST = "foreign-host"  # 403: Host is not the loopback


@dataclass(frozen=True)
class Request:
    """What :func:`decide` looks at; headers lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    location: str | None = None  # where a redirect goes


def decide(request: Request, token: str) -> Decision:
    """What to do with ``request`` given the console's ``token`` (see the module doc)."""
    if host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
        return Decision(Verdict.FOREIGN_HOST)
    presented = token_in(request.query)
    if presented is not None:
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return Decision(Verdict.WRONG_TOKEN)
        rest = without_token(request.query)
        return Decision(Verdict.REDIRECT_WITH_COOKIE, request.path + (f"?{rest}" if rest else ""))
    if request.path == LOGIN_PATH or request.path.startswith(PUBLIC_PREFIXES):
        return Decision(Verdict.PASS)
    bearer = request.headers.get("authorization", "")
    if bearer and hmac.compare_digest(bearer.encode(), f"Bearer {token}".encode()):
        return Decision(Verdict.PASS)
    cookie = cookie_in(request.headers.get("cookie", ""))
    has_session = cookie is not None and hmac.compare_digest(
        cookie.encode(), session_value(token).encode()
    )
    if request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"):
        if not has_session:
            return Decision(Verdict.API_UNAUTHORIZED)
        if request.method not in SAFE_METHODS and CSRF_HEADER not in request.headers:
            return Decision(Verdict.CSRF)
        return Decision(Verdict.PASS)
    if not has_session:
        return Decision(Verdict.TO_LOGIN, LOGIN_PATH)
    return Decision(Verdict.PASS)
