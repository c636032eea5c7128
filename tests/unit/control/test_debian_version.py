"""Debian version ordering, as dpkg does it (Debian Policy 5.6.12 and dpkg's verrevcmp)."""

from __future__ import annotations

import random

import pytest

from dockyard.control.scan import DebianVersion, compare_debian_versions

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # the tilde sorts before anything, even the end of the part (Policy 5.6.12)
        ("1.0~rc1", "1.0"),
        ("1.0~rc1", "1.0~rc2"),
        ("1.0~~", "1.0~~a"),
        ("1.0~~a", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0", "1.0a"),
        ("2.30~beta1-1", "2.30-1"),
        # epochs win over everything else
        ("2.0", "1:0.1"),
        ("1:9.9", "2:0.1"),
        ("0:1.0", "1:1.0"),
        # revisions
        ("1.0-1", "1.0-2"),
        ("1.0-9", "1.0-10"),
        ("1.0-1", "1.0-1ubuntu1"),
        ("1.0-1", "1.0.1-1"),
        ("1.2-3", "1.2-3+b1"),  # binNMU
        ("1.2-3+deb12u1", "1.2-3+deb12u2"),
        ("3.0.11-1~deb12u2", "3.0.11-1"),
        # digits compare as numbers, letters before other characters
        ("2.4", "2.30"),
        ("1.9", "1.10"),
        ("1.0a", "1.0+"),
        ("1.0a", "1.0."),
        ("1.0", "1.0+b1"),
        ("1.0.", "1.0.1"),
        ("9", "10"),
    ],
)
def test_ordering(older: str, newer: str) -> None:
    assert compare_debian_versions(older, newer) == -1
    assert compare_debian_versions(newer, older) == 1
    assert DebianVersion.parse(older) < DebianVersion.parse(newer)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0", "0:1.0"),  # no epoch is epoch 0
        ("1.01", "1.1"),  # leading zeros do not count
        ("1.0", "1.0-0"),  # an absent revision sorts like "0"
        ("1.0-1", "1.0-01"),
        ("7", "7"),
    ],
)
def test_equal_versions(a: str, b: str) -> None:
    assert compare_debian_versions(a, b) == 0


def test_policy_example_sort_order() -> None:
    # Debian Policy: "~~, ~~a, ~, the empty part, a"
    versions = ["1.0a", "1.0", "1.0~", "1.0~~a", "1.0~~"]
    random.Random(3).shuffle(versions)
    ordered = sorted(versions, key=DebianVersion.parse)
    assert ordered == ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]


def test_parts_of_a_version() -> None:
    assert DebianVersion.parse("1:2.3-4-5") == DebianVersion(1, "2.3-4", "5")
    assert DebianVersion.parse("2.3") == DebianVersion(0, "2.3", "")
    assert DebianVersion.parse("2:1.0:3-1") == DebianVersion(2, "1.0:3", "1")


@pytest.mark.parametrize("text", ["", "x:1.0", ":1.0", "1:", "-1"])
def test_unreadable_versions_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        DebianVersion.parse(text)


def test_ordering_agrees_with_dpkg_on_random_pairs() -> None:
    # odd pairs, each checked against `dpkg --compare-versions` (dpkg 1.21.22)
    table = [
        ("1:7+b-b", "1.7", 1),
        ("0:9~-2", "9", -1),
        ("3.0-~", "3.0", -1),
        ("4a~1", "4a", -1),
        ("1.2+~", "1.2+", -1),
        ("2~a-z.1", "2~a-z", 1),
        ("5.b-0", "5.a-0", 1),
        ("6-+", "6-", 1),
        ("0:0", "0", 0),
        ("1.0-a", "1.0-~", 1),
    ]
    for a, b, expected in table:
        assert compare_debian_versions(a, b) == expected, (a, b)
