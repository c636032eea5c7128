"""Scan an image in the registry, as ECR's basic scanning does: packages, CVEs, secrets.

The image is read straight from the registry: the manifest, the config (``Env``,
labels, build history) and each layer, streamed through :mod:`tarfile` without
touching the disk (:mod:`.layers`). From the layers, after whiteouts, come the dpkg
database, Python distributions' metadata and ``os-release``; every text file up to
:attr:`ScanLimits.max_file_bytes` is searched for secrets (documentation, the Python
standard library's tests and files with a NUL byte in their first 8 KiB are not).
Packages are matched against an :class:`~.advisories.AdvisorySource`, listed in a
CycloneDX SBOM, and the result's description (:mod:`.scan_report`) says what was
checked and what was not.

Secrets found in a file that a later layer deletes are still reported: the older
layer, and so the secret, can be pulled by anyone who can pull the image.
"""

from __future__ import annotations

import json
import re
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from dockyard.adapters.registry.advisories import AdvisorySource, Lookup, safe_lookup
from dockyard.adapters.registry.client import ManifestInfo
from dockyard.adapters.registry.layers import (
    OS_RELEASE,
    Contents,
    ScanFailed,
    ScanLimits,
    read_layer,
)
from dockyard.adapters.registry.osv import osv_distro
from dockyard.adapters.registry.sbom import cyclonedx, dpkg_architectures, write_sbom
from dockyard.adapters.registry.scan_report import describe
from dockyard.control.scan import (
    InstalledPackage,
    SecretFinding,
    VulnerabilityFinding,
    match_vulnerabilities,
    parse_dpkg_status,
    scan_env,
    scan_text,
)
from dockyard.errors import DockyardError
from dockyard.records.registry import Finding, ScanResult

_CONFIG_INSTRUCTION = re.compile(r"^(?:/bin/sh -c #\(nop\)\s+)?(?:ENV|LABEL)\s")


class ImageSource(Protocol):
    """What the scanner needs of a registry (:class:`~.client.RegistryClient` has it)."""

    def manifest(self, repository: str, reference: str) -> ManifestInfo: ...

    def blob(self, repository: str, digest: str) -> Iterator[bytes]: ...


def scan_image(
    client: ImageSource,
    repository: str,
    digest: str,
    *,
    advisories: AdvisorySource,
    sbom_dir: Path,
    limits: ScanLimits | None = None,
) -> ScanResult:
    """Scan ``repository@digest``: COMPLETE with findings, or FAILED saying why.

    Findings: vulnerabilities (advisory id, severity from the advisory's CVSS v3 score
    or its database's word) and secrets (CRITICAL, masked, at ``ENV NAME``,
    ``LABEL NAME``, ``history N:line`` or ``layer N: /path:line``; layers count from
    1, the base). The SBOM goes to ``sbom_dir/<digest>.cdx.json``.
    """
    limits = limits or ScanLimits()
    try:
        info, config, contents, note = _read_image(client, repository, digest, limits)
        release = _os_release(contents)
        distro = osv_distro(release)
        packages = _packages(contents)
        lookup = safe_lookup(advisories, packages, distro)
        vulnerabilities = match_vulnerabilities(packages, lookup.advisories)
        sbom_path = _write_sbom(sbom_dir, repository, info.digest, packages, contents, release)
    except (DockyardError, httpx.HTTPError, tarfile.TarError) as error:
        return _failed(str(error))
    except (OSError, EOFError, zlib.error, ValueError) as error:
        return _failed(f"{type(error).__name__}: {error}")
    findings = [_vulnerability(f, lookup) for f in vulnerabilities]
    findings += [_secret(s) for s in contents.secrets]
    findings.sort(key=lambda f: -f.severity.rank)
    text = describe(repository, info, config, contents, packages, distro, lookup, limits)
    text = f"{note}. {text}" if note else text
    return ScanResult("COMPLETE", text, time.time(), tuple(findings), len(packages), str(sbom_path))


