"""The registry's handles, opened once with the platform.

Clients reach the registry only through Dockyard's front on ``127.0.0.1:<registry_port>``
(:mod:`.front`): that is the host image references name. Distribution itself listens
on a private port the front forwards to.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.adapters.registry import Registry, RegistryClient, TokenIssuer
from dockyard.settings import Settings

#: ECR's user name for registry logins (``docker login -u AWS``)
LOGIN_USER = "AWS"


@dataclass
class RegistryHandles:
    process: Registry
    public_host: str  # "127.0.0.1:5000": what image references start with

    @classmethod
    def open(cls, settings: Settings) -> RegistryHandles:
        public = f"127.0.0.1:{settings.registry_port}"
        registry = Registry.from_settings(settings, token_realm=f"http://{public}/token")
        return cls(registry, public)

    @property
    def issuer(self) -> TokenIssuer:
        return self.process.issuer

    def client(self) -> RegistryClient:
        """A client of Distribution itself (privileged: the daemon's own tokens)."""
        return RegistryClient(self.process.base_url(), self.issuer)

    def reference(self, repository: str, tag_or_digest: str) -> str:
        """``127.0.0.1:5000/models/iris:v1`` or ``…@sha256:…``."""
        joiner = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.public_host}/{repository}{joiner}{tag_or_digest}"
