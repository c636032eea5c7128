"""Image scanning, the pure parts: what is installed, what leaks, what is vulnerable.

The registry side reads an image's files (layers, config); everything here works on
the text it hands over, so each rule is unit-tested without an image. One module per
concern:

* :mod:`.packages`: **installed packages** from a dpkg ``status`` file (or a
  ``status.d/`` entry of a distroless image) and from Python
  ``*.dist-info/METADATA`` / ``*.egg-info/PKG-INFO``;
* :mod:`.debian_version`: dpkg's version ordering;
* :mod:`.secrets`: **secrets** in ``ENV`` entries and file text, every finding
  CRITICAL and masked to at most its last four characters;
* :mod:`.vulnerabilities`: installed packages matched against :class:`Advisory`
  records, versions ordered by PEP 440 (``pypi``) or by dpkg's algorithm (``deb``);
* :mod:`.severity` and :mod:`.summary`: ECR's severities (botocore's
  ``FindingSeverity``: INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, UNDEFINED), CVSS
  scores mapped as Amazon Inspector maps them, and findings counted per severity;
* :mod:`.cvss`: the CVSS v3 base score of an advisory's vector.

The public names are re-exported here; import them from ``dockyard.control.scan``.
"""

from __future__ import annotations

from dockyard.control.scan.cvss import cvss3_base_score
from dockyard.control.scan.debian_version import DebianVersion, compare_debian_versions
from dockyard.control.scan.packages import (
    Ecosystem,
    InstalledPackage,
    is_python_metadata_path,
    normalize_pypi_name,
    parse_dpkg_status,
    parse_python_metadata,
)
from dockyard.control.scan.secrets import SecretFinding, mask_secret, scan_env, scan_text
from dockyard.control.scan.severity import Severity, severity_from_cvss
from dockyard.control.scan.summary import Finding, ScanSummary, summarize
from dockyard.control.scan.vulnerabilities import (
    Advisory,
    VersionRange,
    VulnerabilityFinding,
    compare_versions,
    is_affected,
    match_vulnerabilities,
)

__all__ = [
    "Advisory",
    "DebianVersion",
    "Ecosystem",
    "Finding",
    "InstalledPackage",
    "ScanSummary",
    "SecretFinding",
    "Severity",
    "VersionRange",
    "VulnerabilityFinding",
    "compare_debian_versions",
    "compare_versions",
    "cvss3_base_score",
    "is_affected",
    "is_python_metadata_path",
    "mask_secret",
    "match_vulnerabilities",
    "normalize_pypi_name",
    "parse_dpkg_status",
    "parse_python_metadata",
    "scan_env",
    "scan_text",
    "severity_from_cvss",
    "summarize",
]
