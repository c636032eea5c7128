"""Secrets: put, list, describe, delete (``/v1/secrets``).

Shapes follow Secrets Manager's (``Name``, ``ARN``, ``CreatedDate``,
``LastChangedDate``; ``SecretString`` in a put). There is deliberately no way to read
a value back: a secret leaves the daemon only into the environment of a container
whose task definition names it (``secrets[].valueFrom``). Names may hold ``/``
(``prod/db-password``), so routes take the rest of the path as the name.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server.deps import PlatformDep
from dockyard.server.secrets import SecretBox, SecretVault, described

router = APIRouter(tags=["secrets"])


def _vault(platform: PlatformDep) -> SecretVault:
    return SecretVault(platform.store, SecretBox(platform.settings.run_dir), platform.clock)


@router.get("/secrets")
def list_secrets(platform: PlatformDep) -> dict[str, Any]:
    """ListSecrets: every secret's name and dates, never a value."""
    return {"SecretList": [described(record) for record in _vault(platform).list()]}


@router.put("/secrets/{name:path}")
def put_secret(
    name: str,
    platform: PlatformDep,
    secret_string: str = Body(..., alias="SecretString", embed=True),
) -> dict[str, Any]:
    """Create the secret or replace its value (CreateSecret / PutSecretValue)."""
    record, created = _vault(platform).put(name, secret_string)
    platform.store.add_event("secret", record.name, "created" if created else "value replaced")
    return {**described(record), "Created": created}


@router.get("/secrets/{name:path}")
def describe_secret(name: str, platform: PlatformDep) -> dict[str, Any]:
    """DescribeSecret: the name and dates (the value is never returned)."""
    return described(_vault(platform).describe(name))


@router.delete("/secrets/{name:path}")
def delete_secret(name: str, platform: PlatformDep) -> dict[str, Any]:
    """Delete at once (no recovery window): tasks started later cannot get it."""
    vault = _vault(platform)
    record = vault.describe(name)
    vault.delete(record.name)
    platform.store.add_event("secret", record.name, "deleted")
    return {"Name": record.name, "ARN": described(record)["ARN"], "Deleted": True}
