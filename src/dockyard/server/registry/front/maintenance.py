"""Whether Distribution takes writes now, asked cheaply enough to ask on every write.

A garbage collection restarts Distribution read-only for its duration. Writes sent
then would fail half-way through a push, so the front refuses them up front with a
retryable 503 instead; reads keep flowing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from dockyard.adapters.registry import Registry

WRITABLE_CACHE_S = 1.0  # how long "the registry takes writes" is trusted without a look


class ReadOnlyProbe:
    """Says whether writes are refused now.

    ``override`` replaces the look at the process (tests); it is asked at every write,
    so it must be cheap.
    """

    def __init__(self, process: Registry, override: Callable[[], bool] | None = None) -> None:
        self._process = process
        self._override = override
        self._writable_until = 0.0  # monotonic time until which writes are taken on trust

    async def __call__(self) -> bool:
        if self._override is not None:
            return self._override()
        # Only "writable" is remembered: a write let through during a maintenance is
        # refused by Distribution itself (405, answered as 503 by the front), while a
        # remembered "read-only" would refuse writes after the maintenance has ended.
        now = time.monotonic()
        if now < self._writable_until:
            return False
        read_only = await run_in_threadpool(self._process.read_only)
        if not read_only:
            self._writable_until = now + WRITABLE_CACHE_S
        return read_only
