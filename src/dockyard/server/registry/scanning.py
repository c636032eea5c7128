"""How the daemon scans an image: the scanner, its advisory sources, where SBOMs go.

Advisories come from what this machine can reach: OSV files an operator puts in
``STATE_DIR/advisories/`` (the way to scan air-gapped), and PyPI's JSON API for
Python packages when the index answers it. Ecosystems no source covers are named in
the scan's description; a scan never reports "clean" for what it could not check.
"""

from __future__ import annotations

from dockyard.adapters.registry.advisories import Combined, OsvDirectory, PypiJsonApi
from dockyard.adapters.registry.scanner import scan_image
from dockyard.records.registry import ScanResult
from dockyard.server.platform import Platform
from dockyard.server.registry.reconciler import Scanner


def image_scanner(platform: Platform) -> Scanner:
    settings = platform.settings
    sources = Combined(
        OsvDirectory(settings.advisories_dir), PypiJsonApi(ca_bundle=settings.ca_bundle)
    )
    sbom_dir = settings.state_dir / "registry" / "sboms"

    def scan(repository: str, digest: str) -> ScanResult:
        handles = platform.registry
        if handles is None:
            return ScanResult("FAILED", description="this daemon runs without a registry")
        with handles.client() as client:
            result = scan_image(client, repository, digest, advisories=sources, sbom_dir=sbom_dir)
        return result

    return scan
