"""Repositories, reconciled like any resource: scans of pushed images, lifecycle policies.

Per repository, each reconcile:

* scans the images whose scan is PENDING (queued on push, or by ``dockyard scan``),
  one at a time, and stores what was found;
* applies the lifecycle policy when it is due (every ``registry_lifecycle_interval``):
  :func:`dockyard.control.lifecycle.preview_lifecycle` decides, the manifests it
  expires are deleted from the registry and their records dropped, then the
  registry's garbage collection frees their blobs (read-only meanwhile: pulls go on,
  pushes are told to retry).

Nothing here runs without a registry (``platform.registry`` unset: no keys).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from dockyard.errors import DockyardError
from dockyard.records.registry import ImageRecord, RepositoryRecord, ScanResult
from dockyard.server.platform import Platform
from dockyard.server.registry import operations
from dockyard.server.registry.handles import RegistryHandles

log = logging.getLogger("dockyard.registry")
_LIFECYCLE = threading.Lock()  # see apply_lifecycle

KIND = "registry"

#: scan one image: (repository, digest) -> the result to store
Scanner = Callable[[str, str], ScanResult]


class RegistryReconciler:
    kind = KIND

    def __init__(self, platform: Platform, scanner: Scanner, interval_s: float) -> None:
        self.platform = platform
        self.scanner = scanner
        self.interval_s = interval_s

    def keys(self) -> list[str]:
        if self.platform.registry is None:
            return []
        return [record.name for record in self.platform.store.repositories.list()]

    def reconcile(self, key: str, now: float) -> float | None:
        record = self.platform.store.repositories.get(key)
        if record is None or self.platform.registry is None:
            return None
        for image in self.platform.store.images.list(key):
            if image.scan is not None and image.scan.status == "PENDING":
                self._scan(image)
        if record.lifecycle_policy is None:
            return None
        due = (record.lifecycle_applied_at or record.created_at) + self.interval_s
        if record.lifecycle_applied_at is not None and now < due:
            return due
        apply_lifecycle(self.platform, record, now)
        return now + self.interval_s

    def _scan(self, image: ImageRecord) -> None:
        store = self.platform.store
        store.images.put(replace(image, scan=ScanResult("IN_PROGRESS")))
        try:
            result = self.scanner(image.repository, image.digest)
        except DockyardError as error:
            result = ScanResult("FAILED", description=str(error))
        except Exception as error:  # a broken image must not stop the others' scans
            log.exception("scanning %s failed", image.key)
            result = ScanResult("FAILED", description=f"the scan failed: {error!r}")
        current = store.images.get(image.key)
        if current is not None:
            store.images.put(replace(current, scan=result))
        summary = f"{len(result.findings)} findings" if result.status == "COMPLETE" else ""
        store.add_event(
            operations.KIND,
            image.repository,
            f"scan of {image.digest[:19]}: {result.status} {summary}",
        )


def apply_lifecycle(platform: Platform, record: RepositoryRecord, now: float) -> list[str]:
    """Expire what the repository's policy selects now, then free the disk; the digests."""
    handles = platform.registry
    if handles is None or record.lifecycle_policy is None:
        return []
    # one application at a time: `repo lifecycle --now` and the periodic pass may start
    # together, and one's garbage collection restarts the registry under the other's
    # deletes; the second one then finds the images already expired
    with _LIFECYCLE:
        return _apply_lifecycle(platform, handles, record, now)


def _apply_lifecycle(
    platform: Platform, handles: RegistryHandles, record: RepositoryRecord, now: float
) -> list[str]:
    preview = operations.lifecycle_preview(platform.store, record.name, now)
    expired = [decision.image.digest for decision in preview.expiring]
    if expired:
        with handles.client() as client:
            for digest in expired:
                client.delete_manifest(record.name, digest)
                platform.store.images.delete(f"{record.name}@{digest}")
        report = handles.process.garbage_collect()
        platform.store.add_event(
            operations.KIND,
            record.name,
            f"lifecycle policy expired {len(expired)} images; "
            f"garbage collection freed {report.freed_bytes} bytes",
        )
    with platform.store.transaction():
        current = platform.store.repositories.get(record.name)
        if current is not None:
            platform.store.repositories.put(replace(current, lifecycle_applied_at=now))
    return expired
