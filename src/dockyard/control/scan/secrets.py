"""Secrets left in an image: in its ``ENV`` entries and in the text of its files.

Rules: AWS access key ids, 40-character AWS secret keys written next to the word
"secret", PEM private keys, GitHub tokens, and ``ENV`` variables whose name says
password, secret, token or API key. Every finding is CRITICAL and shows at most the
last four characters of the secret, so a scan report never becomes a leak itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

from dockyard.control.scan.severity import Severity


@dataclass(frozen=True)
class SecretFinding:
    """A secret found in an image; ``excerpt`` never holds more than its last 4 characters."""

    rule: str
    location: str  # "ENV NAME", or "<layer or file>:<line>"
    excerpt: str
    severity: Severity = Severity.CRITICAL


_TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws-access-key-id", re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA)[0-9A-Z]{16})(?![A-Z0-9])")),
    (
        "aws-secret-access-key",
        re.compile(r"(?i)secret[\w.-]*[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
    ),
    ("private-key", re.compile(r"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)")),
    ("github-token", re.compile(r"(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9])")),
    ("github-token", re.compile(r"(?<![A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])")),
)
_UNMASKED_RULES = frozenset({"private-key"})  # the match is a header, not key material
_KEEP = 4
_REFERENCE_SUFFIXES = frozenset({"file", "path", "dir"})  # *_FILE names a file, not a secret
_NOT_SECRETS = frozenset({"", "true", "false", "yes", "no", "none", "null"})


def mask_secret(secret: str) -> str:
    """``****…WXYZ``: the last four characters only, and none of a secret of 8 or fewer."""
    if len(secret) <= 2 * _KEEP:
        return "*" * len(secret)
    return "*" * (len(secret) - _KEEP) + secret[-_KEEP:]


def scan_text(text: str, location: str) -> tuple[SecretFinding, ...]:
    """Secrets in a file's text; each finding's location is ``location:line``."""
    findings: list[SecretFinding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        findings.extend(_line_findings(line, f"{location}:{number}"))
    return tuple(findings)


def _line_findings(line: str, location: str) -> Iterator[SecretFinding]:
    for rule, pattern in _TEXT_RULES:
        for match in pattern.finditer(line):
            secret = match.group(1)
            excerpt = secret if rule in _UNMASKED_RULES else mask_secret(secret)
            yield SecretFinding(rule, location, excerpt)


def scan_env(env: Iterable[str]) -> tuple[SecretFinding, ...]:
    """Secrets in an image config's ``Env`` (``NAME=value`` entries), one finding per name."""
    findings: list[SecretFinding] = []
    for entry in env:
        name, eq, value = entry.partition("=")
        if not eq:
            continue
        location = f"ENV {name}"
        known = next(_line_findings(entry, location), None)
        if known is not None:
            findings.append(known)
        elif _names_a_secret(name) and value.strip().lower() not in _NOT_SECRETS:
            findings.append(SecretFinding("env-secret", location, mask_secret(value)))
    return tuple(findings)


def _names_a_secret(name: str) -> bool:
    """``DB_PASSWORD``, ``HF_TOKEN``, ``API_KEY``, ``apiKey``; not ``TOKENIZERS_PARALLELISM``.

    A name ending in FILE, PATH or DIR points at a secret rather than holding one.
    """
    words = [word for word in re.split(r"[^a-z0-9]+", name.lower()) if word]
    if not words or words[-1] in _REFERENCE_SUFFIXES:
        return False
    if any(key in word for word in words for key in ("password", "passwd", "secret")):
        return True
    if words[-1].endswith(("token", "apikey")):
        return True
    return any(a == "api" and b == "key" for a, b in pairwise(words))
