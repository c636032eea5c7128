"""Installed packages against advisories, ECR severities, and the per-severity summary."""

from __future__ import annotations

import pytest

from dockyard.control.scan import (
    Advisory,
    InstalledPackage,
    SecretFinding,
    Severity,
    VersionRange,
    compare_versions,
    is_affected,
    match_vulnerabilities,
    severity_from_cvss,
    summarize,
)
from dockyard.spec import aws_model

pytestmark = pytest.mark.unit

OPENSSL = InstalledPackage("deb", "libssl3", "3.0.11-1~deb12u2", source="openssl")
NUMPY = InstalledPackage("pypi", "numpy", "1.26.4")


def test_severities_are_ecrs_in_botocores_order() -> None:
    assert [s.value for s in Severity] == list(aws_model.enum("ecr", "FindingSeverity"))


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (10.0, Severity.CRITICAL),
        (9.0, Severity.CRITICAL),
        (8.9, Severity.HIGH),
        (7.0, Severity.HIGH),
        (6.9, Severity.MEDIUM),
        (4.0, Severity.MEDIUM),
        (3.9, Severity.LOW),
        (0.1, Severity.LOW),
        (0.0, Severity.INFORMATIONAL),
        (None, Severity.UNDEFINED),
    ],
)
def test_cvss_scores_map_to_ecr_severities(score: float | None, severity: Severity) -> None:
    assert severity_from_cvss(score) is severity


@pytest.mark.parametrize("score", [-0.1, 10.1])
def test_scores_outside_cvss_are_refused(score: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 10"):
        severity_from_cvss(score)


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        ("1.0", "1.0.0", 0),
        ("1.0rc1", "1.0", -1),
        ("1.0.post1", "1.0", 1),
        ("1.0.dev1", "1.0a1", -1),
        ("2!1.0", "3.0", 1),
        ("1.10", "1.9", 1),
    ],
)
def test_pypi_versions_follow_pep_440(a: str, b: str, result: int) -> None:
    assert compare_versions("pypi", a, b) == result


def test_an_unreadable_pypi_version_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        compare_versions("pypi", "not-a-version", "1.0")


def test_deb_versions_follow_dpkg() -> None:
    assert compare_versions("deb", "1.0~rc1", "1.0") == -1


def test_a_range_with_a_fix_affects_versions_before_it() -> None:
    advisory = Advisory(
        "CVE-2024-0001",
        "pypi",
        "NumPy",
        ranges=(VersionRange(introduced="1.20", fixed="1.26.5"),),
    )
    assert is_affected(advisory, NUMPY)
    assert not is_affected(advisory, InstalledPackage("pypi", "numpy", "1.26.5"))
    assert not is_affected(advisory, InstalledPackage("pypi", "numpy", "1.19.9"))
    assert is_affected(advisory, InstalledPackage("pypi", "numpy", "1.20.0"))


def test_last_affected_is_inclusive() -> None:
    advisory = Advisory("X", "pypi", "numpy", ranges=(VersionRange(last_affected="1.26.4"),))
    assert is_affected(advisory, NUMPY)
    assert not is_affected(advisory, InstalledPackage("pypi", "numpy", "1.26.5rc1"))


def test_exact_versions_match_by_value() -> None:
    advisory = Advisory("X", "pypi", "numpy", versions=("1.26.4.0",))
    assert is_affected(advisory, NUMPY)
    assert not is_affected(Advisory("X", "pypi", "numpy", versions=("1.26.3",)), NUMPY)


def test_without_ranges_every_version_before_the_fix_is_affected() -> None:
    assert is_affected(Advisory("X", "pypi", "numpy", fixed_version="2.0"), NUMPY)
    assert not is_affected(Advisory("X", "pypi", "numpy", fixed_version="1.26.4"), NUMPY)
    assert is_affected(Advisory("X", "pypi", "numpy"), NUMPY)  # no fix yet


def test_debian_advisories_match_the_source_package() -> None:
    advisory = Advisory("CVE-2024-5535", "deb", "openssl", fixed_version="3.0.13-1~deb12u1")
    assert is_affected(advisory, OPENSSL)
    fixed = InstalledPackage("deb", "libssl3", "3.0.13-1~deb12u1", source="openssl")
    assert not is_affected(advisory, fixed)


