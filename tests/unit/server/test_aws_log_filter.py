"""CloudWatch Logs filter patterns on plain lines: terms, phrases, ?any, -none, %regex%."""

from __future__ import annotations

import pytest

from dockyard.server.aws.log_filter import PatternError, matcher

pytestmark = pytest.mark.unit

LINES = [
    "INFO epoch 1 loss=0.4",
    "WARN learning rate too high",
    "ERROR Out of memory",
    "ERROR Retrying after timeout",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", LINES),
        (None, LINES),
        ("ERROR", LINES[2:]),
        ("ERROR memory", LINES[2:3]),
        ('"Out of memory"', LINES[2:3]),
        ("?WARN ?memory", LINES[1:3]),
        ("ERROR -Retrying", LINES[2:3]),
        ("error", []),  # case-sensitive, as CloudWatch's terms are
        ("%loss=0\\.[0-9]%", LINES[:1]),
        ("%^(WARN|INFO)%", LINES[:2]),
    ],
)
def test_a_pattern_selects_the_lines_cloudwatch_would(
    pattern: str | None, expected: list[str]
) -> None:
    match = matcher(pattern)
    assert [line for line in LINES if match(line)] == expected


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ('{ $.level = "error" }', "JSON and space-delimited"),
        ("[ip, user]", "JSON and space-delimited"),
        ("%(unclosed%", "invalid regular expression"),
        ('"unclosed phrase', "close the quoted phrase"),
    ],
)
def test_a_pattern_that_cannot_be_applied_is_refused_saying_why(pattern: str, says: str) -> None:
    with pytest.raises(PatternError, match=says):
        matcher(pattern)
