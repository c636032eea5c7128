"""Where training outputs and model artifacts live: S3 semantics, any backend.

Artifacts are named by ``s3://bucket/key`` URIs whatever the backend, so a job's
description reads the same locally and on AWS. The local backend lays files out as
``<root>/<bucket>/<key>``; an S3 backend (boto3) implements the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ArtifactUri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class ArtifactStore(Protocol):
    def put_file(self, uri: ArtifactUri, source: Path) -> None: ...
    def local_path(self, uri: ArtifactUri) -> Path:
        """A path on this machine holding the object (downloaded first if remote)."""

    def local_dir(self, uri: ArtifactUri) -> Path:
        """A directory on this machine holding the objects under ``uri`` as a folder.

        The key is read as a folder (``key/``; an empty key is the whole bucket) and
        each object appears at the rest of its key (downloaded first if remote).
        :class:`~dockyard.errors.NotFound` when nothing is stored under it.
        """

    def exists(self, uri: ArtifactUri) -> bool: ...
    def delete_prefix(self, uri: ArtifactUri) -> None: ...
