"""A secret as the store keeps it: encrypted, never the value itself.

The value is sealed by the daemon (:mod:`dockyard.server.secrets`) before it reaches
the store, with a key kept outside the database, so a copy of ``dockyard.db`` (a
backup, a bug report) carries no secret in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SecretRecord:
    """``ciphertext``: the sealed value (a Fernet token, text); times in epoch seconds."""

    KIND: ClassVar[str] = "secret"

    name: str
    ciphertext: str
    created_at: float
    updated_at: float

    @property
    def key(self) -> str:
        return self.name

    @property
    def owner(self) -> None:
        return None
