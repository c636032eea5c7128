"""The registry a multi-model server's workers share: file, generation and usage slots."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from dockyard.runtime.serve.model_registry import Entry, SharedRegistry

pytestmark = pytest.mark.unit


def _entry(name: str, slot: int) -> Entry:
    return Entry(name, f"/models/{name}", 10, slot, extracted=False)


def test_a_change_is_read_back_and_moves_the_generation(tmp_path: Path) -> None:
    registry = SharedRegistry(str(tmp_path))
    before = registry.generation()
    registry.write({"a": _entry("a", 0)})
    assert registry.read() == {"a": _entry("a", 0)}
    assert registry.generation() == before + 1


def test_a_free_slot_is_the_lowest_unused(tmp_path: Path) -> None:
    entries = {"a": _entry("a", 0), "c": _entry("c", 2)}
    assert SharedRegistry.free_slot(entries) == 1


def test_usage_written_in_a_child_process_is_seen_by_the_parent(tmp_path: Path) -> None:
    registry = SharedRegistry(str(tmp_path))
    pid = os.fork()
    if pid == 0:  # the child: a worker
        registry.write({"a": _entry("a", 3)})
        registry.touch(3)
        os._exit(0)
    os.waitpid(pid, 0)
    assert registry.read() == {"a": _entry("a", 3)}
    assert registry.last_used(3) > 0
    assert registry.generation() == 2  # the first write at start, then the child's


def test_the_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    registry = SharedRegistry(str(tmp_path))
    read, write = os.pipe()
    with registry.locked():
        pid = os.fork()
        if pid == 0:  # another worker tries to take the lock without waiting
            handle = os.open(tmp_path / ".lock", os.O_RDWR)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.write(write, b"taken")
            except BlockingIOError:
                os.write(write, b"busy")
            os._exit(0)
        os.waitpid(pid, 0)
    assert os.read(read, 5) == b"busy"
