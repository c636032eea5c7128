"""Where a transform job reads its input files and puts each ``X.out``.

Input: a directory (every file under it, in key order, is one input object, named by
its path under the directory, as S3 keys under a prefix are) or a single file. Output:
a local directory or an ``s3://`` prefix of the artifact store. Either way an ``X.out``
appears whole or not at all: a local one is the part file renamed (or, across file
systems, copied next to its final name and renamed over it); the artifact store
commits its objects the same way.
"""

from __future__ import annotations

import gzip
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import SpecError
from dockyard.ports.artifacts import ArtifactUri
from dockyard.server.inputs import LocalPath, S3Location, parse_input
from dockyard.server.platform import Platform

OUTPUT_FIELD = "TransformOutput.S3OutputPath"


@dataclass(frozen=True)
class OutputLocation:
    """A local directory, or a prefix in the artifact store."""

    directory: Path | None = None
    prefix: ArtifactUri | None = None

    def publish(self, platform: Platform, key: str, part: Path) -> str:
        """Put ``part`` in place as ``<key>.out``; where it now is."""
        name = f"{key}.out"
        if self.prefix is not None:
            base = self.prefix.key
            if base and not base.endswith("/"):
                base += "/"
            uri = ArtifactUri(self.prefix.bucket, base + name)
            platform.artifacts.put_file(uri, part)
            return str(uri)
        assert self.directory is not None
        dest = self.directory / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(part, dest)  # same file system: the part file becomes X.out
            return str(dest)
        except OSError:
            pass  # another file system: copy next to it, then rename
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            shutil.copyfile(part, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return str(dest)


def output_location(platform: Platform, text: str) -> OutputLocation:
    """Where outputs go; SpecError naming the field when they cannot go there."""
    ref = parse_input(text, OUTPUT_FIELD, jobs=False)
    if isinstance(ref, S3Location):
        return OutputLocation(prefix=ref.uri)
    assert isinstance(ref, LocalPath)
    if ref.path.exists() and not ref.path.is_dir():
        raise SpecError(
            f"{ref.path} is a file, not a directory",
            field=OUTPUT_FIELD,
            hint="give a directory (created if missing) or an s3:// prefix",
        )
    return OutputLocation(directory=ref.path)


def input_files(root: Path) -> list[tuple[str, Path]]:
    """Every input object: (key, path), in key order."""
    if root.is_file():
        return [(root.name, root)]
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory, name)
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def read_input(path: Path, compression: str) -> bytes:
    """An input file's bytes, decompressed when its CompressionType is Gzip."""
    data = path.read_bytes()
    return gzip.decompress(data) if compression == "Gzip" else data
