"""Registry logins the way ECR hands them out: user ``AWS`` and a signed, expiring password.

``aws ecr get-login-password`` gives a password that ``docker login -u AWS`` accepts
for twelve hours; Dockyard's equivalent is :func:`issue_login`. The password is a JWT
signed with the installation's registry key (the :class:`TokenIssuer`'s), carrying
what the login may do, as :func:`~dockyard.adapters.registry.grant` reads it: resource
patterns mapped to actions, e.g. :data:`FULL_ACCESS` for a user, or
``{"models/iris": ["pull"]}`` for the replicas of one endpoint. Nothing is stored:
the front (:mod:`.front`) checks the signature and the expiry when a client trades
the password for a registry token, and cuts the requested scopes down to the patterns.

The password's audience is :data:`LOGIN_AUDIENCE`, not the registry's service, so
Distribution refuses it as a bearer token: a login is only good at the token endpoint,
where repository existence is checked too.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from dockyard.adapters.registry import Scope, TokenIssuer
from dockyard.adapters.registry.tokens import ALGORITHM
from dockyard.errors import Unauthorized
from dockyard.server.registry.handles import LOGIN_USER

#: the ``aud`` of login passwords (the registry's own tokens name its service)
LOGIN_AUDIENCE = "dockyard-registry-login"
#: ECR's login lifetime
LOGIN_TTL_S = 12 * 3600.0
#: what a person's login may do: push and pull every repository, list the catalog,
#: delete manifests (the front keeps Dockyard's image records in step)
FULL_ACCESS: Mapping[str, tuple[str, ...]] = {
    "*": ("pull", "push", "delete"),
    "registry:catalog": ("*",),
}
LOGIN_HINT = "get a fresh password with `dockyard login`; the user is AWS"


@dataclass(frozen=True)
class LoginCredentials:
    """What ``docker login`` needs, as ECR's ``GetAuthorizationToken`` returns it."""

    username: str
    password: str
    expires_at: float  # epoch seconds
    proxy_endpoint: str  # "http://127.0.0.1:5000", or "" when the issuer was not told

    @property
    def authorization_token(self) -> str:
        """ECR's ``authorizationToken``: base64 of ``AWS:password``."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def auth_config(self) -> dict[str, str]:
        """docker-py's ``auth_config`` for a push or a pull."""
        return {"username": self.username, "password": self.password}


def issue_login(
    issuer: TokenIssuer,
    allowed: Mapping[str, Sequence[str]],
    ttl_s: float = LOGIN_TTL_S,
    now: float | None = None,
    *,
    proxy_endpoint: str = "",
) -> LoginCredentials:
    """A login allowed ``allowed`` (patterns → actions, see :func:`grant`) for ``ttl_s``.

    ``proxy_endpoint`` is echoed back for ECR-shaped answers (the front's URL).
    """
    signer = _login_signer(issuer.auth_dir, issuer.issuer)
    scopes = [_pattern_scope(pattern, actions) for pattern, actions in sorted(allowed.items())]
    issued = signer.issue(LOGIN_USER, scopes, ttl_s, now=now)
    return LoginCredentials(
        LOGIN_USER, issued.token, issued.issued_at + issued.expires_in, proxy_endpoint
    )


def verify_login(
    issuer: TokenIssuer, username: str, password: str, now: float | None = None
) -> Mapping[str, tuple[str, ...]]:
    """What a login may do (patterns → actions); :class:`Unauthorized` if it is not one.

    Refused: another user than ``AWS``, a password not signed by this installation's
    key (or not a login password at all, e.g. a registry token), an expired one.
    """
    if username != LOGIN_USER:
        raise Unauthorized(
            f"unknown registry user {username!r}", resource="registry", hint=LOGIN_HINT
        )
    issuer.ensure_keys()
    try:
        claims: dict[str, Any] = jwt.decode(
            password,
            _public_key(str(issuer.cert_path), issuer.cert_path.stat().st_mtime_ns),
            algorithms=[ALGORITHM],
            audience=LOGIN_AUDIENCE,
            issuer=issuer.issuer,
            options={"verify_exp": False, "verify_nbf": False, "require": ["exp", "nbf"]},
        )
    except jwt.InvalidTokenError:
        raise Unauthorized(
            "the registry password is not valid", resource="registry", hint=LOGIN_HINT
        ) from None
    at = time.time() if now is None else now
    if not claims["nbf"] <= at < claims["exp"]:
        raise Unauthorized(
            "the registry password has expired", resource="registry", hint=LOGIN_HINT
        )
    return _allowed_of(claims.get("access") or [])


# -- internals -----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _login_signer(auth_dir: Path, issuer_name: str) -> TokenIssuer:
    """A signer with the installation's key whose tokens name the login audience."""
    return TokenIssuer(auth_dir.parent.parent, service=LOGIN_AUDIENCE, issuer=issuer_name)


@lru_cache(maxsize=8)
def _public_key(cert_path: str, _mtime_ns: int) -> ec.EllipticCurvePublicKey:
    """The key the certificate vouches for (cached until the file changes)."""
    with open(cert_path, "rb") as handle:
        key = x509.load_pem_x509_certificate(handle.read()).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError(f"{cert_path} does not hold an EC key")
    return key


def _pattern_scope(pattern: str, actions: Sequence[str]) -> Scope:
    """``models/*`` → repository scope, ``registry:catalog`` → registry scope (as in grant)."""
    kind, sep, name = pattern.partition(":")
    if not sep:
        kind, name = "repository", pattern
    return Scope(kind, name, tuple(sorted(set(actions))))


def _allowed_of(access: list[Any]) -> dict[str, tuple[str, ...]]:
    allowed: dict[str, tuple[str, ...]] = {}
    for entry in access:
        if not isinstance(entry, dict):
            continue
        kind, name = str(entry.get("type", "")), str(entry.get("name", ""))
        pattern = name if kind == "repository" else f"{kind}:{name}"
        allowed[pattern] = tuple(str(a) for a in entry.get("actions") or ())
    return allowed
