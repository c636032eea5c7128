"""Archives users hand to a container unpack inside their target, or not at all."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from dockyard.runtime.archives import UnsafeArchiveError, extract_safely


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_files_and_folders_land_inside_the_target(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "code.tar.gz", {"train.py": b"print(1)", "lib/util.py": b"x"})
    target = tmp_path / "out"
    target.mkdir()

    with tarfile.open(archive) as tar:
        extract_safely(tar, str(target))

    assert (target / "train.py").read_bytes() == b"print(1)"
    assert (target / "lib" / "util.py").read_bytes() == b"x"


def test_a_member_that_climbs_out_is_refused_and_nothing_escapes(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "evil.tar.gz", {"../escaped.txt": b"no"})
    target = tmp_path / "out"
    target.mkdir()

    with tarfile.open(archive) as tar, pytest.raises(UnsafeArchiveError):
        extract_safely(tar, str(target))

    assert not (tmp_path / "escaped.txt").exists()
