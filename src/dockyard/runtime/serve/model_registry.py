"""The loaded models of a multi-model server as all its worker processes see them.

Each worker holds its own copy of a model (workers are processes), but whether a model is
*loaded* -- what ``POST /models`` answers 409 to, what ``GET /models`` lists, what counts
against the memory budget -- is one fact for the whole server. It lives here:

* a JSON file (``models.json``) in a directory the supervisor makes fresh at start,
  rewritten whole and renamed into place, so a reader never sees half of it;
* an exclusive ``flock`` around every change (load, unload), taken by the worker that
  makes it, so two workers never load the same model or overrun the budget together;
* an anonymous shared mapping, made before the workers fork: word 0 is a generation
  number bumped after every change (a worker re-reads the file only when it moved, one
  memory read per request otherwise), and one word per model slot holds when that model
  was last used by any worker (one memory write per request), which orders the least
  recently used for unloading.

A worker that dies loses only its copies: the registry outlives it, and its replacement
loads each listed model again on its first request for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass

_WORD = struct.Struct("d")
_GENERATION = struct.Struct("q")
#: models loaded at once, at most (one 8-byte word each: 128 KiB)
MAX_MODELS = 16384


@dataclass(frozen=True)
class Entry:
    """One loaded model: its name, directory, accounted size and usage slot."""

    name: str
    url: str
    size_bytes: int
    slot: int
    extracted: bool  # its directory was extracted by the server (deleted on unload)


class RegistryFull(Exception):
    """Every usage slot is taken (MAX_MODELS models are loaded)."""


class SharedRegistry:
    """See the module docstring; made by the supervisor, used by every worker."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._path = os.path.join(directory, "models.json")
        self._lock_path = os.path.join(directory, ".lock")
        self._memory = mmap.mmap(-1, 8 * (MAX_MODELS + 1))
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self.write({})

    # -- the shared words ---------------------------------------------------------------
    def generation(self) -> int:
        (value,) = _GENERATION.unpack_from(self._memory, 0)
        return int(value)

    def touch(self, slot: int) -> None:
        """Model ``slot`` was used just now."""
        _WORD.pack_into(self._memory, 8 * (slot + 1), time.monotonic())

    def last_used(self, slot: int) -> float:
        (value,) = _WORD.unpack_from(self._memory, 8 * (slot + 1))
        return float(value)

    # -- the file -----------------------------------------------------------------------
    def read(self) -> dict[str, Entry]:
        with open(self._path) as handle:
            return {e["name"]: Entry(**e) for e in json.load(handle)}

    def write(self, entries: Mapping[str, Entry]) -> None:
        """Replace the registry (hold ``locked()``), then move the generation on."""
        scratch = f"{self._path}.{os.getpid()}"
        with open(scratch, "w") as handle:
            json.dump([asdict(e) for e in entries.values()], handle)
        os.replace(scratch, self._path)
        _GENERATION.pack_into(self._memory, 0, self.generation() + 1)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive among the workers (each opens its own descriptor: flock is per open)."""
        if self._lock_fd is None or self._lock_pid != os.getpid():
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @staticmethod
    def free_slot(entries: Mapping[str, Entry]) -> int:
        used = {e.slot for e in entries.values()}
        slot = next((s for s in range(MAX_MODELS) if s not in used), None)
        if slot is None:
            raise RegistryFull(f"{MAX_MODELS} models are loaded, the most one server holds")
        return slot
