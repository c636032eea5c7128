"""The registry's records: repositories (ECR's settings) and the images pushed to them.

The blobs and manifests themselves live in the registry (CNCF Distribution); what ECR
adds on top — tag immutability, scan-on-push, lifecycle policies, when an image was
pushed and what its scan found — lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.control.scan import Severity
from dockyard.spec.repository import RepositorySpec


@dataclass(frozen=True)
class RepositoryRecord:
    KIND: ClassVar[str] = "repository"

    spec: RepositorySpec
    created_at: float
    lifecycle_policy: str | None = None  # the policy text as the user gave it (validated)
    lifecycle_applied_at: float | None = None

    @property
    def key(self) -> str:
        return self.spec.repository_name

    @property
    def name(self) -> str:
        return self.spec.repository_name

    @property
    def owner(self) -> None:
        return None


@dataclass(frozen=True)
class Finding:
    """One scan finding, in ECR's terms (``ImageScanFinding``)."""

    name: str  # CVE / advisory id, or the secret rule
    severity: Severity
    description: str
    package: str = ""  # "name version" (ecosystem) for vulnerabilities
    location: str = ""  # where a secret was found ("ENV NAME", "layer 2: /app/.env:3")
    fixed_version: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """An image's scan: ECR's scan status, what was found, and what could not be checked.

    ``status`` is botocore's ``ScanStatus`` (IN_PROGRESS, COMPLETE, FAILED…);
    ``description`` says what was and was not checked ("deb packages not checked: no
    vulnerability data reachable"), never a silent "clean".
    """

    status: str
    description: str = ""
    completed_at: float | None = None
    findings: tuple[Finding, ...] = ()
    packages: int = 0
    sbom_path: str | None = None  # CycloneDX JSON kept with the image


@dataclass(frozen=True)
class ImageRecord:
    """One image (a manifest) in a repository, with its tags."""

    KIND: ClassVar[str] = "image"

    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    size: int
    media_type: str = ""
    scan: ScanResult | None = None

    @property
    def key(self) -> str:
        return image_key(self.repository, self.digest)

    @property
    def owner(self) -> str:
        return self.repository


def image_key(repository: str, digest: str) -> str:
    return f"{repository}@{digest}"