def _write_sbom(
    sbom_dir: Path,
    repository: str,
    digest: str,
    packages: tuple[InstalledPackage, ...],
    contents: Contents,
    release: dict[str, str],
) -> Path:
    architectures = {
        key: arch
        for text in contents.dpkg.values()
        for key, arch in dpkg_architectures(text).items()
    }
    distro = "-".join(release[k] for k in ("ID", "VERSION_ID") if k in release) or None
    bom = cyclonedx(repository, digest, packages, distro=distro, architectures=architectures)
    return write_sbom(sbom_dir, digest, bom)


def _read_image(
    client: ImageSource, repository: str, digest: str, limits: ScanLimits
) -> tuple[ManifestInfo, dict[str, Any], Contents, str | None]:
    """Manifest, config and what the layers hold (plus a note if ``digest`` is an index)."""
    info, note = _image_manifest(client, repository, digest)
    config = _config(client, repository, info)
    contents = Contents(secrets=list(_config_secrets(config)))
    for number, layer in enumerate(info.layer_digests, start=1):
        read_layer(client.blob(repository, layer), number, contents, limits)
        contents.layers = number
    return info, config, contents, note


def _failed(reason: str) -> ScanResult:
    return ScanResult("FAILED", f"the scan failed: {reason}", time.time())


def _image_manifest(
    client: ImageSource, repository: str, digest: str
) -> tuple[ManifestInfo, str | None]:
    """The image manifest; for an index (several platforms), its first manifest."""
    info = client.manifest(repository, digest)
    note = None
    if info.children:
        note = f"{digest} is an index of {len(info.children)} manifests; the first was scanned"
        info = client.manifest(repository, info.children[0])
    if info.children or info.config_digest is None:
        raise ScanFailed(f"{repository}@{info.digest} is not an image manifest")
    return info, note


def _config(client: ImageSource, repository: str, info: ManifestInfo) -> dict[str, Any]:
    assert info.config_digest is not None
    body = json.loads(b"".join(client.blob(repository, info.config_digest)))
    if not isinstance(body, dict):
        raise ScanFailed("the image config is not a JSON object")
    return body


def _config_secrets(config: dict[str, Any]) -> Iterator[SecretFinding]:
    """Secrets in ``Env``, in labels and in the build history (ARGs show up there)."""
    settings = config.get("config") or {}
    yield from scan_env(str(entry) for entry in settings.get("Env") or ())
    for name, value in (settings.get("Labels") or {}).items():
        for found in scan_env([f"{name}={value}"]):
            yield replace(found, location=f"LABEL {name}")
    for number, step in enumerate(config.get("history") or (), start=1):
        created_by = str(step.get("created_by", ""))
        if not _CONFIG_INSTRUCTION.match(created_by):  # ENV and LABEL: seen above
            yield from scan_text(created_by, f"history {number}")


def _packages(contents: Contents) -> tuple[InstalledPackage, ...]:
    found: dict[InstalledPackage, None] = {}
    for text in contents.dpkg.values():
        found.update(dict.fromkeys(parse_dpkg_status(text)))
    found.update(dict.fromkeys(sorted(contents.python.values(), key=lambda p: p.name)))
    return tuple(found)


def _os_release(contents: Contents) -> dict[str, str]:
    """The fields of ``/etc/os-release`` (or ``/usr/lib/os-release``, its usual target)."""
    text = next((contents.os_release[p] for p in OS_RELEASE if p in contents.os_release), "")
    lines = (line.partition("=") for line in text.splitlines())
    return {key.strip(): value.strip().strip("\"'") for key, eq, value in lines if eq}


# -- findings ----------------------------------------------------------------------------


def _vulnerability(found: VulnerabilityFinding, lookup: Lookup) -> Finding:
    package = found.package
    summary = lookup.summaries.get(found.advisory_id) or f"{package.name} is affected"
    return Finding(
        name=found.advisory_id,
        severity=found.severity,
        description=summary,
        package=f"{package.name} {package.version} ({package.ecosystem})",
        fixed_version=found.fixed_version,
    )


def _secret(found: SecretFinding) -> Finding:
    return Finding(
        name=found.rule,
        severity=found.severity,
        description=f"{found.rule}: {found.excerpt}",
        location=found.location,
    )
