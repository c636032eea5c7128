"""Access keys for the AWS front (SigV4): issue, list, delete.

These are Dockyard's API (over its owner-only socket), not an AWS operation: whoever
may use the daemon may issue keys, and the keys let boto3 and the AWS CLI in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["aws"])


def _endpoint_url(platform: PlatformDep) -> str:
    return f"http://127.0.0.1:{platform.settings.aws_port}"


@router.post("/aws/credentials", status_code=201)
def create_credentials(platform: PlatformDep) -> dict[str, Any]:
    """A new access key id and secret; the secret is shown this once."""
    key = AccessKeys(platform.settings.run_dir).issue()
    return {
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key,
        "CreateDate": key.created_at,
        "EndpointUrl": _endpoint_url(platform),
    }


@router.get("/aws/credentials")
def list_credentials(platform: PlatformDep) -> dict[str, Any]:
    keys = AccessKeys(platform.settings.run_dir).all()
    return {"AccessKeys": [k.public() for k in keys], "EndpointUrl": _endpoint_url(platform)}


@router.delete("/aws/credentials/{access_key_id}")
def delete_credentials(access_key_id: str, platform: PlatformDep) -> dict[str, Any]:
    AccessKeys(platform.settings.run_dir).delete(access_key_id)
    return {"AccessKeyId": access_key_id, "Deleted": True}
