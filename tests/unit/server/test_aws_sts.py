"""STS on the AWS front (the query protocol, XML), driven by a real boto3 client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_client import client
from botocore.exceptions import ClientError

from dockyard.server.aws.credentials import AccessKey, AccessKeys
from dockyard.server.aws.front import AwsFront

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::000000000000:role/inference-reader"


def test_a_user_s_key_is_the_local_account_s_root(front: AwsFront, world: World) -> None:
    key = AccessKeys(world.settings.run_dir).issue()
    identity = client(front, "sts", key).get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["UserId"] == "000000000000"
    assert identity["ResponseMetadata"]["RequestId"]


def test_a_task_role_s_key_is_that_role_assumed(front: AwsFront, world: World) -> None:
    key = AccessKeys(world.settings.run_dir).for_role(ROLE)
    identity = client(front, "sts", key).get_caller_identity()
    session = key.access_key_id
    assert identity["Arn"] == f"arn:aws:sts::000000000000:assumed-role/inference-reader/{session}"
    assert identity["UserId"].endswith(f":{session}")


def test_a_wrong_secret_is_refused_in_sts_s_xml_error_shape(front: AwsFront, world: World) -> None:
    real = AccessKeys(world.settings.run_dir).issue()
    forged = AccessKey(real.access_key_id, "not-the-secret", real.created_at)
    with pytest.raises(ClientError) as raised:
        client(front, "sts", forged).get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_other_actions_say_they_are_not_implemented(front: AwsFront, world: World) -> None:
    sts: Any = client(front, "sts", AccessKeys(world.settings.run_dir).issue())
    with pytest.raises(ClientError) as raised:
        sts.assume_role(RoleArn=ROLE, RoleSessionName="session")
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert "AssumeRole" in raised.value.response["Error"]["Message"]
