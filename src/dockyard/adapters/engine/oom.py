"""Whether a container that died of SIGKILL was killed for memory.

The engine's own ``State.OOMKilled`` is not enough. dockerd sets it from the order in
which two events reach it, the kernel's OOM notice and the process's exit, and under
load the exit can come first: the container then reads ``OOMKilled: false`` and exit
137, the same as ``docker kill``. Two other witnesses do not depend on that order:

- the task cgroup's own count. On cgroup v2, ``memory.events`` counts every OOM kill
  in the subtree, so the task's cgroup knows one of its containers was killed. On v1
  the count stays in the container's own cgroup, which the runtime removes with the
  container.
- the engine's ``oom`` event for the container, which dockerd logs whatever the
  order. The kernel notifies every container under the cgroup that ran out, so a
  sidecar in the same task gets the event too. Only an event within a few seconds of
  the container's own exit counts: a sidecar stopped later, SIGKILLed after its stop
  timeout, keeps the reason it stops for.

An exit seen in the instant it happened may not have its event logged yet, so the
check waits out :data:`EVENT_GRACE_SECONDS` after the exit before it says no. A
verdict is final once that grace has passed, so it is kept and never asked again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dockyard.adapters.engine.translate import epoch_seconds

SIGKILL_EXIT = 137
#: how long after an exit its ``oom`` event may still be on its way
EVENT_GRACE_SECONDS = 0.5
#: how far an ``oom`` event may lie from the container's exit and still be its cause
EVENT_WINDOW_SECONDS = 3.0
REMEMBERED = 4096

#: ``(container id, since, until)`` → the engine's events for it, as decoded JSON; an
#: engine that cannot say answers none (the log is a witness, never a reason to fail)
EventQuery = Callable[[str, float, float], Iterable[Mapping[str, Any]]]


def event_seconds(event: Mapping[str, Any]) -> float | None:
    """When an engine event happened (``timeNano`` where the engine gives it)."""
    nano = event.get("timeNano")
    if isinstance(nano, int) and nano > 0:
        return nano / 1e9
    whole = event.get("time")
    return float(whole) if isinstance(whole, int | float) else None


class OomWitness:
    """Decides, once per container, whether its SIGKILL was the kernel's OOM killer."""

    def __init__(
        self,
        events: EventQuery,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._events = events
        self._clock = clock
        self._sleep = sleep
        self._verdicts: OrderedDict[str, bool] = OrderedDict()
        self._lock = threading.Lock()

    def killed(
        self,
        container_id: str,
        *,
        exit_code: int | None,
        started_at: str | None,
        finished_at: str | None,
        cgroup_count: Callable[[], int] = lambda: 0,
    ) -> bool:
        """True when the exit was an OOM kill that the engine's own flag missed."""
        if exit_code != SIGKILL_EXIT:
            return False
        with self._lock:
            if container_id in self._verdicts:
                return self._verdicts[container_id]
        finished = epoch_seconds(finished_at)
        if finished is None:
            return False
        verdict = cgroup_count() > 0 or self._event_near(container_id, started_at, finished)
        with self._lock:
            self._verdicts[container_id] = verdict
            while len(self._verdicts) > REMEMBERED:
                self._verdicts.popitem(last=False)
        return verdict

    def _event_near(self, container_id: str, started_at: str | None, finished: float) -> bool:
        early = finished + EVENT_GRACE_SECONDS - self._clock()
        if early > 0:
            self._sleep(early)
        since = epoch_seconds(started_at) or finished - EVENT_WINDOW_SECONDS
        until = self._clock()  # a time to come would hold the log open until it came
        for event in self._events(container_id, since, until):
            at = event_seconds(event)
            if event.get("Action", event.get("status")) != "oom" or at is None:
                continue
            if abs(at - finished) <= EVENT_WINDOW_SECONDS:
                return True
        return False
