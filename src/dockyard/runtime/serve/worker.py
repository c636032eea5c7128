"""One worker process: a uvicorn server on its own listening socket.

Runs in a child forked by the supervisor after the model was loaded, so the model's
memory is shared copy-on-write and the worker is ready the moment it starts.

The event loop (uvicorn) runs on the main thread and runs the handlers itself
(``handlers.py`` says why); the per-invocation timeout is a ``SIGALRM``, which Python
delivers on the main thread, so it interrupts the handler. A second thread, the ping
guard (``ping_guard.py``), answers ``GET /ping`` while a handler keeps the loop busy.

uvicorn settings and why: httptools and uvloop when importable (the fastest parser and
loop), the httptools protocol writing each response in one system call
(``single_write.py``); no lifespan (nothing to start: the model is already loaded); no
access log, no Server header and no proxy-header rewriting (per-request work nobody
reads: the model server answers its balancer, and the contract passes no client address
to the handlers); keep-alive 75 s, longer than the idle timeouts of the load balancers
usually put in front (60 s), so the server never closes a connection a balancer is about
to reuse; graceful shutdown bounded by the request timeout plus a margin, so a draining
worker finishes its in-flight request and then exits.

The worker also keeps two promises to the supervisor: it writes a heartbeat once a
second from its event loop (a stale heartbeat with no handler running means the loop is
stuck) and marks on the board while a handler runs (a handler running past the timeout
is stuck), and it shuts down gracefully when its parent disappears (``PR_SET_PDEATHSIG``
on Linux, and a parent-pid check on every heartbeat everywhere), so no worker outlives
the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn

from dockyard.runtime.serve.app import ASGIApp, DirectPath, guard_answers
from dockyard.runtime.serve.board import WorkerBoard
from dockyard.runtime.serve.deadline import Deadline
from dockyard.runtime.serve.handlers import Handlers
from dockyard.runtime.serve.ping_guard import PingGuard

log = logging.getLogger("dockyard.serve")

KEEP_ALIVE_S = 75


class WorkerServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after a graceful shutdown.

    uvicorn re-delivers a captured SIGTERM once it has drained, so that the process dies
    of it; a worker should instead return and exit 0, which the supervisor reads as a
    clean stop.

    Signal handlers are installed by ``run_worker`` instead, before the loop starts.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run_worker(
    slot: int,
    sock: socket.socket,
    *,
    app: ASGIApp,
    handlers: Handlers,
    board: WorkerBoard,
    deadline: Deadline,
    parent: int,
    direct: DirectPath | None = None,
) -> int:
    """Serve ``app`` on ``sock`` until told to stop; the process's exit status.

    ``parent`` is the supervisor's pid as the supervisor knows it, so a parent that died
    between fork and this call is still noticed. ``direct``: the invocations' direct path
    (``direct.py``), or None to serve everything through ``app``.
    """
    _die_with_parent()
    deadline.install()
    config = uvicorn.Config(
        app,
        http=_http_protocol(direct),
        lifespan="off",
        access_log=False,
        server_header=False,
        proxy_headers=False,
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
        loop = asyncio.get_running_loop()
        handlers.bind(mark_busy)
        guard = PingGuard(
            sock,
            lambda: board.busy_for(slot),
            guard_answers(board, deadline.seconds, parent),
            lambda conn: _hand_over(loop, server, conn),
        )
        guard.start()
        _keep_beating(loop, server, board, slot, parent, guard)
        # Ready now: the socket already listens, and connections queued on it are served
        # as soon as the loop runs, which is next.
        board.set_ready(slot, os.getpid())
        try:
            await server.serve(sockets=[sock])
        finally:
            guard.stop()

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve())
    except BaseException:
        log.exception("worker %d: the event loop failed", slot)
        raise
    return 0


def _hand_over(
    loop: asyncio.AbstractEventLoop, server: uvicorn.Server, conn: socket.socket
) -> None:
    """From the ping guard's thread: have the loop serve ``conn`` once it is free."""
    try:
        loop.call_soon_threadsafe(_adopt, server, conn)
    except RuntimeError:  # the loop has closed: the worker is exiting; the client sees a close
        conn.close()


def _adopt(server: uvicorn.Server, conn: socket.socket) -> None:
    """Serve a connection the ping guard accepted (its request unread) like any other."""
    config = server.config

    def protocol() -> asyncio.Protocol:
        made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=server.server_state, app_state=server.lifespan.state
        )
        return made

    loop = asyncio.get_running_loop()
    task = loop.create_task(loop.connect_accepted_socket(protocol, conn))
    _adopting.add(task)
    task.add_done_callback(_adopted)


_adopting: set[asyncio.Task[object]] = set()  # the loop keeps only weak references


def _adopted(task: asyncio.Task[object]) -> None:
    _adopting.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a connection the ping guard accepted was lost: %s", task.exception())


def _keep_beating(
    loop: asyncio.AbstractEventLoop,
    server: uvicorn.Server,
    board: WorkerBoard,
    slot: int,
    parent: int,
    guard: PingGuard,
) -> None:
    def tick() -> None:
        board.beat(slot)
        if os.getppid() != parent and not server.should_exit:
            log.warning("the supervisor (pid %d) is gone; worker shutting down", parent)
            server.should_exit = True
        if server.should_exit and board.ready(slot):
            board.set_draining(slot)
            guard.stop()
        loop.call_later(1.0, tick)

    tick()


def _http_protocol(direct: DirectPath | None) -> type[asyncio.Protocol] | str:
    """httptools with one write per response (``single_write.py``) and, when given, the
    invocations' direct path (``direct.py``); h11 (ASGI only) without httptools."""
    if not _importable("httptools"):
        return "h11"
    from dockyard.runtime.serve.single_write import (  # noqa: PLC0415 - needs httptools
        SingleWriteHttpToolsProtocol,
    )

    if direct is None:
        return SingleWriteHttpToolsProtocol
    from dockyard.runtime.serve.direct import direct_protocol  # noqa: PLC0415 - same

    return direct_protocol(direct)


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
