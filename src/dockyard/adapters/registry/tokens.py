"""Bearer tokens the registry trusts: a signing key, its certificate, and JWTs.

Distribution's ``token`` auth (https://distribution.github.io/distribution/spec/auth/jwt/)
accepts a JWT when its signing key is vouched for by the ``rootcertbundle`` file.
Distribution 2.8 looks for the key in the JWT header in this order: ``x5c`` (a
certificate chain that must verify against the bundle), ``jwk``, then ``kid`` (a
libtrust key fingerprint of a bundle key). Dockyard sends ``x5c`` with its one
self-signed certificate: it is the standard JOSE header, needs no libtrust-specific
fingerprint, and the certificate in the header *is* the bundle, so verification is
exact. The registry also checks ``iss``, ``aud`` (a single string in 2.8) and
``nbf <= now <= exp`` with no leeway, then reads the ``access`` claim.

The key and certificate are generated once per installation, under
``<state_dir>/registry/auth/``, and kept: every token server (the daemon, tests)
that uses the same state directory signs tokens the same registry accepts.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dockyard.adapters.filelock import file_lock
from dockyard.adapters.registry.scopes import Scope

SERVICE = "dockyard-registry"
ISSUER = "dockyard"
ALGORITHM = "ES256"
DEFAULT_TTL = 300.0
CERT_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class IssuedToken:
    """A signed token and when it stops working."""

    token: str
    issued_at: float
    expires_in: int
    granted: tuple[Scope, ...]

    def response(self) -> dict[str, Any]:
        """The token endpoint's JSON body (both names: Docker reads ``token``,
        OAuth2 clients ``access_token``)."""
        issued = dt.datetime.fromtimestamp(self.issued_at, dt.UTC)
        return {
            "token": self.token,
            "access_token": self.token,
            "expires_in": self.expires_in,
            "issued_at": issued.isoformat().replace("+00:00", "Z"),
        }


class TokenIssuer:
    """Signs registry tokens with the installation's key (created on first use)."""

    def __init__(self, state_dir: Path, *, service: str = SERVICE, issuer: str = ISSUER) -> None:
        self.auth_dir = state_dir.resolve() / "registry" / "auth"
        self.key_path = self.auth_dir / "token-signing-key.pem"
        self.cert_path = self.auth_dir / "token-signing-cert.pem"
        self.service = service
        self.issuer = issuer
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._x5c: list[str] | None = None

    def ensure_keys(self) -> Path:
        """Create the key and certificate if missing; return the certificate (the bundle)."""
        if not (self.key_path.is_file() and self.cert_path.is_file()):
            with file_lock(self.auth_dir / "lock"):
                if not (self.key_path.is_file() and self.cert_path.is_file()):
                    self._generate()
        return self.cert_path

    def issue(
        self,
        subject: str,
        granted: Iterable[Scope],
        ttl: float = DEFAULT_TTL,
        *,
        now: float | None = None,
    ) -> IssuedToken:
        """A token for ``subject`` carrying exactly ``granted`` (see :func:`.scopes.grant`).

        ``now`` exists for tests of expiry; ``nbf`` is set a few seconds early so a
        registry whose clock lags slightly still accepts a fresh token.
        """
        key, x5c = self._load()
        issued_at = time.time() if now is None else now
        scopes = tuple(granted)
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": int(issued_at + ttl),
            "nbf": int(issued_at) - 5,
            "iat": int(issued_at),
            "jti": uuid.uuid4().hex,
            "access": [scope.claim() for scope in scopes],
        }
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "JWT", "x5c": x5c})
        return IssuedToken(token, issued_at, int(ttl), scopes)

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a token this issuer signed (verified), for tests and audits."""
        key, _ = self._load()
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key(),
            algorithms=[ALGORITHM],
            audience=self.service,
            issuer=self.issuer,
        )
        return claims

    # -- internals ----------------------------------------------------------------------

    def _load(self) -> tuple[ec.EllipticCurvePrivateKey, list[str]]:
        if self._key is None or self._x5c is None:
            self.ensure_keys()
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise TypeError(f"{self.key_path} does not hold an EC key")
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            der = cert.public_bytes(serialization.Encoding.DER)
            self._key, self._x5c = key, [base64.b64encode(der).decode()]
        return self._key, self._x5c

    def _generate(self) -> None:
        """Write a fresh P-256 key (mode 0600) and a self-signed certificate for it."""
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard registry tokens")])
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp_key = self.key_path.with_name(f".{self.key_path.name}.tmp")
        fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        tmp_cert = self.cert_path.with_name(f".{self.cert_path.name}.tmp")
        tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp_key, self.key_path)  # key first: a cert alone never appears
        os.replace(tmp_cert, self.cert_path)
