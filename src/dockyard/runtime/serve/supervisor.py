"""The parent process: forks the workers, restarts the ones that die, stops them all.

Why each worker has its own ``SO_REUSEPORT`` socket: with one shared listening socket,
whichever worker wakes first accepts, and a load generator or balancer holding a few
long-lived connections can end up with all of them on one worker while the others idle.
With one socket per worker the kernel spreads connections across the workers by hash.
The supervisor keeps its own copy of every socket, so a restarted worker takes over the
same socket, and connections queued for it while it was down are served, not reset.

Supervision loop: the stop signals and SIGCHLD are blocked and collected with
``sigtimedwait`` (no handler races, and it works as PID 1 in a container, where unhandled
SIGTERM would be ignored). It wakes at least once a second to:

* reap children (including orphans adopted as PID 1) and restart dead workers at once,
  backing off exponentially (to 30 s) when one keeps dying within seconds of starting;
* watch the worker board (``board.py``): a worker whose handler has been running for the
  request timeout plus 5 s is stuck where the timeout could not interrupt it, and one
  whose event loop has not run for as long is wedged; either is killed (and so
  restarted).

Memory: each worker's peak RSS is logged when it exits (from ``wait4``) and kept on the
board for ``GET /dockyard/stats`` (``stats.py``); on stop the supervisor logs its own peak,
the largest worker's and, where the cgroup records it, the whole container's.

On SIGTERM or SIGINT: close the supervisor's copies of the sockets, send SIGTERM to every
worker (each stops accepting, finishes its in-flight requests and exits), wait for them
-- SIGKILL for any still running after the timeout plus 10 s -- and return 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import NoReturn

from dockyard.runtime.serve.app import ASGIApp, DirectPath
from dockyard.runtime.serve.board import WorkerBoard
from dockyard.runtime.serve.deadline import Deadline
from dockyard.runtime.serve.handlers import Handlers
from dockyard.runtime.serve.stats import container_memory, megabytes
from dockyard.runtime.serve.worker import run_worker

log = logging.getLogger("dockyard.serve")

WATCHDOG_GRACE_S = 5.0
DRAIN_GRACE_S = 10.0
QUICK_EXIT_S = 5.0
MAX_BACKOFF_S = 30.0
BACKLOG = 2048
_STOP = frozenset({signal.SIGTERM, signal.SIGINT})
_WAKE = frozenset({signal.SIGCHLD, *_STOP})


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on host:port (SO_REUSEPORT), or one shared without it."""
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    sockets: list[socket.socket] = []
    try:
        for _ in range(count if reuse_port else 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets * count if not reuse_port else sockets


@dataclass
class _Worker:
    slot: int
    sock: socket.socket
    pid: int = 0
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    killed: bool = False


class Supervisor:
    """Runs one worker per socket until a stop signal; ``run`` returns the exit status."""

    def __init__(
        self,
        sockets: list[socket.socket],
        app: ASGIApp,
        deadline: Deadline,
        handlers: Handlers,
        board: WorkerBoard,
        direct: DirectPath | None = None,
    ) -> None:
        """``direct``: the invocations' direct path (``direct.py``), None for ASGI only."""
        self._workers = [_Worker(slot, sock) for slot, sock in enumerate(sockets)]
        self._by_pid: dict[int, _Worker] = {}
        self._app = app
        self._deadline = deadline
        self._handlers = handlers
        self._board = board
        self._direct = direct
        self._pid = os.getpid()
        self._mask: set[int] = set()

    def run(self) -> int:
        self._mask = {int(sig) for sig in signal.pthread_sigmask(signal.SIG_BLOCK, _WAKE)}
        for worker in self._workers:
            self._spawn(worker)
        while True:
            info = signal.sigtimedwait(_WAKE, 1.0)
            if info is not None and info.si_signo in _STOP:
                name = signal.Signals(info.si_signo).name
                log.info("%s received: draining in-flight requests", name)
                break
            self._reap(restart=True)
            self._restart_due()
            self._watch()
        return self._stop()

    def _spawn(self, worker: _Worker) -> None:
        self._board.clear(worker.slot)
        self._board.beat(worker.slot)
        pid = os.fork()
        if pid == 0:
            self._become_worker(worker)
        worker.pid, worker.started, worker.killed = pid, time.monotonic(), False
        self._by_pid[pid] = worker

    def _become_worker(self, worker: _Worker) -> NoReturn:
        code = 1
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for other in self._workers:
                if other.sock is not worker.sock:
                    other.sock.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            code = run_worker(
                worker.slot,
                worker.sock,
                app=self._app,
                handlers=self._handlers,
                board=self._board,
                deadline=self._deadline,
                parent=self._pid,
                direct=self._direct,
            )
        except BaseException:
            log.exception("worker %d failed", worker.slot)
        finally:
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
            os._exit(code)

    def _reap(self, restart: bool) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._by_pid.pop(pid, None)
            if worker is None:
                continue  # an orphan this process adopted as PID 1
            worker.pid = 0
            self._board.record_exit(worker.slot, usage.ru_maxrss)
            if restart:
                self._schedule_restart(worker, pid, status, usage.ru_maxrss)
            else:
                log.info(
                    "worker %d (pid %d) stopped; peak RSS %s",
                    worker.slot,
                    pid,
                    megabytes(usage.ru_maxrss),
                )

    def _schedule_restart(self, worker: _Worker, pid: int, status: int, peak_kb: int) -> None:
        now = time.monotonic()
        lived = now - worker.started
        worker.failures = worker.failures + 1 if lived < QUICK_EXIT_S else 0
        delay = 0.0 if worker.failures <= 1 else min(MAX_BACKOFF_S, 2.0 ** (worker.failures - 2))
        worker.restart_at = now + delay
        log.error(
            "worker %d (pid %d) %s after %.1f s (peak RSS %s); restarting it%s",
            worker.slot,
            pid,
            _describe(status),
            lived,
            megabytes(peak_kb),
            f" in {delay:g} s" if delay else "",
        )

    def _restart_due(self) -> None:
        now = time.monotonic()
        for worker in self._workers:
            if worker.pid == 0 and worker.restart_at <= now:
                self._spawn(worker)

    def _watch(self) -> None:
        limit = self._deadline.seconds + WATCHDOG_GRACE_S
        for worker in self._workers:
            if not worker.pid or worker.killed:
                continue
            stalled = max(self._board.age(worker.slot), self._board.busy_for(worker.slot))
            if stalled > limit:
                log.error(
                    "worker %d (pid %d) has been stuck for %.0f s, past the %g s timeout: a "
                    "handler is blocked where the timeout cannot interrupt it; killing the "
                    "worker so that a fresh one replaces it",
                    worker.slot,
                    worker.pid,
                    stalled,
                    self._deadline.seconds,
                )
                _signal(worker.pid, signal.SIGKILL)
                worker.killed = True

    def _stop(self) -> int:
        for worker in self._workers:
            worker.sock.close()
        for pid in list(self._by_pid):
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self._deadline.seconds + DRAIN_GRACE_S
        forced = False
        while self._by_pid:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not forced:
                log.error("workers still busy %g s after SIGTERM; killing them", DRAIN_GRACE_S)
                for pid in list(self._by_pid):
                    _signal(pid, signal.SIGKILL)
                forced = True
            signal.sigtimedwait(_WAKE, min(max(remaining, 0.05), 1.0))
            self._reap(restart=False)
        replica = container_memory()["peak_bytes"]
        log.info(
            "model server stopped; peak RSS of the supervisor %s, of the largest worker %s%s",
            megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
            megabytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
            f", of the whole container {megabytes(replica // 1024)}" if replica else "",
        )
        return 0


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"
