"""What the supervisor and its workers know about each other, in memory shared across fork.

One fixed-size record per worker slot in an anonymous shared mapping, created by the
supervisor before the first fork, so every worker -- including ones respawned later --
reads and writes the same records with no pipes, locks or system calls:

* ``beat``: the monotonic time the worker's event loop last ran (written once a second);
  a stale beat with no handler running means the loop itself is stuck;
* ``busy_since``: when the handler now running started (0 when idle); a handler running
  past the timeout is stuck where the timeout cannot interrupt it;
* ``pid`` and ``ready``: written by the worker as its server starts, cleared by the
  supervisor before it forks and when it reaps, and cleared by a worker that starts to
  drain, so a ping served by one worker knows whether any worker can serve;
* ``restarts`` and ``exited_peak_kb``: how often the slot was restarted and the largest
  peak RSS of the workers that ran in it and exited, for the memory report.

Each field is one aligned 8-byte word written by one side at a time, so readers never see
half a value on the platforms the runtime supports.
"""

from __future__ import annotations

import mmap
import struct
import time

_WORD = struct.Struct("d")
_INT = struct.Struct("q")
_FIELDS = ("beat", "busy_since", "pid", "ready", "restarts", "exited_peak_kb")
_OFFSET = {name: 8 * index for index, name in enumerate(_FIELDS)}
_RECORD = 8 * len(_FIELDS)
#: A loop that has not beaten for this long cannot be answering (it beats every second).
STALE_BEAT_S = 5.0


class WorkerBoard:
    """One record per worker slot; see the module docstring for the fields."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._memory = mmap.mmap(-1, _RECORD * self.slots)

    # -- written by the worker -------------------------------------------------------
    def beat(self, slot: int) -> None:
        _WORD.pack_into(self._memory, slot * _RECORD, time.monotonic())

    def set_busy(self, slot: int, since: float) -> None:
        """``since``: when the handler started (``time.monotonic()``), or 0 when it ended."""
        _WORD.pack_into(self._memory, slot * _RECORD + _OFFSET["busy_since"], since)

    def set_ready(self, slot: int, pid: int) -> None:
        """Worker ``pid`` serves ``slot`` from now on."""
        self._put(slot, "pid", pid)
        self._put(slot, "ready", 1)

    def set_draining(self, slot: int) -> None:
        """The worker in ``slot`` takes no new requests (it is stopping)."""
        self._put(slot, "ready", 0)

    # -- written by the supervisor ---------------------------------------------------
    def clear(self, slot: int) -> None:
        """No worker in ``slot`` (before a fork, after a reap)."""
        self._put(slot, "ready", 0)
        self._put(slot, "pid", 0)
        self.set_busy(slot, 0.0)

    def record_exit(self, slot: int, peak_kb: int) -> None:
        """The worker in ``slot`` exited with ``peak_kb`` KiB peak RSS; count a restart."""
        self._put(slot, "restarts", self.restarts(slot) + 1)
        self._put(slot, "exited_peak_kb", max(peak_kb, self.exited_peak_kb(slot)))
        self.clear(slot)

    # -- read by anyone --------------------------------------------------------------
    def age(self, slot: int) -> float:
        """Seconds since ``slot``'s event loop last beat."""
        (last,) = _WORD.unpack_from(self._memory, slot * _RECORD)
        return time.monotonic() - float(last)

    def busy_for(self, slot: int) -> float:
        """Seconds the handler now running in ``slot`` has taken (0 when idle)."""
        (since,) = _WORD.unpack_from(self._memory, slot * _RECORD + _OFFSET["busy_since"])
        return time.monotonic() - float(since) if since else 0.0

    def pid(self, slot: int) -> int:
        return self._get(slot, "pid")

    def ready(self, slot: int) -> bool:
        return bool(self._get(slot, "ready"))

    def restarts(self, slot: int) -> int:
        return self._get(slot, "restarts")

    def exited_peak_kb(self, slot: int) -> int:
        return self._get(slot, "exited_peak_kb")

    def can_serve(self, slot: int, timeout_s: float) -> bool:
        """A live, ready worker whose loop runs and whose handler is not stuck.

        A loop inside a handler does not beat (handlers run on it), so while a handler
        runs within the timeout the worker counts as serving: it answers once the
        handler returns, and its ping guard answers meanwhile.
        """
        busy_for = self.busy_for(slot)
        return (
            self.pid(slot) != 0
            and self.ready(slot)
            and busy_for <= timeout_s
            and (busy_for > 0 or self.age(slot) < STALE_BEAT_S)
        )

    def any_can_serve(self, timeout_s: float) -> bool:
        return any(self.can_serve(slot, timeout_s) for slot in range(self.slots))

    def _put(self, slot: int, field: str, value: int) -> None:
        _INT.pack_into(self._memory, slot * _RECORD + _OFFSET[field], value)

    def _get(self, slot: int, field: str) -> int:
        (value,) = _INT.unpack_from(self._memory, slot * _RECORD + _OFFSET[field])
        return int(value)
