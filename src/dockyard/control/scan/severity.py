"""ECR's finding severities, and how a CVSS score maps onto them.

Secrets, vulnerabilities and the summary all speak in these severities, so they live
apart from each: a finding of any kind can be ranked and counted the same way.
CVSS scores map as Amazon Inspector maps them: 9.0 and above CRITICAL, 7.0 HIGH,
4.0 MEDIUM, above 0 LOW, exactly 0 INFORMATIONAL, no score UNDEFINED.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """ECR's finding severities, in botocore's order (``FindingSeverity``)."""

    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"
    UNDEFINED = "UNDEFINED"

    @property
    def rank(self) -> int:
        """How serious: CRITICAL 5 … INFORMATIONAL 1, UNDEFINED (no score) 0."""
        return _RANK[self]


_RANK = {
    Severity.UNDEFINED: 0,
    Severity.INFORMATIONAL: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}


def severity_from_cvss(score: float | None) -> Severity:
    """ECR's severity for a CVSS base score (``None``: the advisory gives no score)."""
    if score is None:
        return Severity.UNDEFINED
    if not 0.0 <= score <= 10.0:
        raise ValueError(f"a CVSS score lies between 0 and 10, not {score}")
    for floor, severity in ((9.0, Severity.CRITICAL), (7.0, Severity.HIGH), (4.0, Severity.MEDIUM)):
        if score >= floor:
            return severity
    return Severity.LOW if score > 0.0 else Severity.INFORMATIONAL
