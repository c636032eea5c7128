"""``secrets[].valueFrom`` in every form ECS files use maps to one local secret name."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.spec.secret_refs import SecretRef, check_secret_name, parse_value_from

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ("db-password", SecretRef("db-password")),
        ("prod/db-password", SecretRef("prod/db-password")),
        ("/prod/db-password", SecretRef("prod/db-password")),
        (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db",
            SecretRef("prod/db"),
        ),
        (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbC123",
            SecretRef("prod/db-AbC123", unsuffixed="prod/db"),
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:creds:password::",
            SecretRef("creds", json_key="password"),
        ),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/prod/api-key", SecretRef("prod/api-key")),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/flat", SecretRef("flat")),
    ],
)
def test_value_from_forms_map_to_the_local_name(value_from: str, expected: SecretRef) -> None:
    assert parse_value_from(value_from) == expected


def test_a_suffixed_arn_tries_the_exact_name_first() -> None:
    ref = parse_value_from("arn:aws:secretsmanager:r:1:secret:db-AbC123")
    assert ref.candidates == ("db-AbC123", "db")


@pytest.mark.parametrize(
    "value_from", ["arn:aws:s3:::bucket/key", "bad name!", "", "arn:aws:ssm:r:1:document/x"]
)
def test_other_forms_are_refused_naming_the_field(value_from: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_value_from(value_from)
    assert caught.value.field in ("valueFrom", "Name")


def test_names_follow_secrets_managers_rule() -> None:
    assert check_secret_name("a/b_c+d=e.f@g-h") == "a/b_c+d=e.f@g-h"
    with pytest.raises(SpecError):
        check_secret_name("x" * 513)
