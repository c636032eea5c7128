"""The OSV format (https://ossf.github.io/osv-schema/): records read into advisories.

Both advisory sources speak it: :class:`~.advisories.OsvDirectory` reads OSV records
from files and :class:`~.advisories.PypiJsonApi` gets PyPI's ``vulnerabilities`` in
the same shape. Reading a record (its affected packages, version spans, severity and
a one-line summary) and naming the image's release as OSV names it are kept here, apart
from where the records come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from dockyard.control.scan import Advisory, Ecosystem, Severity, VersionRange, cvss3_base_score

OSV_DISTROS = {"debian": "Debian", "ubuntu": "Ubuntu"}  # os-release ID -> OSV's name
_WORDS = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}


def osv_distro(os_release: Mapping[str, str]) -> str | None:
    """OSV's ecosystem for the image's OS packages (``Debian:12``), from ``os-release``."""
    name = OSV_DISTROS.get(os_release.get("ID", "").lower())
    version = os_release.get("VERSION_ID")
    return f"{name}:{version}" if name and version else None


def advisories_from_osv(entry: Mapping[str, Any]) -> Iterator[tuple[str, Advisory]]:
    """``(OSV ecosystem, Advisory)`` for each affected package of an OSV record.

    Only PyPI and Debian/Ubuntu (``deb``) packages; one Advisory per affected span,
    so a finding names the fix of the span the installed version lies in. A withdrawn
    record gives nothing.
    """
    if entry.get("withdrawn"):
        return
    for affected in entry.get("affected") or ():
        package = affected.get("package") or {}
        osv_ecosystem, name = str(package.get("ecosystem", "")), str(package.get("name", ""))
        ecosystem = _ecosystem(osv_ecosystem)
        if ecosystem is None or not name:
            continue
        severity, cvss = _severity(entry, affected)
        base = Advisory(str(entry["id"]), ecosystem, name, severity=severity, cvss=cvss)
        for span in _spans(affected.get("ranges") or ()):
            yield osv_ecosystem, replace(base, ranges=(span,), fixed_version=span.fixed)
        versions = tuple(str(v) for v in affected.get("versions") or ())
        if versions:
            yield osv_ecosystem, replace(base, versions=versions)


def _ecosystem(osv_ecosystem: str) -> Ecosystem | None:
    if osv_ecosystem == "PyPI":
        return "pypi"
    if osv_ecosystem.partition(":")[0] in OSV_DISTROS.values() and ":" in osv_ecosystem:
        return "deb"
    return None


def _spans(ranges: Iterable[Mapping[str, Any]]) -> Iterator[VersionRange]:
    """OSV's ``events`` as spans: each ``introduced`` opens one, ``fixed``/``last_affected``
    closes it (``"0"``: from the first version). GIT ranges name commits, not versions."""
    for version_range in ranges:
        if version_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        start: str | None = None
        open_span = False
        for event in version_range.get("events") or ():
            if "introduced" in event:
                if open_span:
                    yield VersionRange(introduced=start)
                start = None if event["introduced"] == "0" else str(event["introduced"])
                open_span = True
            elif "fixed" in event and open_span:
                yield VersionRange(introduced=start, fixed=str(event["fixed"]))
                open_span = False
            elif "last_affected" in event and open_span:
                yield VersionRange(introduced=start, last_affected=str(event["last_affected"]))
                open_span = False
        if open_span:
            yield VersionRange(introduced=start)


def _severity(
    entry: Mapping[str, Any], affected: Mapping[str, Any]
) -> tuple[Severity | None, float | None]:
    """A CVSS v3 base score when there is a vector, else the database's own word."""
    for rating in [*(affected.get("severity") or ()), *(entry.get("severity") or ())]:
        if str(rating.get("type")) == "CVSS_V3":
            try:
                return None, cvss3_base_score(str(rating.get("score", "")))
            except ValueError:
                continue
    for specific in (affected.get("database_specific"), entry.get("database_specific")):
        word = str((specific or {}).get("severity", "")).upper()
        if word in _WORDS:
            return _WORDS[word], None
    return None, None


def osv_summary(entry: Mapping[str, Any]) -> str:
    """One line: the summary (or the details' first line), then the CVE aliases."""
    text = str(entry.get("summary") or str(entry.get("details") or "").strip().split("\n")[0])
    aliases = [str(a) for a in entry.get("aliases") or () if str(a).startswith("CVE-")]
    if aliases:
        text = f"{text} ({', '.join(aliases)})" if text else ", ".join(aliases)
    return text[:300]
