"""Dockyard's image registry: a CNCF Distribution it starts, and the tokens it trusts.

- :class:`Registry` — start/reuse/stop the registry process, read-only maintenance,
  garbage collection (:mod:`.registry`, :mod:`.process`, :mod:`.config`);
- :class:`TokenIssuer`, :func:`grant`, :func:`parse_scopes` — the token side of the
  Docker Registry v2 auth protocol (:mod:`.tokens`, :mod:`.scopes`);
- :class:`RegistryClient` — list, inspect and delete what the registry holds
  (:mod:`.client`).
"""

from dockyard.adapters.registry.client import ManifestInfo, RegistryClient, RegistryReadOnly
from dockyard.adapters.registry.config import Notifications, RegistryConfig, UploadPurging
from dockyard.adapters.registry.registry import GcReport, Registry
from dockyard.adapters.registry.scopes import Scope, grant, parse_scope, parse_scopes
from dockyard.adapters.registry.tokens import ISSUER, SERVICE, IssuedToken, TokenIssuer

__all__ = [
    "ISSUER",
    "SERVICE",
    "GcReport",
    "IssuedToken",
    "ManifestInfo",
    "Notifications",
    "Registry",
    "RegistryClient",
    "RegistryConfig",
    "RegistryReadOnly",
    "Scope",
    "TokenIssuer",
    "UploadPurging",
    "grant",
    "parse_scope",
    "parse_scopes",
]
