"""Response times read back from HAProxy's in-memory request ring (pure parsing).

Every request HAProxy answers is logged to a ring (see :mod:`.config`) as
``REQUEST_COUNTER BACKEND STATUS ACTIVE_MS ...``. The runtime API's ``show events``
dumps what the ring holds now: the newest lines, old ones overwritten. Reading it
twice shows many lines twice, so a :class:`RingCursor` remembers the highest request
counter it has handed out and skips what came before. The counter restarts at zero
with a new HAProxy process (a restart or a reload): a dump whose newest counter is
below the cursor starts the count again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoggedRequest:
    counter: int
    backend: str
    status: int
    active_ms: float


def parse_ring(text: str) -> list[LoggedRequest]:
    """The request lines of a ``show events`` dump; anything else is skipped."""
    found = []
    for line in text.splitlines():
        parts = line.split(" ", 4)
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        counter, backend, status, active = parts[:4]
        if not status.lstrip("-").isdigit() or not active.lstrip("-").isdigit():
            continue
        if int(active) < 0 or int(status) <= 0:  # aborted before an answer: no time
            continue
        found.append(LoggedRequest(int(counter), backend, int(status), float(active)))
    return found


class RingCursor:
    """Hands out each logged request once across successive dumps of the ring."""

    def __init__(self) -> None:
        self.last = -1

    def new(self, logged: list[LoggedRequest]) -> list[LoggedRequest]:
        if not logged:
            return []
        newest = max(entry.counter for entry in logged)
        if newest < self.last:  # a new HAProxy process counts from zero again
            self.last = -1
        fresh = [entry for entry in logged if entry.counter > self.last]
        self.last = max(self.last, newest)
        return fresh
