"""Registry tokens: the signing key and certificate, and the JWT Distribution reads."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dockyard.adapters.registry.scopes import Scope
from dockyard.adapters.registry.tokens import TokenIssuer

pytestmark = pytest.mark.unit

IRIS_PULL = Scope("repository", "models/iris", ("pull",))


def _header(token: str) -> dict[str, object]:
    head = token.split(".", maxsplit=1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def test_keys_are_made_once_under_the_state_dir_and_kept(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)

    bundle = issuer.ensure_keys()
    first = bundle.read_bytes()
    TokenIssuer(tmp_path).ensure_keys()

    assert bundle == tmp_path.resolve() / "registry" / "auth" / "token-signing-cert.pem"
    assert bundle.read_bytes() == first
    assert stat.S_IMODE(issuer.key_path.stat().st_mode) == 0o600


def test_the_certificate_is_self_signed_for_the_signing_key(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)
    cert = x509.load_pem_x509_certificate(issuer.ensure_keys().read_bytes())
    key = serialization.load_pem_private_key(issuer.key_path.read_bytes(), None)

    assert cert.issuer == cert.subject
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(serialization.Encoding.DER, public) == (
        key.public_key().public_bytes(serialization.Encoding.DER, public)
    )


def test_a_token_carries_the_claims_distribution_checks(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)

    issued = issuer.issue("alice", [IRIS_PULL], ttl=120, now=1_000_000.0)
    claims = jwt.decode(issued.token, options={"verify_signature": False})

    assert claims["iss"] == "dockyard"
    assert claims["aud"] == "dockyard-registry"  # one string: Distribution 2.8 wants that
    assert claims["sub"] == "alice"
    assert claims["iat"] == 1_000_000
    assert claims["exp"] == 1_000_120
    assert claims["nbf"] <= claims["iat"]
    assert len(claims["jti"]) >= 16
    assert claims["access"] == [{"type": "repository", "name": "models/iris", "actions": ["pull"]}]


def test_the_header_names_the_certificate_that_signed(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)

    header = _header(issuer.issue("alice", [IRIS_PULL]).token)

    cert = x509.load_pem_x509_certificate(issuer.cert_path.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    assert header["alg"] == "ES256"
    assert header["x5c"] == [base64.b64encode(der).decode()]


def test_a_token_verifies_with_the_certificate_key(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)
    token = issuer.issue("alice", [IRIS_PULL]).token
    public = x509.load_pem_x509_certificate(issuer.cert_path.read_bytes()).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)

    claims = jwt.decode(token, public, algorithms=["ES256"], audience="dockyard-registry")

    assert claims["sub"] == "alice"


def test_an_expired_token_does_not_decode(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)
    token = issuer.issue("alice", [IRIS_PULL], ttl=60, now=time.time() - 120).token

    with pytest.raises(jwt.ExpiredSignatureError):
        issuer.decode(token)


def test_a_token_with_no_grant_has_an_empty_access_list(tmp_path: Path) -> None:
    issuer = TokenIssuer(tmp_path)

    assert issuer.decode(issuer.issue("anonymous", []).token)["access"] == []


def test_the_token_response_has_both_names_and_the_lifetime(tmp_path: Path) -> None:
    issued = TokenIssuer(tmp_path).issue("alice", [IRIS_PULL], ttl=300, now=0.0)

    body = issued.response()

    assert body["token"] == body["access_token"] == issued.token
    assert body["expires_in"] == 300
    assert body["issued_at"] == "1970-01-01T00:00:00Z"
