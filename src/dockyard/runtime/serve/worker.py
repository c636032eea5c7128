"""One worker process: a uvicorn server on its own listening socket.

Runs in a child forked by the supervisor after the model was loaded, so the model's
memory is shared copy-on-write and the worker is ready the moment it starts.

Two threads: the event loop (uvicorn) on a second thread, the handler chain on the main
thread (``handoff.py`` says why), so ``/ping`` is answered while a prediction runs. Stop
signals are taken on the main thread, which is the only one Python runs signal handlers
on; the loop thread blocks them so that the kernel always delivers them there.

uvicorn settings and why: httptools and uvloop when importable (the fastest parser and
loop), the httptools protocol writing each response in one system call
(``single_write.py``); no lifespan (nothing to start: the model is already loaded); no
access log and no Server header (per-request work nobody reads); keep-alive 75 s, longer
than the idle timeouts of the load balancers usually put in front (60 s), so the server
never closes a connection a balancer is about to reuse; graceful shutdown bounded by the
request timeout plus a margin, so a draining worker finishes its in-flight request and
then exits.

The worker also keeps two promises to the supervisor: it writes a heartbeat once a
second from its event loop (a stale heartbeat means the loop is stuck) and marks on the
board while a handler runs (a handler running past the timeout is stuck), and it shuts
down gracefully when its parent disappears (``PR_SET_PDEATHSIG`` on Linux, and a
parent-pid check on every heartbeat everywhere), so no worker outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator

import uvicorn

from dockyard.runtime.serve.app import ASGIApp
from dockyard.runtime.serve.board import WorkerBoard
from dockyard.runtime.serve.deadline import Deadline
from dockyard.runtime.serve.handoff import HandlerThread

log = logging.getLogger("dockyard.serve")

KEEP_ALIVE_S = 75
#: Delivered to the main thread only (the handler thread; see the module docstring).
_MAIN_THREAD_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGCHLD})


class WorkerServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after a graceful shutdown.

    uvicorn re-delivers a captured SIGTERM once it has drained, so that the process dies
    of it; a worker should instead return and exit 0, which the supervisor reads as a
    clean stop.

    Signal handlers are installed by ``run_worker`` on the main thread instead: the server
    runs on a second thread, where Python cannot install them.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run_worker(
    slot: int,
    sock: socket.socket,
    *,
    app: ASGIApp,
    handlers: HandlerThread,
    board: WorkerBoard,
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
        http=_http_protocol(),
        lifespan="off",
        access_log=False,
        server_header=False,
        log_config=None,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(deadline.seconds) + 5,
    )
    server = WorkerServer(config)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, server.handle_exit)

    def mark_busy(since: float) -> None:
        board.set_busy(slot, since)

    async def serve() -> None:
        handlers.bind(asyncio.get_running_loop(), mark_busy)
        _keep_beating(asyncio.get_running_loop(), server, board, slot, parent)
        # Ready now: the socket already listens, and connections queued on it are served
        # as soon as the loop runs, which is next.
        board.set_ready(slot, os.getpid())
        await server.serve(sockets=[sock])

    def run_loop() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(serve())
        except BaseException:
            log.exception("worker %d: the event loop failed", slot)
            raise
        finally:
            handlers.close()

    loop_thread = threading.Thread(target=run_loop, name="dockyard-loop", daemon=True)
    loop_thread.start()
    handlers.serve_forever()
    loop_thread.join()
    return 0


def _keep_beating(
    loop: asyncio.AbstractEventLoop,
    server: uvicorn.Server,
    board: WorkerBoard,
    slot: int,
    parent: int,
) -> None:
    def tick() -> None:
        board.beat(slot)
        if os.getppid() != parent and not server.should_exit:
            log.warning("the supervisor (pid %d) is gone; worker shutting down", parent)
            server.should_exit = True
        if server.should_exit and board.ready(slot):
            board.set_draining(slot)
        loop.call_later(1.0, tick)

    tick()


def _http_protocol() -> type[asyncio.Protocol] | str:
    """httptools with one write per response (``single_write.py``); h11 without httptools."""
    if not _importable("httptools"):
        return "h11"
    from dockyard.runtime.serve.single_write import (  # noqa: PLC0415 - needs httptools
        SingleWriteHttpToolsProtocol,
    )

    return SingleWriteHttpToolsProtocol


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