def test_a_debian_security_update_with_a_tilde_counts_as_older_than_the_release() -> None:
    advisory = Advisory("X", "deb", "openssl", fixed_version="3.0.11-1")
    assert is_affected(advisory, OPENSSL)  # 3.0.11-1~deb12u2 < 3.0.11-1


def test_other_ecosystems_and_names_never_match() -> None:
    assert not is_affected(Advisory("X", "deb", "numpy"), NUMPY)
    assert not is_affected(Advisory("X", "pypi", "scipy"), NUMPY)


def test_an_unreadable_version_matches_only_an_exact_entry() -> None:
    odd = InstalledPackage("pypi", "tool", "weird-build")
    assert not is_affected(Advisory("X", "pypi", "tool", fixed_version="2.0"), odd)
    assert is_affected(Advisory("X", "pypi", "tool", versions=("weird-build",)), odd)


def test_findings_carry_severity_fix_and_are_sorted_most_serious_first() -> None:
    advisories = [
        Advisory("CVE-LOW", "pypi", "numpy", cvss=3.1, fixed_version="2.0"),
        Advisory("CVE-CRIT", "deb", "openssl", cvss=9.8, fixed_version="3.0.14-1"),
        Advisory("CVE-SET", "pypi", "numpy", severity=Severity.HIGH, cvss=2.0),
        Advisory("CVE-NONE", "pypi", "numpy", fixed_version="1.0"),
    ]
    findings = match_vulnerabilities([NUMPY, OPENSSL], advisories)
    assert [(f.advisory_id, f.severity) for f in findings] == [
        ("CVE-CRIT", Severity.CRITICAL),
        ("CVE-SET", Severity.HIGH),  # an explicit severity wins over the score
        ("CVE-LOW", Severity.LOW),
    ]
    assert findings[0].package == OPENSSL
    assert findings[0].fixed_version == "3.0.14-1"


def test_the_same_pair_is_reported_once() -> None:
    advisory = Advisory("X", "deb", "openssl")
    both = InstalledPackage("deb", "openssl", "3.0.11-1", source="openssl")
    assert len(match_vulnerabilities([both, both], [advisory, advisory])) == 1


def test_a_finding_in_ecrs_shape() -> None:
    (finding,) = match_vulnerabilities([NUMPY], [Advisory("CVE-1", "pypi", "numpy", cvss=7.5)])
    assert finding.to_aws() == {
        "name": "CVE-1",
        "severity": "HIGH",
        "attributes": [
            {"key": "package_name", "value": "numpy"},
            {"key": "package_version", "value": "1.26.4"},
            {"key": "CVSS3_SCORE", "value": "7.5"},
        ],
    }


def test_the_summary_counts_every_severity_in_botocores_order() -> None:
    findings = [
        SecretFinding("aws-access-key-id", "ENV K", "****"),
        *match_vulnerabilities(
            [NUMPY],
            [
                Advisory("A", "pypi", "numpy", cvss=5.0),
                Advisory("B", "pypi", "numpy", cvss=5.5),
                Advisory("C", "pypi", "numpy"),
            ],
        ),
    ]
    summary = summarize(findings)
    assert [s for s, _ in summary.counts] == list(Severity)
    assert summary.count(Severity.MEDIUM) == 2
    assert summary.count(Severity.CRITICAL) == 1
    assert summary.count(Severity.LOW) == 0
    assert summary.total == 4
    assert summary.highest is Severity.CRITICAL
    assert summary.finding_severity_counts() == {"MEDIUM": 2, "CRITICAL": 1, "UNDEFINED": 1}
    assert list(summary.finding_severity_counts()) == ["MEDIUM", "CRITICAL", "UNDEFINED"]


def test_a_clean_image_has_an_empty_summary() -> None:
    summary = summarize([])
    assert summary.total == 0
    assert summary.highest is None
    assert summary.finding_severity_counts() == {}


def test_undefined_ranks_below_informational() -> None:
    assert Severity.UNDEFINED.rank < Severity.INFORMATIONAL.rank < Severity.LOW.rank
    assert max(Severity, key=lambda s: s.rank) is Severity.CRITICAL
