"""`dockyard credentials`: access keys for boto3 and the AWS CLI (SigV4).

``create`` prints the key once, with the lines that point a shell's AWS tools at
Dockyard (``AWS_ENDPOINT_URL`` is read by boto3 and the AWS CLI v2 alike).
"""

from __future__ import annotations

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, console, table

credentials_app = typer.Typer(
    help="Access keys for the AWS APIs (boto3, the AWS CLI) Dockyard answers.",
    no_args_is_help=True,
)


@credentials_app.command("create")
def create() -> None:
    """Issue an access key id and secret (the secret is shown only now)."""
    key = api().request("POST", "/v1/aws/credentials")
    console.print(f"AccessKeyId      {key['AccessKeyId']}")
    console.print(f"SecretAccessKey  {key['SecretAccessKey']}")
    console.print(f"EndpointUrl      {key['EndpointUrl']}")
    console.print("\nUse them from a shell:")
    console.print(
        f"  export AWS_ACCESS_KEY_ID={key['AccessKeyId']} "
        f"AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']} "
        f"AWS_ENDPOINT_URL={key['EndpointUrl']} AWS_DEFAULT_REGION=us-east-1",
        soft_wrap=True,
    )


@credentials_app.command("list")
def list_keys() -> None:
    """The issued access key ids (never their secrets)."""
    answer = api().request("GET", "/v1/aws/credentials")
    rows = [[k["AccessKeyId"], ago(k["CreateDate"])] for k in answer["AccessKeys"]]
    table(None, ["ACCESS KEY ID", "CREATED"], rows)


@credentials_app.command("delete")
def delete(access_key_id: str) -> None:
    """Revoke an access key: requests signed with it are refused from now on."""
    api().request("DELETE", f"/v1/aws/credentials/{access_key_id}")
    console.print(f"deleted {access_key_id}")
