"""Findings counted per severity, the shape of ECR's ``findingSeverityCounts``.

Secrets and vulnerabilities are summarised together, so the summary asks only that a
finding have a severity; every severity is present, in botocore's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from dockyard.control.scan.severity import Severity


class Finding(Protocol):
    @property
    def severity(self) -> Severity: ...


@dataclass(frozen=True)
class ScanSummary:
    """Findings per severity, every severity present, in botocore's order."""

    counts: tuple[tuple[Severity, int], ...]

    def count(self, severity: Severity) -> int:
        return dict(self.counts)[severity]

    @property
    def total(self) -> int:
        return sum(number for _, number in self.counts)

    @property
    def highest(self) -> Severity | None:
        """The most serious severity found (``None`` for a clean image)."""
        present = [severity for severity, number in self.counts if number]
        return max(present, key=lambda s: s.rank) if present else None

    def finding_severity_counts(self) -> Mapping[str, int]:
        """ECR's ``findingSeverityCounts``: only the severities that occur."""
        return {severity.value: number for severity, number in self.counts if number}


def summarize(findings: Iterable[Finding]) -> ScanSummary:
    """Count ``findings`` (secrets, vulnerabilities, or both) per severity."""
    tally = dict.fromkeys(Severity, 0)
    for finding in findings:
        tally[finding.severity] += 1
    return ScanSummary(tuple(tally.items()))
