"""One worker process: a uvicorn server on its own listening socket.

Runs in a child forked by the supervisor after the model was loaded, so the model's
memory is shared copy-on-write and the worker is ready the moment it starts.

uvicorn settings and why: httptools and uvloop when importable (the fastest parser and
loop); no lifespan (nothing to start: the model is already loaded); no access log and no
Server header (per-request work nobody reads); keep-alive 75 s, longer than the idle
timeouts of the load balancers usually put in front (60 s), so the server never closes a
connection a balancer is about to reuse; graceful shutdown bounded by the request
timeout plus a margin, so a draining worker finishes its in-flight request and then exits.

The worker also keeps two promises to the supervisor: it writes a heartbeat once a
second from its event loop (a stale heartbeat means the loop is stuck), and it shuts
down gracefully when its parent disappears (``PR_SET_PDEATHSIG`` on Linux, and a
parent-pid check on every heartbeat everywhere), so no worker outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import mmap
import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterator

import uvicorn

from dockyard.runtime.serve.app import ASGIApp
from dockyard.runtime.serve.deadline import Deadline

log = logging.getLogger("dockyard.serve")

KEEP_ALIVE_S = 75
_BEAT = struct.Struct("d")


class Heartbeats:
    """One monotonic timestamp per worker slot, in memory shared across fork."""

    def __init__(self, slots: int) -> None:
        self._memory = mmap.mmap(-1, _BEAT.size * max(1, slots))

    def beat(self, slot: int) -> None:
        _BEAT.pack_into(self._memory, slot * _BEAT.size, time.monotonic())

    def age(self, slot: int) -> float:
        """Seconds since ``slot`` last beat."""
        (last,) = _BEAT.unpack_from(self._memory, slot * _BEAT.size)
        return time.monotonic() - float(last)


class WorkerServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after a graceful shutdown.

    uvicorn re-delivers a captured SIGTERM once it has drained, so that the process dies
    of it; a worker should instead return and exit 0, which the supervisor reads as a
    clean stop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_worker(
    slot: int,
    sock: socket.socket,
    *,
    app: ASGIApp,
    heartbeats: Heartbeats,
    deadline: Deadline,
    parent: int,
) -> int:
    """Serve ``app`` on ``sock`` until told to stop; the process's exit status.

    ``parent`` is the supervisor's pid as the supervisor knows it, so a parent that died
    between fork and this call is still noticed.
    """
    _die_with_parent()
    deadline.install()
    config = uvicorn.Config(
        app,
        http="httptools" if _importable("httptools") else "h11",
        lifespan="off",
        access_log=False,
        server_header=False,
        log_config=None,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(deadline.seconds) + 5,
    )
    server = WorkerServer(config)

    async def serve() -> None:
        _keep_beating(asyncio.get_running_loop(), server, heartbeats, slot, parent)
        await server.serve(sockets=[sock])

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve())
    return 0


def _keep_beating(
    loop: asyncio.AbstractEventLoop,
    server: uvicorn.Server,
    heartbeats: Heartbeats,
    slot: int,
    parent: int,
) -> None:
    def tick() -> None:
        heartbeats.beat(slot)
        if os.getppid() != parent and not server.should_exit:
            log.warning("the supervisor (pid %d) is gone; worker shutting down", parent)
            server.should_exit = True
        loop.call_later(1.0, tick)

    tick()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if _importable("uvloop"):
        import uvloop  # noqa: PLC0415 - optional

        return uvloop.new_event_loop
    return None


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies."""
    try:
        import ctypes  # noqa: PLC0415 - Linux-only nicety

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the heartbeat's parent check covers other systems


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
