"""Handlers run on the worker's event loop, one call at a time, marked busy on the board.

Why on the loop: a one-row scikit-learn ``predict`` costs tens of microseconds, and
handing each call to a second thread and back costs about as much again -- two thread
wake-ups and two hand-overs of the GIL per request, for no parallelism, since the work
holds the GIL anyway. Measured on one-row iris requests at 32 connections on a 2-core
machine, the model server spent 174 µs of CPU a request with the hand-off and 132 µs
without it, and answered a third more requests. Parallelism comes from worker processes.

What the hand-off bought is kept another way:

* ``/ping`` within 2 s while a handler runs long: the worker's ping guard
  (``ping_guard.py``) answers new connections' pings while the loop is inside a handler;
* the per-invocation timeout: the loop runs on the main thread, so the one-shot
  ``SIGALRM`` (``deadline.py``) interrupts the handler between bytecodes;
* one request at a time per worker process, the guarantee the toolkit's servers give user
  code, holds trivially: the loop runs one handler at a time.

While a handler runs, ``busy_since`` on the worker board says since when: the ping guard
reads it to know when to step in, and the supervisor's watchdog to tell a handler stuck in
C code (which the alarm cannot interrupt) from one that is merely slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _idle(since: float) -> None:
    """The busy marker used before the worker binds one (tests, in-process use)."""


class Handlers:
    """Runs handler calls on the calling (event loop) thread, with the busy mark set."""

    def __init__(self) -> None:
        self._mark_busy: Callable[[float], None] = _idle

    def bind(self, mark_busy: Callable[[float], None]) -> None:
        """How busy is shown (the worker board's record of this worker)."""
        self._mark_busy = mark_busy

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``run`` for coroutines: it never suspends, so nothing else on the loop runs in
        between, and callers stay independent of where the call runs."""
        return self.run(fn, *args)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, run now; its result or exception."""
        mark_busy = self._mark_busy
        mark_busy(time.monotonic())
        try:
            return fn(*args)
        finally:
            mark_busy(0.0)
