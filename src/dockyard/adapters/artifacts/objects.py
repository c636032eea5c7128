"""The artifact store as S3 objects: what the S3 API on the AWS front reads and writes.

Objects are the artifact store's own files (``<root>/bucket/key``), so an object put
through S3 is what ``s3://bucket/key`` names in a training or model request, and a
model a job wrote is an object S3 clients list and download. What S3 keeps besides
the bytes lives under ``<root>/.s3/`` (not a valid bucket name, so never an object):

- ``.s3/objects/<bucket>/<key>``: the object's ETag, content type, user metadata and
  checksums, valid while the file's size and mtime match; a file written by anything
  else (a training job's ``model.tar.gz``) gets its MD5 ETag computed on first read.
- ``.s3/buckets/<bucket>.json``: the bucket's creation date.
- ``.s3/uploads/<id>/``: a multipart upload's parts until it is completed or aborted.

Every write streams into a temporary file in the store's ``.incoming`` folder (same
file system) and is renamed into place, so a reader sees the old object or the new
one, never part of one; a gigabyte never sits in memory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.errors import DockyardError, SpecError
from dockyard.ports.artifacts import ArtifactUri

_META = ".s3"
_TMP_DIR = ".incoming"  # the store's own scratch folder (same file system as objects)
_READ_CHUNK = 1024 * 1024
#: S3's smallest part, except the last one
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ObjectError(DockyardError):
    """An S3 error: ``s3_code`` is S3's name for it (NoSuchKey…), ``http_status`` its
    status. The AWS front writes it as S3's error XML."""

    status_code = 400
    code = "InvalidRequest"

    def __init__(self, s3_code: str, message: str, http_status: int, resource: str = "") -> None:
        super().__init__(message, resource=resource or None)
        self.s3_code = s3_code
        self.http_status = http_status


def no_such_bucket(bucket: str) -> ObjectError:
    return ObjectError("NoSuchBucket", "The specified bucket does not exist", 404, f"/{bucket}")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted, as S3 writes it: "md5hex" or "md5hex-N"
    last_modified: float  # epoch seconds
    content_type: str = "binary/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: S3's checksum members the client sent and Dockyard verified: {"CRC32": base64}
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BucketInfo:
    name: str
    created: float


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str
    last_modified: float
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListPage:
    """One page of a listing: objects and common prefixes in key order; ``last`` is
    the last key or prefix on the page (where the next page starts after)."""

    objects: list[ObjectInfo]
    prefixes: list[str]
    truncated: bool
    last: str | None


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    content_type: str
    metadata: Mapping[str, str]


class Digests:
    """The digests S3 checks a body against, computed as the bytes go by: MD5 (the
    ETag, Content-MD5), SHA-256 (SigV4's payload hash) and the flexible checksums
    Dockyard verifies (CRC32, SHA1, SHA256)."""

    ALGORITHMS = ("CRC32", "SHA1", "SHA256")

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1()
        self._crc32 = 0
        self.size = 0

    def update(self, data: bytes) -> None:
        self._md5.update(data)
        self._sha256.update(data)
        self._sha1.update(data)
        self._crc32 = zlib.crc32(data, self._crc32)
        self.size += len(data)

    @property
    def md5(self) -> bytes:
        return self._md5.digest()

    @property
    def sha256_hex(self) -> str:
        return self._sha256.hexdigest()

    def checksum(self, algorithm: str) -> str | None:
        """S3's base64 checksum for ``algorithm``; None for one not in :attr:`ALGORITHMS`."""
        if algorithm == "CRC32":
            return base64.b64encode(self._crc32.to_bytes(4, "big")).decode()
        if algorithm == "SHA1":
            return base64.b64encode(self._sha1.digest()).decode()
        if algorithm == "SHA256":
            return base64.b64encode(self._sha256.digest()).decode()
        return None


