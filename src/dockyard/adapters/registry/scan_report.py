"""The scan result's description: what was checked and what was not, in sentences.

Like ECR's scan status description, it tells a reader how far to trust a clean
result: which packages were found, which ecosystems a vulnerability source covered
(and why the others were not), and what the secret search read or left out. Kept
apart from the scan so the wording changes without touching how an image is read.
"""

from __future__ import annotations

from typing import Any

from dockyard.adapters.registry.advisories import Lookup
from dockyard.adapters.registry.client import ManifestInfo
from dockyard.adapters.registry.layers import Contents, ScanLimits
from dockyard.control.scan import Ecosystem, InstalledPackage


def describe(
    repository: str,
    info: ManifestInfo,
    config: dict[str, Any],
    contents: Contents,
    packages: tuple[InstalledPackage, ...],
    distro: str | None,
    lookup: Lookup,
    limits: ScanLimits,
) -> str:
    """What was checked and what was not, in sentences (ECR's scan status description)."""
    platform = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
    ecosystems: tuple[Ecosystem, ...] = ("deb", "pypi")
    counts = {e: sum(p.ecosystem == e for p in packages) for e in ecosystems}
    named = (distro or "").replace(":", " ")
    sentences = [
        f"Scanned {repository}@{info.digest} ({platform}, {_count(contents.layers, 'layer')}, "
        f"{_size(contents.unpacked_bytes)} unpacked)",
        f"Packages: {counts['deb']} deb (dpkg database{f', {named}' if named else ''}) and "
        f"{counts['pypi']} pypi (dist-info/egg-info metadata), all in the SBOM; rpm, apk, npm, "
        "gem, jar, Go and Rust packages and software installed without a package manager "
        "were not looked for",
        f"Vulnerabilities: {_coverage(counts, lookup, named)}",
        f"Secrets: searched {_secret_coverage(config, contents)}; not searched: "
        f"{_count(contents.binary_files, 'binary file')}, {contents.large_files} over "
        f"{_size(limits.max_file_bytes)}, documentation and locale data (/usr/share/doc, "
        "/usr/share/man, /usr/share/locale...), C headers and the Python standard library's "
        "tests",
    ]
    if contents.capped_at:
        sentences.append(
            f"The secret search stopped at its limit of {_size(limits.max_text_bytes)} of text: "
            f"files from {contents.capped_at} on were not searched"
        )
    return ". ".join(sentences) + "."


def _coverage(counts: dict[Ecosystem, int], lookup: Lookup, distro: str) -> str:
    """Which ecosystems' packages were checked, against what, and why the others were not."""
    parts = []
    for ecosystem, count in counts.items():
        if not count:
            continue
        sources = lookup.covered.get(ecosystem)
        if sources:
            parts.append(f"{ecosystem} packages checked against {' and '.join(sources)}")
        else:
            data = (distro or "the image distribution") if ecosystem == "deb" else "PyPI"
            parts.append(
                f"{ecosystem} packages not checked: no vulnerability data for {data} reachable"
            )
    notes = f" ({'; '.join(lookup.notes)})" if lookup.notes else ""
    return ("; ".join(parts) or "no packages to check") + notes


def _secret_coverage(config: dict[str, Any], contents: Contents) -> str:
    settings = config.get("config") or {}
    return (
        f"{_count(len(settings.get('Env') or ()), 'ENV entry', 'ENV entries')}, "
        f"{_count(len(settings.get('Labels') or {}), 'label')}, "
        f"{_count(len(config.get('history') or ()), 'history step')} and "
        f"{_count(contents.text_files, 'text file')} ({_size(contents.text_bytes)})"
    )


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or f'{one}s'}"


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
