"""An image's software bill of materials, as CycloneDX 1.5 JSON.

Every package the scan found is a ``library`` component with its package URL
(``pkg:pypi/requests@2.19.0``, ``pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12``);
the image itself is the BOM's subject (``metadata.component``, type ``container``,
version = its manifest digest). Tools that read CycloneDX (Dependency-Track, grype,
trivy's ``sbom`` mode) can rescan it later without the image.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dockyard.control.scan import InstalledPackage

SPEC_VERSION = "1.5"


def purl(package: InstalledPackage, *, distro: str | None, arch: str | None = None) -> str:
    """The package URL of ``package`` (purl-spec: pypi names normalised, deb by distro).

    ``distro`` is the os-release ``ID`` (``debian``) with its ``VERSION_ID`` after a
    dash (``debian-12``), or just the ID; it names the deb namespace.
    """
    version = quote(package.version, safe=".-_~:")
    if package.ecosystem == "pypi":
        return f"pkg:pypi/{quote(package.name, safe='.-_~')}@{version}"
    namespace = (distro or "debian").split("-", 1)[0]
    qualifiers = [f"arch={quote(arch, safe='')}"] if arch else []
    if distro:
        qualifiers.append(f"distro={quote(distro, safe='.-_~')}")
    query = f"?{'&'.join(qualifiers)}" if qualifiers else ""
    return f"pkg:deb/{namespace}/{quote(package.name, safe='.-_~')}@{version}{query}"


def cyclonedx(
    image: str,
    digest: str,
    packages: Iterable[InstalledPackage],
    *,
    distro: str | None = None,
    architectures: Mapping[tuple[str, str], str] | None = None,
    timestamp: float | None = None,
) -> dict[str, Any]:
    """The BOM: ``image`` (repository name) at ``digest``, and one component per package.

    ``architectures`` maps a deb package's (name, version) to its dpkg Architecture.
    Components are sorted by ecosystem, name and version; a purl appears once.
    """
    components: dict[str, dict[str, Any]] = {}
    for package in sorted(packages, key=lambda p: (p.ecosystem, p.name, p.version)):
        arch = (architectures or {}).get((package.name, package.version))
        ref = purl(package, distro=distro, arch=arch)
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": ref,
            "name": package.name,
            "version": package.version,
            "purl": ref,
        }
        if package.source and package.source != package.name:
            component["properties"] = [{"name": "dpkg:source", "value": package.source}]
        components.setdefault(ref, component)
    moment = time.gmtime(time.time() if timestamp is None else timestamp)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
            "tools": {"components": [{"type": "application", "name": "dockyard"}]},
            "component": {
                "type": "container",
                "bom-ref": f"{image}@{digest}",
                "name": image,
                "version": digest,
            },
        },
        "components": list(components.values()),
    }


def write_sbom(sbom_dir: Path, digest: str, bom: Mapping[str, Any]) -> Path:
    """Write ``bom`` to ``sbom_dir/<digest>.cdx.json`` (atomically: a reader never sees half)."""
    sbom_dir.mkdir(parents=True, exist_ok=True)
    path = sbom_dir / f"{digest}.cdx.json"
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(bom, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def dpkg_architectures(status: str) -> dict[tuple[str, str], str]:
    """(Package, Version) -> Architecture of each stanza of a dpkg ``status`` file."""
    found: dict[tuple[str, str], str] = {}
    fields: dict[str, str] = {}
    for line in [*status.splitlines(), ""]:
        if not line.strip():
            if {"package", "version", "architecture"} <= fields.keys():
                found[(fields["package"], fields["version"])] = fields["architecture"]
            fields = {}
        elif not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
    return found
