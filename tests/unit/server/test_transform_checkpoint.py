"""The transform driver's part files: what a restart keeps and what it writes again."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.records.transform import FileProgress, FileStatus
from dockyard.server.transform_driver import _FileRun

pytestmark = pytest.mark.unit


def test_a_restart_cuts_the_part_file_back_to_its_checkpoint(tmp_path: Path) -> None:
    part = tmp_path / "000000.part"
    part.write_bytes(b"a:1\nb:2\nc:3\n")  # c was written after the last checkpoint
    checkpoint = FileProgress("x.csv", 4, FileStatus.IN_PROGRESS, records_done=2, bytes_written=8)
    run = _FileRun(0, checkpoint, b"", part)
    run.open()
    run.write(b"c:3\nd:4\n", 2)
    run.sync()
    run.close()
    assert part.read_bytes() == b"a:1\nb:2\nc:3\nd:4\n"
    assert (run.progress.records_done, run.progress.bytes_written) == (4, 16)


def test_a_part_file_shorter_than_its_checkpoint_starts_the_file_again(tmp_path: Path) -> None:
    part = tmp_path / "000000.part"
    part.write_bytes(b"a:1\n")
    checkpoint = FileProgress("x.csv", 4, FileStatus.IN_PROGRESS, records_done=2, bytes_written=8)
    run = _FileRun(0, checkpoint, b"", part)
    run.open()
    run.close()
    assert part.read_bytes() == b""
    assert run.progress.records_done == 0
    assert run.progress.status is FileStatus.IN_PROGRESS


def test_a_missing_part_file_starts_the_file_again(tmp_path: Path) -> None:
    checkpoint = FileProgress("x.csv", 4, FileStatus.IN_PROGRESS, records_done=3, bytes_written=12)
    run = _FileRun(0, checkpoint, b"", tmp_path / "gone.part")
    run.open()
    run.close()
    assert (run.progress.records_done, run.progress.bytes_written) == (0, 0)
