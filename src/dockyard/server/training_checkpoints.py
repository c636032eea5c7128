"""Where a training job's checkpoints are kept between runs: ``CheckpointConfig.S3Uri``.

SageMaker copies what is under ``S3Uri`` into ``LocalPath`` (default
``/opt/ml/checkpoints``) before the script starts and copies what the script writes
there back to ``S3Uri`` while the job runs and when it ends, so a job started again
with the same CheckpointConfig (after a failure, a stop or a spot interruption)
resumes. Dockyard does the same with the artifact store (``s3://bucket/prefix`` is the
folder ``bucket/prefix/``) or a folder on this machine (``file:///path``).

A save copies only files that are new or changed since the stored copy (other size,
or modified after it was stored), so saving often costs little. Like SageMaker it
never deletes: a file removed from ``LocalPath`` stays at ``S3Uri``. With several
hosts, every host's files are saved to the same place (as on SageMaker, scripts name
their files by host or rank); where two hosts hold the same name, a save stores
algo-1's copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from dockyard.adapters.artifacts.local import parse_uri
from dockyard.errors import NotFound, SpecError
from dockyard.ports.artifacts import ArtifactStore, ArtifactUri
from dockyard.server.inputs import LocalPath, parse_input
from dockyard.server.training_inputs import open_to_everyone

FIELD = "CheckpointConfig.S3Uri"


class CheckpointLocation:
    """``S3Uri`` of a CheckpointConfig, read and written through the artifact store."""

    def __init__(self, text: str, artifacts: ArtifactStore) -> None:
        ref = parse_input(text, FIELD, jobs=False)
        self._artifacts = artifacts
        self._folder: Path | None = ref.path if isinstance(ref, LocalPath) else None
        self._prefix: ArtifactUri | None = None
        if self._folder is None:
            uri = parse_uri(text, field=FIELD)
            self._prefix = ArtifactUri(uri.bucket, uri.key.rstrip("/"))
        elif self._folder.exists() and not self._folder.is_dir():
            raise SpecError(
                f"{self._folder} is a file, not a folder for checkpoints",
                field=FIELD,
                hint="give a folder (it is created when the first checkpoint is saved)",
            )

    def restore(self, dest: Path) -> int:
        """Copy every stored checkpoint into ``dest``; the number of files copied."""
        dest.mkdir(parents=True, exist_ok=True)
        source = self._stored_folder()
        count = 0
        if source is not None:
            for rel, path in _files(source):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)  # the stored mtime: an unchanged file is not re-saved
                count += 1
        open_to_everyone(dest)
        return count

    def save(self, sources: Sequence[Path]) -> int:
        """Store new or changed files of each of ``sources`` (the last wins); files copied."""
        latest = {rel: path for source in sources for rel, path in _files(source)}
        return sum(1 for rel, path in latest.items() if self._store(rel, path))

    def _stored_folder(self) -> Path | None:
        if self._folder is not None:
            return self._folder if self._folder.is_dir() else None
        assert self._prefix is not None
        try:
            return self._artifacts.local_dir(self._prefix)
        except NotFound:
            return None

    def _store(self, rel: str, path: Path) -> bool:
        if self._folder is not None:
            target = self._folder / rel
            if _unchanged(path, target):
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            return True
        assert self._prefix is not None
        key = f"{self._prefix.key}/{rel}" if self._prefix.key else rel
        uri = ArtifactUri(self._prefix.bucket, key)
        if self._artifacts.exists(uri) and _unchanged(path, self._artifacts.local_path(uri)):
            return False
        self._artifacts.put_file(uri, path)
        return True


def _unchanged(source: Path, stored: Path) -> bool:
    try:
        mine, theirs = source.stat(), stored.stat()
    except FileNotFoundError:
        return False
    return mine.st_size == theirs.st_size and mine.st_mtime_ns <= theirs.st_mtime_ns


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """Regular files under ``root`` with their paths relative to it (links not followed)."""
    if not root.is_dir():
        return
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root).as_posix(), path
