"""An image's layers read as a stream into what a scan looks at.

A layer blob is read through :mod:`tarfile` straight from the registry's response,
without touching the disk; its whiteouts are applied to what lower layers put there.
What is kept: the dpkg database, Python distributions' metadata and ``os-release``,
and the secrets found in text files (within :class:`ScanLimits`), with counts of what
the secret search covered for the scan's description.

Secrets found in a file that a later layer deletes are still reported: the older
layer, and so the secret, can be pulled by anyone who can pull the image.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dockyard.control.scan import (
    InstalledPackage,
    SecretFinding,
    is_python_metadata_path,
    parse_python_metadata,
    scan_text,
)
from dockyard.errors import DockyardError

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"  # distroless images: one stanza per file
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
SKIPPED_DIRS = (
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/i18n/",
    "usr/share/zoneinfo/",
    "usr/share/common-licenses/",
    "var/lib/dpkg/info/",
    "usr/include/",
)
_SKIPPED = re.compile(
    r"(?:^|/)__pycache__/|^usr/(?:local/)?lib/python3[^/]*/(?:test|idlelib|lib2to3/tests)/"
)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Each rule of :mod:`dockyard.control.scan.secrets` needs "secret" (any case) or one of
#: these in the text: a file with none is not split into lines, which keeps a scan fast.
#: The tests check that these are all the rules there are.
PREFILTERED_RULES = frozenset(
    {"aws-access-key-id", "aws-secret-access-key", "private-key", "github-token"}
)
_TRIGGERS = re.compile(r"AKIA|ASIA|PRIVATE KEY|gh[pousr]_|github_pat_")


@dataclass(frozen=True)
class ScanLimits:
    """How much a scan reads for secrets (packages are always read in full)."""

    max_file_bytes: int = 1 << 20  # larger files are not searched for secrets
    max_text_bytes: int = 256 << 20  # the whole image's text searched, then stop
    sniff_bytes: int = 8192  # a NUL byte in these makes a file binary


@dataclass
class Contents:
    """What the layers hold, whiteouts applied, and what the secret search covered."""

    dpkg: dict[str, str] = field(default_factory=dict)  # path -> status text
    python: dict[str, InstalledPackage] = field(default_factory=dict)  # METADATA path
    os_release: dict[str, str] = field(default_factory=dict)
    secrets: list[SecretFinding] = field(default_factory=list)
    layers: int = 0
    unpacked_bytes: int = 0
    text_files: int = 0
    text_bytes: int = 0
    binary_files: int = 0
    large_files: int = 0
    capped_at: str | None = None  # the first file left unsearched once the cap was hit


class ScanFailed(DockyardError):
    """The image could not be read the way a scan needs (said in the FAILED result)."""


class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a streamed blob)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        count = min(len(buffer), len(self._view))
        buffer[:count] = self._view[:count]
        self._view = self._view[count:]
        return count


def read_layer(
    chunks: Iterator[bytes], number: int, contents: Contents, limits: ScanLimits
) -> None:
    """Read one layer (gzip, bzip2, xz or plain tar) into ``contents``.

    The layer's whiteouts remove what lower layers put there before its own files are
    added; secrets of lower layers stay (see the module's docstring).
    """
    stream = io.BufferedReader(_Chunks(chunks), buffer_size=1 << 20)
    if stream.peek(4)[:4] == _ZSTD_MAGIC:
        raise ScanFailed(f"layer {number} is zstd-compressed, which this scanner cannot read")
    found = Contents()
    removed: list[str] = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            path = posixpath.normpath(member.name).lstrip("/")
            path = "" if path == "." else path
            directory, base = posixpath.split(path)
            if base.startswith(".wh."):
                opaque = base == ".wh..wh..opq"
                removed.append(f"{directory}/" if opaque else posixpath.join(directory, base[4:]))
                continue
            contents.unpacked_bytes += member.size
            if member.isfile():
                _read_file(tar, member, path, number, found, contents, limits)
    while stream.read(1 << 20):  # the rest (tar padding) lets the client check the digest
        pass
    for table in ("dpkg", "python", "os_release"):
        kept: dict[str, Any] = getattr(contents, table)
        for path in [p for p in kept if any(_under(p, gone) for gone in removed)]:
            del kept[path]
        kept.update(getattr(found, table))


def _under(path: str, removed: str) -> bool:
    """Whether a whiteout of ``removed`` (a trailing ``/``: opaque dir) hides ``path``."""
    if removed.endswith("/"):
        return path.startswith(removed)
    return path == removed or path.startswith(f"{removed}/")


def _read_file(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    path: str,
    number: int,
    found: Contents,
    contents: Contents,
    limits: ScanLimits,
) -> None:
    wanted = (
        path == DPKG_STATUS
        or (path.startswith(DPKG_STATUS_D) and not path.endswith(".md5sums"))
        or is_python_metadata_path(path)
        or path in OS_RELEASE
    )
    searched = member.size <= limits.max_file_bytes and not (
        path.startswith(SKIPPED_DIRS) or _SKIPPED.search(path)
    )
    if member.size > limits.max_file_bytes and not path.startswith(SKIPPED_DIRS):
        contents.large_files += 1
    if not (wanted or searched):
        return
    handle = tar.extractfile(member)
    if handle is None:
        return
    head = handle.read(limits.sniff_bytes)
    if b"\0" in head:
        contents.binary_files += searched
        return
    if searched and (
        contents.capped_at or contents.text_bytes + member.size > limits.max_text_bytes
    ):
        contents.capped_at = contents.capped_at or f"layer {number}: /{path}"
        searched = False
    if not (wanted or searched):
        return
    text = (head + handle.read()).decode("utf-8", errors="replace")
    if path in OS_RELEASE:
        found.os_release[path] = text
    elif is_python_metadata_path(path):
        package = parse_python_metadata(text)
        if package is not None:
            found.python[path] = package
    elif wanted:
        found.dpkg[path] = text
    if searched:
        contents.text_files += 1
        contents.text_bytes += member.size
        if "secret" in text.lower() or _TRIGGERS.search(text):
            contents.secrets.extend(scan_text(text, f"layer {number}: /{path}"))
