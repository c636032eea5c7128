"""Which installed packages published advisories affect.

Advisories give affected versions as OSV-style ranges and/or exact versions; versions
are ordered by PEP 440 (``pypi``) or by dpkg's algorithm (``deb``). A version that
cannot be compared matches only an exact listed version: a scanner reports what it can
prove.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from dockyard.control.scan.debian_version import compare_debian_versions
from dockyard.control.scan.packages import Ecosystem, InstalledPackage, normalize_pypi_name
from dockyard.control.scan.severity import Severity, severity_from_cvss


@dataclass(frozen=True)
class VersionRange:
    """A run of affected versions (OSV's ``introduced`` / ``fixed`` / ``last_affected``).

    From ``introduced`` (inclusive; ``None``: the first version) up to ``fixed``
    (exclusive) and ``last_affected`` (inclusive); an end left ``None`` is open.
    """

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None


@dataclass(frozen=True)
class Advisory:
    """A published vulnerability of one package.

    Affected versions are ``ranges`` and/or the exact ``versions``; with neither, every
    version before ``fixed_version`` (every version, when there is no fix). ``severity``
    wins over ``cvss``; with neither the finding is UNDEFINED.
    """

    id: str
    ecosystem: Ecosystem
    package: str
    ranges: tuple[VersionRange, ...] = ()
    versions: tuple[str, ...] = ()
    severity: Severity | None = None
    cvss: float | None = None
    fixed_version: str | None = None

    @property
    def finding_severity(self) -> Severity:
        return self.severity or severity_from_cvss(self.cvss)


@dataclass(frozen=True)
class VulnerabilityFinding:
    """An installed package an advisory affects."""

    advisory_id: str
    package: InstalledPackage
    severity: Severity
    fixed_version: str | None = None
    cvss: float | None = None

    def to_aws(self) -> dict[str, Any]:
        """The finding as ECR's ``ImageScanFinding`` (basic scanning's attribute names)."""
        attributes = [
            {"key": "package_name", "value": self.package.name},
            {"key": "package_version", "value": self.package.version},
        ]
        if self.cvss is not None:
            attributes.append({"key": "CVSS3_SCORE", "value": f"{self.cvss:g}"})
        return {"name": self.advisory_id, "severity": self.severity.value, "attributes": attributes}


def compare_versions(ecosystem: Ecosystem, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older, equal or newer; ValueError if one cannot be read."""
    if ecosystem == "deb":
        return compare_debian_versions(a, b)
    try:
        left, right = Version(a), Version(b)
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from None
    return (left > right) - (left < right)


def is_affected(advisory: Advisory, package: InstalledPackage) -> bool:
    """Whether ``advisory`` applies to ``package`` (name, and version within the ranges).

    Debian advisories may name the source package. A version that cannot be compared
    matches only an exact entry of ``versions`` (a scanner reports what it can prove).
    """
    if advisory.ecosystem != package.ecosystem or not _same_package(advisory, package):
        return False
    eco, version = package.ecosystem, package.version
    if any(_equal(eco, version, listed) for listed in advisory.versions):
        return True
    ranges = advisory.ranges
    if not ranges and not advisory.versions:
        ranges = (VersionRange(fixed=advisory.fixed_version),)
    return any(_in_range(eco, version, span) for span in ranges)


def _same_package(advisory: Advisory, package: InstalledPackage) -> bool:
    if package.ecosystem == "pypi":
        return normalize_pypi_name(advisory.package) == package.name
    return advisory.package in (package.name, package.source)


def _equal(ecosystem: Ecosystem, a: str, b: str) -> bool:
    try:
        return compare_versions(ecosystem, a, b) == 0
    except ValueError:
        return a == b


def _in_range(ecosystem: Ecosystem, version: str, span: VersionRange) -> bool:
    try:
        if (
            span.introduced is not None
            and compare_versions(ecosystem, version, span.introduced) < 0
        ):
            return False
        if span.fixed is not None and compare_versions(ecosystem, version, span.fixed) >= 0:
            return False
        last = span.last_affected
        return last is None or compare_versions(ecosystem, version, last) <= 0
    except ValueError:
        return False


def match_vulnerabilities(
    packages: Iterable[InstalledPackage], advisories: Iterable[Advisory]
) -> tuple[VulnerabilityFinding, ...]:
    """Every (advisory, package) pair that applies, most serious first, without repeats."""
    by_name: dict[tuple[str, str], list[Advisory]] = {}
    for advisory in advisories:
        key = (advisory.ecosystem, _advisory_key(advisory))
        by_name.setdefault(key, []).append(advisory)
    found: dict[tuple[str, InstalledPackage], VulnerabilityFinding] = {}
    for package in packages:
        names = {package.name, package.source or package.name}
        candidates = [a for n in names for a in by_name.get((package.ecosystem, n), [])]
        for advisory in candidates:
            if is_affected(advisory, package):
                found.setdefault(
                    (advisory.id, package),
                    VulnerabilityFinding(
                        advisory.id,
                        package,
                        advisory.finding_severity,
                        advisory.fixed_version,
                        advisory.cvss,
                    ),
                )
    return tuple(
        sorted(
            found.values(),
            key=lambda f: (-f.severity.rank, f.package.name, f.package.version, f.advisory_id),
        )
    )


def _advisory_key(advisory: Advisory) -> str:
    if advisory.ecosystem == "pypi":
        return normalize_pypi_name(advisory.package)
    return advisory.package
