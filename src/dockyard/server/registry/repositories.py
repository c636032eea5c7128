"""Repositories and images as ECR answers for them, shared by Dockyard's API
(``/v1/repositories``, ``/v1/images``, ``/v1/registry/login``) and the AWS front's
``ecr`` service, so both describe, delete and log in the same way.

What needs the registry itself (deleting manifests, issuing a login) refuses with a
SetupError on a daemon started without one; records alone are read from the store.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from dockyard.control.scan import Severity, summarize
from dockyard.errors import SetupError
from dockyard.records.registry import ImageRecord, RepositoryRecord, ScanResult
from dockyard.server.platform import Platform
from dockyard.server.registry import operations
from dockyard.server.registry.credentials import FULL_ACCESS, issue_login
from dockyard.server.registry.handles import RegistryHandles


def handles(platform: Platform) -> RegistryHandles:
    """The registry's handles; SetupError on a daemon that runs without one."""
    if platform.registry is None:
        raise SetupError(
            "this daemon runs without a registry",
            hint="install docker-registry (`dockyard setup`) and restart the daemon",
        )
    return platform.registry


def describe_repository(platform: Platform, record: RepositoryRecord) -> dict[str, Any]:
    """DescribeRepositories' ``repository`` object (no ARN, times as epoch seconds)."""
    described = record.spec.to_aws()
    described.setdefault("imageTagMutability", record.spec.image_tag_mutability)
    described["imageScanningConfiguration"] = {"scanOnPush": record.spec.scan_on_push}
    described["createdAt"] = record.created_at
    if platform.registry is not None:
        described["repositoryUri"] = f"{platform.registry.public_host}/{record.name}"
    described["hasLifecyclePolicy"] = record.lifecycle_policy is not None
    return described


def describe_image(image: ImageRecord) -> dict[str, Any]:
    """DescribeImages' ``imageDetails`` entry."""
    detail: dict[str, Any] = {
        "repositoryName": image.repository,
        "imageDigest": image.digest,
        "imageTags": list(image.tags),
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
    }
    if image.scan is not None:
        detail["imageScanStatus"] = {
            "status": image.scan.status,
            "description": image.scan.description,
        }
        if image.scan.status == "COMPLETE":
            counts = summarize(image.scan.findings).finding_severity_counts()
            detail["imageScanFindingsSummary"] = {
                "imageScanCompletedAt": image.scan.completed_at,
                "findingSeverityCounts": dict(counts),
            }
    return detail


def delete_image(platform: Platform, image: ImageRecord) -> None:
    """The image's manifest goes from the registry (its tags with it) and its record from
    the store; the blobs stay until the next garbage collection."""
    with handles(platform).client() as client:
        client.delete_manifest(image.repository, image.digest)
    platform.store.images.delete(image.key)
    platform.store.add_event(operations.KIND, image.repository, f"deleted {image.digest[:19]}")


def delete_repository(platform: Platform, name: str, *, force: bool) -> RepositoryRecord:
    """DeleteRepository: refused while it holds images, unless ``force``."""
    record = operations.repository(platform.store, name)
    images = platform.store.images.list(name)
    if images and not force:
        raise operations.RepositoryNotEmpty(
            f"The repository with name '{name}' cannot be deleted because it still contains images",
            resource=f"repository/{name}",
            hint="delete with --force to remove its images too",
        )
    if images:
        with handles(platform).client() as client:
            for image in images:
                client.delete_manifest(name, image.digest)
    for image in images:
        platform.store.images.delete(image.key)
    platform.store.repositories.delete(name)
    platform.store.add_event(operations.KIND, name, "deleted")
    return record


def start_scan(platform: Platform, repository: str, reference: str) -> dict[str, Any]:
    """StartImageScan: queue a scan of the image (tag or digest); the reconciler runs it."""
    image = operations.image_by_reference(platform.store, repository, reference)
    platform.store.images.put(replace(image, scan=ScanResult("PENDING")))
    platform.wake("registry", repository)
    return {
        "repositoryName": repository,
        "imageId": {"imageDigest": image.digest},
        "imageScanStatus": {"status": "PENDING"},
    }


def scan_findings(platform: Platform, repository: str, reference: str) -> dict[str, Any]:
    """DescribeImageScanFindings, most severe first (plus Dockyard's ``sbom`` and
    ``packages``); status NOT_SCANNED for an image never scanned."""
    image = operations.image_by_reference(platform.store, repository, reference)
    scan = image.scan or ScanResult("NOT_SCANNED", "no scan yet: `dockyard scan` starts one")
    findings = sorted(scan.findings, key=lambda f: -Severity(f.severity).rank)
    return {
        "repositoryName": repository,
        "imageId": {"imageDigest": image.digest, "imageTag": reference},
        "imageScanStatus": {"status": scan.status, "description": scan.description},
        "imageScanFindings": {
            "imageScanCompletedAt": scan.completed_at,
            "findingSeverityCounts": dict(summarize(scan.findings).finding_severity_counts()),
            "findings": [
                {
                    "name": f.name,
                    "severity": f.severity,
                    "description": f.description,
                    "attributes": [
                        {"key": key, "value": value}
                        for key, value in (
                            ("package", f.package),
                            ("location", f.location),
                            ("fixed_version", f.fixed_version or ""),
                        )
                        if value
                    ],
                }
                for f in findings
            ],
            "sbom": scan.sbom_path,
            "packages": scan.packages,
        },
    }


def login(platform: Platform) -> dict[str, Any]:
    """GetAuthorizationToken's ``authorizationData`` entry: a short-lived password for
    ``docker login -u AWS``, base64 ``AWS:PASSWORD`` as ECR sends it."""
    registry = handles(platform)
    credentials = issue_login(registry.issuer, FULL_ACCESS, now=platform.clock())
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    return {
        "authorizationToken": token,
        "expiresAt": credentials.expires_at,
        "proxyEndpoint": f"http://{registry.public_host}",
    }
