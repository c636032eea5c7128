"""ECR-style registry logins: user AWS, a signed password that says what it allows, expiry."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import jwt
import pytest

from dockyard.adapters.registry import Scope, TokenIssuer
from dockyard.errors import Unauthorized
from dockyard.server.registry.credentials import (
    FULL_ACCESS,
    LOGIN_TTL_S,
    issue_login,
    verify_login,
)

pytestmark = pytest.mark.unit

PULL_IRIS = {"models/iris": ["pull"]}


@pytest.fixture
def issuer(tmp_path: Path) -> TokenIssuer:
    return TokenIssuer(tmp_path / "state")


def test_a_login_is_user_aws_for_twelve_hours(issuer: TokenIssuer) -> None:
    now = time.time()

    login = issue_login(issuer, FULL_ACCESS, now=now, proxy_endpoint="http://127.0.0.1:5000")

    assert login.username == "AWS"
    assert login.expires_at == pytest.approx(now + LOGIN_TTL_S, abs=1)
    assert login.proxy_endpoint == "http://127.0.0.1:5000"
    assert base64.b64decode(login.authorization_token).decode() == f"AWS:{login.password}"


def test_a_login_carries_what_it_allows(issuer: TokenIssuer) -> None:
    full = issue_login(issuer, FULL_ACCESS)
    pull_only = issue_login(issuer, PULL_IRIS)

    assert verify_login(issuer, "AWS", full.password) == {
        "*": ("delete", "pull", "push"),
        "registry:catalog": ("*",),
    }
    assert verify_login(issuer, "AWS", pull_only.password) == {"models/iris": ("pull",)}


def test_another_user_name_is_refused(issuer: TokenIssuer) -> None:
    login = issue_login(issuer, PULL_IRIS)

    with pytest.raises(Unauthorized, match="unknown registry user"):
        verify_login(issuer, "admin", login.password)


def test_an_expired_password_is_refused(issuer: TokenIssuer) -> None:
    issued_at = time.time() - LOGIN_TTL_S - 60
    old = issue_login(issuer, PULL_IRIS, now=issued_at)

    with pytest.raises(Unauthorized, match="expired"):
        verify_login(issuer, "AWS", old.password)


def test_expiry_is_judged_at_the_time_given(issuer: TokenIssuer) -> None:
    login = issue_login(issuer, PULL_IRIS, ttl_s=60)

    assert verify_login(issuer, "AWS", login.password, now=time.time() + 30)
    with pytest.raises(Unauthorized, match="expired"):
        verify_login(issuer, "AWS", login.password, now=time.time() + 61)


def test_a_password_signed_by_another_installation_is_refused(
    issuer: TokenIssuer, tmp_path: Path
) -> None:
    stranger = issue_login(TokenIssuer(tmp_path / "elsewhere"), FULL_ACCESS)

    with pytest.raises(Unauthorized, match="not valid"):
        verify_login(issuer, "AWS", stranger.password)


def test_a_tampered_password_is_refused(issuer: TokenIssuer) -> None:
    header, payload, signature = issue_login(issuer, PULL_IRIS).password.split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    widened = claims.replace(b'"models/iris"', b'"*"')
    forged = base64.urlsafe_b64encode(widened).rstrip(b"=").decode()

    with pytest.raises(Unauthorized):
        verify_login(issuer, "AWS", f"{header}.{forged}.{signature}")


def test_a_password_is_not_a_registry_token(issuer: TokenIssuer) -> None:
    """Distribution checks the audience: a login is only good at the token endpoint."""
    login = issue_login(issuer, PULL_IRIS)

    with pytest.raises(jwt.InvalidAudienceError):
        issuer.decode(login.password)


def test_a_registry_token_is_not_a_password(issuer: TokenIssuer) -> None:
    token = issuer.issue("AWS", [Scope("repository", "models/iris", ("pull",))]).token

    with pytest.raises(Unauthorized, match="not valid"):
        verify_login(issuer, "AWS", token)


def test_garbage_is_refused(issuer: TokenIssuer) -> None:
    with pytest.raises(Unauthorized):
        verify_login(issuer, "AWS", "not-a-jwt")
