"""The artifact store on local disk: ``s3://bucket/key`` lives at ``<root>/bucket/key``.

S3 semantics where they matter to callers: a key is an opaque string (``/`` only
looks like a directory), writes are all-or-nothing (written to a temporary file on the
same file system, then renamed), ``delete_prefix`` deletes by string prefix. What a
local layout cannot hold is refused up front with a :class:`SpecError`: ``.`` or ``..``
segments, empty segments, backslashes, and control characters — so no URI can reach
outside the store.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from dockyard.adapters.artifacts.tarball import extract_model_tarball, make_model_tarball
from dockyard.errors import NotFound, SpecError
from dockyard.ports.artifacts import ArtifactUri
from dockyard.spec.errors import SpecValueError
from dockyard.spec.uris import parse_data_uri

__all__ = [
    "LocalArtifactStore",
    "extract_model_tarball",
    "make_model_tarball",
    "parse_uri",
]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_KEY_BYTES = 1024
_TMP_DIR = ".incoming"  # not a valid bucket name, so it never clashes with one
_URI_HINT = "write s3://BUCKET/KEY, e.g. s3://models/iris/model.tar.gz"


def _check_bucket(bucket: str, text: str, field: str) -> None:
    if not _BUCKET.match(bucket) or ".." in bucket or _IP.match(bucket):
        raise SpecError(
            f"'{bucket}' in {text} is not a valid bucket name",
            field=field,
            hint="bucket names are 3-63 characters: lower-case letters, digits, '.' and '-'",
        )


def _check_key(key: str, text: str, field: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise SpecError(f"the key of {text} is longer than 1024 bytes", field=field)
    segments = key.split("/")
    if key.endswith("/"):
        segments = segments[:-1]  # a trailing slash names a prefix ("folder")
    if key and (_CONTROL.search(key) or any(s in ("", ".", "..") for s in segments)):
        raise SpecError(
            f"the key of {text} has an empty, '.' or '..' segment, or a control character",
            field=field,
            hint="use keys like 'jobs/iris/output/model.tar.gz'",
        )


def parse_uri(text: str, *, field: str = "uri") -> ArtifactUri:
    """``s3://bucket/key`` → :class:`ArtifactUri`; :class:`SpecError` naming ``field``.

    The scheme is read by :func:`~dockyard.spec.uris.parse_data_uri` (the one parser
    of data locations); this adds what a store can hold: a valid bucket name and a key
    without ``.``/``..``/empty segments. The key may be empty or end with ``/`` (a
    prefix); storing or reading an object needs a full key.
    """
    try:
        parsed = parse_data_uri(text)
    except SpecValueError as error:
        raise SpecError(error.message, field=field, hint=_URI_HINT) from None
    if parsed.scheme != "s3":
        raise SpecError(f"'{text}' is not an s3:// URI", field=field, hint=_URI_HINT)
    _check_bucket(parsed.bucket, text, field)
    _check_key(parsed.key, text, field)
    return ArtifactUri(bucket=parsed.bucket, key=parsed.key)


class LocalArtifactStore:
    """:class:`~dockyard.ports.artifacts.ArtifactStore` on a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # --- locating -----------------------------------------------------------------

    def _path(self, uri: ArtifactUri) -> Path:
        text = str(uri)
        _check_bucket(uri.bucket, text, "uri")
        _check_key(uri.key, text, "uri")
        bucket_dir = self.root / uri.bucket
        path = bucket_dir / uri.key if uri.key else bucket_dir
        real, base = os.path.realpath(path), os.path.realpath(bucket_dir)
        if real != base and not real.startswith(base + os.sep):
            raise SpecError(f"{text} leaves its bucket", field="uri", hint=_URI_HINT)
        return path

    def _object_path(self, uri: ArtifactUri) -> Path:
        if not uri.key or uri.key.endswith("/"):
            raise SpecError(
                f"{uri} names a prefix, not an object",
                field="uri",
                hint="give the full key of the object, e.g. s3://models/iris/model.tar.gz",
            )
        return self._path(uri)

    def path_for(self, uri: ArtifactUri) -> Path:
        """Where the object lives (or would live); nothing is created."""
        return self._object_path(uri)

    # --- the port -----------------------------------------------------------------

    def put_file(self, uri: ArtifactUri, source: Path) -> None:
        """Store a copy of ``source`` under ``uri``, replacing any previous object."""
        if not source.is_file():
            raise SpecError(f"{source} is not a file", field="source")
        dest = self._object_path(uri)
        self._commit(dest, lambda tmp: shutil.copyfile(source, tmp))

    def put_bytes(self, uri: ArtifactUri, data: bytes) -> None:
        dest = self._object_path(uri)
        self._commit(dest, lambda tmp: tmp.write_bytes(data))

    def local_path(self, uri: ArtifactUri) -> Path:
        path = self._object_path(uri)
        if not path.is_file():
            raise NotFound(
                f"no artifact at {uri}",
                resource=str(uri),
                hint="check the URI (dockyard lists a job's artifacts in its description)",
            )
        return path

    def local_dir(self, uri: ArtifactUri) -> Path:
        """The folder ``uri`` names (its key read as ``key/``; an empty key: the bucket)."""
        path = self._path(ArtifactUri(uri.bucket, uri.key.rstrip("/")))
        if not path.is_dir():
            raise NotFound(
                f"no folder at {uri}",
                resource=str(uri),
                hint="check the URI: an s3:// prefix names the objects stored under it",
            )
        return path

    def exists(self, uri: ArtifactUri) -> bool:
        """An object at ``uri``; for a prefix (empty key or trailing ``/``), any under it."""
        if not uri.key or uri.key.endswith("/"):
            return next(self.iter_keys(uri), None) is not None
        return self._path(uri).is_file()

    def delete_prefix(self, uri: ArtifactUri) -> None:
        """Delete every object whose key starts with ``uri.key`` (S3 prefix semantics)."""
        base = self._path(uri)
        if not uri.key or uri.key.endswith("/"):
            shutil.rmtree(base, ignore_errors=True)
        else:
            parent, stem = base.parent, base.name
            for entry in parent.glob(f"{glob_escape(stem)}*") if parent.is_dir() else []:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        self._prune_empty(base.parent, self.root / uri.bucket)

    # --- extras -------------------------------------------------------------------

    def iter_keys(self, prefix: ArtifactUri) -> Iterator[ArtifactUri]:
        """Objects under ``prefix`` (string prefix of the key), in key order."""
        bucket_dir = self._path(ArtifactUri(prefix.bucket, ""))
        if not bucket_dir.is_dir():
            return
        for directory, dirnames, filenames in os.walk(bucket_dir):
            dirnames.sort()
            for name in sorted(filenames):
                key = Path(directory, name).relative_to(bucket_dir).as_posix()
                if key.startswith(prefix.key):
                    yield ArtifactUri(prefix.bucket, key)

    def _commit(self, dest: Path, write: Callable[[Path], object]) -> None:
        incoming = self.root / _TMP_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        tmp = incoming / f"{uuid.uuid4().hex}.part"
        try:
            write(tmp)
            tmp.chmod(0o644)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _prune_empty(directory: Path, stop: Path) -> None:
        while directory != stop and directory.is_relative_to(stop):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def glob_escape(text: str) -> str:
    """Escape glob metacharacters so a key stem matches literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)
