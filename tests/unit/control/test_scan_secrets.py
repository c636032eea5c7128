"""Secrets in images: found in ENV and files, reported CRITICAL, never shown in full.

Test secrets are assembled at run time (or are AWS's documented example keys), so
this file itself holds nothing a secret scanner would flag.
"""

from __future__ import annotations

import pytest

from dockyard.control.scan import SecretFinding, Severity, mask_secret, scan_env, scan_text

pytestmark = pytest.mark.unit

ACCESS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # AWS's documented example
GITHUB_TOKEN = "ghp_" + "aB3" * 12
FINE_GRAINED = "github_pat_" + "11ABCDEFG0" + "x" * 12 + "_" + "Y" * 59
PEM_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"


def only(findings: tuple[SecretFinding, ...]) -> SecretFinding:
    assert len(findings) == 1, findings
    return findings[0]


def test_an_aws_access_key_id_in_a_file_is_found_with_its_line() -> None:
    text = "[default]\nregion = us-east-1\naws_access_key_id = " + ACCESS_KEY_ID + "\n"
    finding = only(scan_text(text, "layer sha256:ab12/root/.aws/credentials"))
    assert finding.rule == "aws-access-key-id"
    assert finding.location == "layer sha256:ab12/root/.aws/credentials:3"
    assert finding.severity is Severity.CRITICAL
    assert finding.excerpt == "*" * 16 + "MPLE"


def test_a_40_character_secret_next_to_the_word_secret_is_found() -> None:
    finding = only(scan_text(f"aws_secret_access_key={SECRET_KEY}", "f"))
    assert finding.rule == "aws-secret-access-key"
    assert finding.excerpt.endswith("EKEY")
    assert SECRET_KEY not in finding.excerpt


@pytest.mark.parametrize(
    "line",
    [
        f'"SecretAccessKey": "{SECRET_KEY}"',
        f"secret: '{SECRET_KEY}'",
        f"export AWS_SECRET_ACCESS_KEY={SECRET_KEY}",
    ],
)
def test_aws_secret_keys_are_found_in_common_spellings(line: str) -> None:
    assert only(scan_text(line, "f")).rule == "aws-secret-access-key"


def test_a_40_character_string_without_the_word_secret_is_not_a_finding() -> None:
    assert scan_text(f"checksum = {SECRET_KEY}", "f") == ()


def test_a_longer_base64_run_is_not_a_secret_key() -> None:
    assert scan_text(f"secret = {SECRET_KEY}AAAA", "f") == ()


def test_a_private_key_header_is_found_and_shown_as_is() -> None:
    text = f"{PEM_HEADER}\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----\n"
    finding = only(scan_text(text, "app/key.pem"))
    assert finding.rule == "private-key"
    assert finding.location == "app/key.pem:1"
    assert finding.excerpt == PEM_HEADER  # the header holds no key material


@pytest.mark.parametrize(
    "header",
    [
        "-----BEGIN " + "PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "-----BEGIN " + "EC PRIVATE KEY-----",
        "-----BEGIN " + "ENCRYPTED PRIVATE KEY-----",
        "-----BEGIN " + "PGP PRIVATE KEY BLOCK-----",
    ],
)
def test_every_kind_of_private_key_header_is_found(header: str) -> None:
    assert only(scan_text(header, "k")).rule == "private-key"


def test_a_public_key_or_certificate_is_not_a_secret() -> None:
    text = "-----BEGIN PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n"
    assert scan_text(text, "k") == ()


@pytest.mark.parametrize("token", [GITHUB_TOKEN, "gho_" + "Z" * 36, FINE_GRAINED])
def test_github_tokens_are_found(token: str) -> None:
    finding = only(scan_text(f"token: {token}", "ci.yml"))
    assert finding.rule == "github-token"
    assert finding.excerpt == mask_secret(token)


def test_several_secrets_on_several_lines_are_each_reported() -> None:
    text = f"a={ACCESS_KEY_ID}\n\nb={GITHUB_TOKEN} c={ACCESS_KEY_ID}\n"
    assert [(f.rule, f.location) for f in scan_text(text, "f")] == [
        ("aws-access-key-id", "f:1"),
        ("aws-access-key-id", "f:3"),
        ("github-token", "f:3"),
    ]


def test_an_access_key_inside_a_longer_word_is_not_a_finding() -> None:
    assert scan_text(f"X{ACCESS_KEY_ID}9", "f") == ()


def test_env_secrets_are_located_by_variable_name() -> None:
    env = [
        "PATH=/usr/local/bin:/usr/bin",
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}",
        f"AWS_SECRET_ACCESS_KEY={SECRET_KEY}",
        "DB_PASSWORD=hunter2-but-longer",
        f"GH={GITHUB_TOKEN}",
    ]
    assert [(f.rule, f.location) for f in scan_env(env)] == [
        ("aws-access-key-id", "ENV AWS_ACCESS_KEY_ID"),
        ("aws-secret-access-key", "ENV AWS_SECRET_ACCESS_KEY"),
        ("env-secret", "ENV DB_PASSWORD"),
        ("github-token", "ENV GH"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "PASSWD",
        "POSTGRES_PASSWORD",
        "SECRET_KEY",
        "DJANGO_SECRET",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "accessToken",
        "API_KEY",
        "OPENAI_API_KEY",
        "apiKey",
        "api-key",
    ],
)
def test_env_names_that_hold_secrets(name: str) -> None:
    finding = only(scan_env([f"{name}=s3cr3t-value-123"]))
    assert finding.rule == "env-secret"
    assert finding.location == f"ENV {name}"
    assert finding.excerpt == "*" * 12 + "-123"


@pytest.mark.parametrize(
    "entry",
    [
        "TOKENIZERS_PARALLELISM=false",
        "MAX_TOKENS=512",
        "TOKEN_LIMIT=4096",
        "DB_PASSWORD_FILE=/run/secrets/db",
        "SECRETS_DIR=/run/secrets",
        "API_KEY_PATH=/etc/key",
        "DB_PASSWORD=",
        "USE_SECRET=true",
        "KEYBOARD=us",
        "NO_EQUALS_SIGN",
    ],
)
def test_env_entries_that_are_not_secrets(entry: str) -> None:
    assert scan_env([entry]) == ()


def test_an_env_value_with_a_specific_secret_is_reported_once() -> None:
    finding = only(scan_env([f"GITHUB_TOKEN={GITHUB_TOKEN}"]))
    assert finding.rule == "github-token"


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("abcdefghij", "******ghij"),
        ("123456789", "*****6789"),
        ("12345678", "********"),
        ("abc", "***"),
        ("", ""),
    ],
)
def test_masking_shows_at_most_the_last_four_characters(secret: str, masked: str) -> None:
    assert mask_secret(secret) == masked


def test_no_finding_holds_the_whole_secret() -> None:
    text = f"{ACCESS_KEY_ID}\nsecret={SECRET_KEY}\n{GITHUB_TOKEN}\n{FINE_GRAINED}"
    env = ["DB_PASSWORD=correct-horse-battery-staple", f"K={ACCESS_KEY_ID}"]
    secrets = [ACCESS_KEY_ID, SECRET_KEY, GITHUB_TOKEN, FINE_GRAINED, "correct-horse-battery"]
    for finding in (*scan_text(text, "f"), *scan_env(env)):
        assert not any(secret in repr(finding) for secret in secrets)
