"""Handlers run on the worker's main thread; the event loop runs on a second thread.

Why: with handlers on the event loop, a worker inside a 60 s prediction cannot answer
``GET /ping`` (the contract gives it 2 s), and the load balancer takes a healthy replica
out. So the loop -- HTTP parsing, ``/ping``, reading bodies, writing replies -- gets a
thread of its own and stays responsive, while the handler chain runs on the main thread.

Why this way round (loop on the second thread, handlers on the main one):

* the per-invocation timeout stays a one-shot ``SIGALRM`` (``deadline.py``): Python runs
  signal handlers only on the main thread, which is exactly where the handler runs, so the
  timeout still interrupts it between bytecodes;
* user code that only works on the main thread (installs signal handlers, some native
  libraries) keeps working;
* one handler thread per worker keeps the guarantee the toolkit's servers give user code:
  one request at a time per worker process (bounded concurrency of 1; parallelism comes
  from worker processes, as before).

The hand-off costs one queue put and one ``call_soon_threadsafe`` per request, no thread
pool, no executor bookkeeping: the ``SimpleQueue`` wakes the main thread, which runs the
job and wakes the loop with the result. Measured on a busy 2-core machine, a round trip
of an empty job takes 40-60 us, most of it two thread wake-ups; under load the main
thread finds the next job already queued and the wake-ups of the loop coalesce, so the
cost per request shrinks as concurrency grows. Adaptive batching (``batching.py``)
amortises it further: one hand-off per batch.

While a handler runs, ``busy_since`` on the worker board says since when, so the
supervisor's watchdog can tell a handler stuck in C code (which the alarm cannot
interrupt) from a loop that is merely busy -- the loop keeps beating either way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from dockyard.runtime.serve.errors import HandlerTimeout

T = TypeVar("T")
_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


def _idle(since: float) -> None:
    """The busy marker used before the worker binds one (tests, in-process use)."""


class HandlerThread:
    """Runs callables one at a time on the thread that calls ``serve_forever``."""

    def __init__(self) -> None:
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mark_busy: Callable[[float], None] = _idle

    def bind(self, loop: asyncio.AbstractEventLoop, mark_busy: Callable[[float], None]) -> None:
        """Called on the loop thread once it runs: where results go, how busy is shown."""
        self._loop = loop
        self._mark_busy = mark_busy

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the handler thread; its result or exception, here."""
        loop = self._loop
        if loop is None:  # not bound: no handler thread, run inline
            return fn(*args)
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, args, future))
        return await future

    def serve_forever(self) -> None:
        """Run jobs until ``close``; call on the main thread (see the module docstring)."""
        get = self._jobs.get
        while True:
            job = get()
            if job is None:  # close()
                return
            fn, args, future = job
            mark_busy = self._mark_busy  # bound by the loop thread, maybe after we started
            mark_busy(time.monotonic())
            try:
                value, failed = fn(*args), False
            except (Exception, HandlerTimeout) as exc:
                value, failed = exc, True
            finally:
                mark_busy(0.0)
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(_settle, future, value, failed)

    def close(self) -> None:
        """Make ``serve_forever`` return once the jobs queued before this are done."""
        self._jobs.put(None)


def _settle(future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    if future.done():  # cancelled while the handler ran
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)