class Incoming(Digests):
    """A body being received: written to a temporary file while its digests are
    computed, so nothing is read twice and nothing is held in memory."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.update(data)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class LocalObjects:
    """Buckets and objects over a :class:`LocalArtifactStore`."""

    def __init__(self, store: LocalArtifactStore) -> None:
        self.store = store
        self.root = store.root
        self.meta = self.root / _META

    # -- buckets --------------------------------------------------------------------------

    def buckets(self) -> list[BucketInfo]:
        if not self.root.is_dir():
            return []
        names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and _BUCKET.match(p.name))
        return [BucketInfo(name, self._created(name)) for name in names]

    def create_bucket(self, bucket: str) -> None:
        _check_bucket(bucket)
        path = self.root / bucket
        if path.is_dir():
            raise ObjectError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already "
                "own it.",
                409,
                f"/{bucket}",
            )
        path.mkdir(parents=True)
        self._write_json(self.meta / "buckets" / f"{bucket}.json", {"created": time.time()})

    def require_bucket(self, bucket: str) -> Path:
        path = self.root / bucket
        if not _BUCKET.match(bucket) or not path.is_dir():
            raise no_such_bucket(bucket)
        return path

    def delete_bucket(self, bucket: str) -> None:
        path = self.require_bucket(bucket)
        if any(path.iterdir()):
            raise ObjectError(
                "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, f"/{bucket}"
            )
        path.rmdir()
        shutil.rmtree(self.meta / "objects" / bucket, ignore_errors=True)
        (self.meta / "buckets" / f"{bucket}.json").unlink(missing_ok=True)

    def _created(self, bucket: str) -> float:
        doc = self._read_json(self.meta / "buckets" / f"{bucket}.json")
        if doc is not None:
            return float(doc["created"])
        return (self.root / bucket).stat().st_mtime  # a bucket made by a job's output

    # -- objects --------------------------------------------------------------------------

    def receive(self) -> Incoming:
        """A new temporary file for a body on its way in."""
        incoming = self.root / _TMP_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        return Incoming(incoming / f"{uuid.uuid4().hex}.part")

    def commit(
        self,
        bucket: str,
        key: str,
        body: Incoming,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
        etag: str | None = None,
    ) -> ObjectInfo:
        """Rename a received body into place as ``bucket/key``; the temporary file is
        gone afterwards whatever happens."""
        try:
            body.close()
            dest = self.object_path(bucket, key)
            body.path.chmod(0o644)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(body.path, dest)
            except (NotADirectoryError, IsADirectoryError, FileExistsError):
                raise _clash(bucket, key) from None
            stat = dest.stat()
            info = ObjectInfo(
                key=key,
                size=stat.st_size,
                etag=etag or f'"{body.md5.hex()}"',
                last_modified=stat.st_mtime,
                content_type=content_type or "binary/octet-stream",
                metadata=dict(metadata or {}),
                checksums=dict(checksums or {}),
            )
            self._write_json(self._sidecar(bucket, key), _sidecar_doc(info, stat.st_mtime_ns))
            return info
        finally:
            body.discard()

    def object_path(self, bucket: str, key: str) -> Path:
        """Where ``bucket/key`` lives; the bucket must exist, the key be one the store
        can hold."""
        self.require_bucket(bucket)
        try:
            return self.store.path_for(ArtifactUri(bucket, key))
        except SpecError as error:
            raise ObjectError(
                "InvalidArgument",
                f"Dockyard's artifact store cannot hold the key {key!r}: {error.message}",
                400,
                f"/{bucket}/{key}",
            ) from None

    def head(self, bucket: str, key: str) -> ObjectInfo:
        path = self.object_path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            stat = None
        if stat is None or not path.is_file():
            raise ObjectError(
                "NoSuchKey", "The specified key does not exist.", 404, f"/{bucket}/{key}"
            )
        doc = self._read_json(self._sidecar(bucket, key))
        if (
            doc is not None
            and doc.get("size") == stat.st_size
            and doc.get("mtime_ns") == (stat.st_mtime_ns)
        ):
            return ObjectInfo(
                key=key,
                size=stat.st_size,
                etag=str(doc["etag"]),
                last_modified=stat.st_mtime,
                content_type=str(doc.get("content_type") or "binary/octet-stream"),
                metadata=dict(doc.get("metadata") or {}),
                checksums=dict(doc.get("checksums") or {}),
            )
        # written by something other than S3 (a job's output): its MD5, remembered
        info = ObjectInfo(key, stat.st_size, f'"{_md5_of(path)}"', stat.st_mtime)
        self._write_json(self._sidecar(bucket, key), _sidecar_doc(info, stat.st_mtime_ns))
        return info

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting one that is not there is no error (as on S3)."""
        path = self.object_path(bucket, key)
        if path.is_file():
            path.unlink()
            self._prune(path.parent, self.root / bucket)
        sidecar = self._sidecar(bucket, key)
        if sidecar.is_file():
            sidecar.unlink()
            self._prune(sidecar.parent, self.meta / "objects" / bucket)

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        *,
        replace: tuple[str | None, Mapping[str, str]] | None = None,
    ) -> ObjectInfo:
        """Copy an object; ``replace`` is the new (content type, metadata), else the
        source's are kept (S3's MetadataDirective COPY)."""
        info = self.head(source_bucket, source_key)
        source = self.object_path(source_bucket, source_key)
        if (source_bucket, source_key) == (bucket, key) and replace is None:
            raise ObjectError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata.",
                400,
                f"/{bucket}/{key}",
            )
        body = self.receive()
        with source.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                body.write(chunk)
        content_type, metadata = replace if replace is not None else (None, info.metadata)
        return self.commit(
            bucket,
            key,
            body,
            content_type=content_type or info.content_type,
            metadata=metadata,
            checksums=info.checksums,
            etag=info.etag,
        )

    def page(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        """Keys starting with ``prefix`` after ``after``, in key order; with a
        delimiter, keys sharing ``prefix…delimiter`` are rolled into one common prefix
        (and counted once towards ``max_keys``), as S3 lists."""
        bucket_dir = self.require_bucket(bucket)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: str | None = None
        for key in _keys(bucket_dir, prefix):
            if key <= after:
                continue
            entry = key
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    entry = key[: cut + len(delimiter)]
                    if entry in (last, after):  # rolled up already, here or on a page before
                        continue
            if len(objects) + len(prefixes) >= max_keys:
                return ListPage(objects, prefixes, True, last)
            if entry != key:
                prefixes.append(entry)
            else:
                with contextlib.suppress(ObjectError):  # deleted while listing
                    objects.append(self.head(bucket, key))
            last = entry
        return ListPage(objects, prefixes, False, last)

    # -- multipart uploads ------------------------------------------------------------------

    def create_upload(
        self, bucket: str, key: str, content_type: str | None, metadata: Mapping[str, str]
    ) -> Upload:
        self.object_path(bucket, key)  # the bucket exists and the key can be held
        upload = Upload(
            uuid.uuid4().hex, bucket, key, time.time(), content_type or "", dict(metadata)
        )
        folder = self._upload_dir(upload.upload_id)
        folder.mkdir(parents=True)
        self._write_json(folder / "upload.json", asdict(upload))
        return upload

    def upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        self.require_bucket(bucket)
        doc = None
        if re.fullmatch(r"[0-9a-f]{32}", upload_id):
            doc = self._read_json(self._upload_dir(upload_id) / "upload.json")
        if doc is None or doc["bucket"] != bucket or doc["key"] != key:
            raise ObjectError(
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                404,
                f"/{bucket}/{key}",
            )
        return Upload(**doc)

    def put_part(
        self, upload: Upload, number: int, body: Incoming, checksums: Mapping[str, str]
    ) -> PartInfo:
        try:
            if not 1 <= number <= MAX_PART_NUMBER:
                raise ObjectError(
                    "InvalidArgument",
                    f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
                    400,
                )
            folder = self._upload_dir(upload.upload_id)
            body.close()
            etag = f'"{body.md5.hex()}"'
            os.replace(body.path, folder / f"part-{number:05d}")
            doc = {"etag": etag, "checksums": dict(checksums)}
            self._write_json(folder / f"part-{number:05d}.json", doc)
            return PartInfo(number, body.size, etag, time.time(), dict(checksums))
        finally:
            body.discard()

    def parts(self, upload: Upload) -> list[PartInfo]:
        folder = self._upload_dir(upload.upload_id)
        found = []
        for path in sorted(folder.glob("part-?????")):
            doc = self._read_json(path.with_name(path.name + ".json"))
            if doc is None:
                continue
            stat = path.stat()
            found.append(
                PartInfo(
                    int(path.name[5:]),
                    stat.st_size,
                    doc["etag"],
                    stat.st_mtime,
                    doc.get("checksums") or {},
                )
            )
        return found

    def complete(
        self, upload: Upload, chosen: Sequence[tuple[int, str, Mapping[str, str]]]
    ) -> ObjectInfo:
        """Join the chosen parts (number, ETag, checksums the client lists) in order
        into the object; its ETag is the MD5 of the parts' MD5s and their count, as S3
        writes it."""
        if not chosen:
            raise ObjectError(
                "MalformedXML", "You must specify at least one part to complete an upload.", 400
            )
        numbers = [n for n, _, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise ObjectError(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                400,
            )
        have = {p.number: p for p in self.parts(upload)}
        for index, (number, etag, sums) in enumerate(chosen):
            part = have.get(number)
            if (
                part is None
                or part.etag.strip('"') != etag.strip('"')
                or any(part.checksums.get(k) != v for k, v in sums.items())
            ):
                raise ObjectError(
                    "InvalidPart",
                    f"One or more of the specified parts could not be found: part {number} "
                    "was not uploaded or its ETag or checksum does not match.",
                    400,
                )
            if index < len(chosen) - 1 and part.size < MIN_PART_SIZE:
                raise ObjectError(
                    "EntityTooSmall",
                    f"Your proposed upload is smaller than the minimum allowed size: part "
                    f"{number} is {part.size} bytes, every part but the last must be at "
                    f"least {MIN_PART_SIZE}.",
                    400,
                )
        folder = self._upload_dir(upload.upload_id)
        digests = hashlib.md5()
        body = self.receive()
        for number, _, _ in chosen:
            digests.update(bytes.fromhex(have[number].etag.strip('"')))
            with (folder / f"part-{number:05d}").open("rb") as handle:
                while chunk := handle.read(_READ_CHUNK):
                    body.write(chunk)
        info = self.commit(
            upload.bucket,
            upload.key,
            body,
            content_type=upload.content_type or None,
            metadata=upload.metadata,
            etag=f'"{digests.hexdigest()}-{len(chosen)}"',
        )
        shutil.rmtree(folder, ignore_errors=True)
        return info

    def abort(self, upload: Upload) -> None:
        shutil.rmtree(self._upload_dir(upload.upload_id), ignore_errors=True)

    # -- the side files ---------------------------------------------------------------------

    def _sidecar(self, bucket: str, key: str) -> Path:
        return self.meta / "objects" / bucket / key

    def _upload_dir(self, upload_id: str) -> Path:
        return self.meta / "uploads" / upload_id

    def _write_json(self, path: Path, doc: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        scratch.write_text(json.dumps(doc))
        os.replace(scratch, path)

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any] | None:
        try:
            doc = json.loads(path.read_text())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    @staticmethod
    def _prune(directory: Path, stop: Path) -> None:
        while directory != stop and directory.is_relative_to(stop):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _check_bucket(bucket: str) -> None:
    if not _BUCKET.match(bucket) or ".." in bucket or re.fullmatch(r"[\d.]+", bucket):
        raise ObjectError(
            "InvalidBucketName",
            "The specified bucket is not valid: bucket names are 3-63 characters of "
            "lower-case letters, digits, '.' and '-', starting and ending with a letter "
            "or digit",
            400,
            f"/{bucket}",
        )


def _clash(bucket: str, key: str) -> ObjectError:
    return ObjectError(
        "InvalidArgument",
        f"Dockyard's artifact store keeps objects as files, so {key!r} cannot be stored "
        "where another key uses it as a folder (or the other way round)",
        400,
        f"/{bucket}/{key}",
    )


def _sidecar_doc(info: ObjectInfo, mtime_ns: int) -> dict[str, Any]:
    return {
        "etag": info.etag,
        "size": info.size,
        "mtime_ns": mtime_ns,
        "content_type": info.content_type,
        "metadata": dict(info.metadata),
        "checksums": dict(info.checksums),
    }


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _keys(bucket_dir: Path, prefix: str) -> Iterator[str]:
    """The keys under ``bucket_dir`` starting with ``prefix``, in S3's (UTF-8 byte)
    order: a folder's entries are visited as ``name/`` so ``a/x`` comes before ``a0``."""
    folder, _, _ = prefix.rpartition("/")
    start = bucket_dir / folder if folder else bucket_dir
    if not start.is_dir() or start.is_symlink():
        return
    base = f"{folder}/" if folder else ""
    yield from (k for k in _walk(start, base) if k.startswith(prefix))


def _walk(directory: Path, base: str) -> Iterator[str]:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    named = sorted(
        ((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name), e) for e in entries
    )
    for name, entry in named:
        if name.endswith("/"):
            yield from _walk(Path(entry.path), base + name)
        elif entry.is_file(follow_symlinks=False):
            yield base + name
