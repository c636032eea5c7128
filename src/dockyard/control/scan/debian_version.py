"""Debian version ordering, as dpkg implements it (Debian Policy 5.6.12).

Debian versions do not follow PEP 440 (epochs, ``~`` sorting before the end, letters
before other symbols), so deciding whether a ``deb`` package is affected needs dpkg's
own algorithm; it is kept here, on its own, so it can be checked against dpkg directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DebianVersion:
    """``[epoch:]upstream[-revision]``, ordered as dpkg orders it (Debian Policy 5.6.12)."""

    epoch: int
    upstream: str
    revision: str

    @classmethod
    def parse(cls, text: str) -> DebianVersion:
        """Split a version string; ValueError if it is empty or its epoch is not a number."""
        text = text.strip()
        epoch_text, colon, rest = text.partition(":")
        if not colon:
            epoch_text, rest = "0", text
        if not epoch_text.isdigit():
            raise ValueError(f"{text!r}: the epoch before ':' must be a number")
        upstream, hyphen, revision = rest.rpartition("-")
        if not hyphen:
            upstream, revision = rest, ""
        if not upstream:
            raise ValueError(f"{text!r} has no upstream version")
        return cls(int(epoch_text), upstream, revision)

    def compare(self, other: DebianVersion) -> int:
        """Negative, zero or positive as ``self`` sorts before, with or after ``other``."""
        if self.epoch != other.epoch:
            return -1 if self.epoch < other.epoch else 1
        return _verrevcmp(self.upstream, other.upstream) or _verrevcmp(
            self.revision, other.revision
        )

    def __lt__(self, other: DebianVersion) -> bool:
        return self.compare(other) < 0


def compare_debian_versions(a: str, b: str) -> int:
    """dpkg --compare-versions as a number: <0, 0 or >0."""
    result = DebianVersion.parse(a).compare(DebianVersion.parse(b))
    return (result > 0) - (result < 0)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _order(char: str) -> int:
    """dpkg's weight of a non-digit: ``~`` before the end, letters before other symbols."""
    if not char or _is_digit(char):
        return 0
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's ``verrevcmp``: alternate non-digit runs (by weight) and digit runs (by value)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        start_a, start_b = i, j
        while i < len(a) and _is_digit(a[i]):
            i += 1
        while j < len(b) and _is_digit(b[j]):
            j += 1
        number_a, number_b = int(a[start_a:i] or 0), int(b[start_b:j] or 0)
        if number_a != number_b:
            return -1 if number_a < number_b else 1
    return 0
