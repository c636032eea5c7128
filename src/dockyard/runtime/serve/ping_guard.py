"""Answers ``GET /ping`` for a worker whose event loop is inside a long handler.

Handlers run on the event loop (``handlers.py`` says why), so while one runs the loop
answers nothing -- and the contract gives a ping 2 s, after which the load balancer takes
a healthy replica out. So each worker runs a guard thread. It sleeps while the loop is
free; once a handler has run for ``STEP_IN_AFTER_S`` it accepts the new connections on the
worker's listening socket itself, until the handler returns:

* a ``GET`` or ``HEAD`` with no body of a path the app lets it answer (``/ping``, and
  ``/dockyard/stats``, which shows how long the handler has been running; see
  ``guard_answers`` in ``app.py``) is answered there and then, as the app would, and the
  connection is closed;
* anything else is handed to the event loop untouched: the guard only *peeks* at the
  bytes (``MSG_PEEK``), so the loop's HTTP server reads the request from the start once the
  handler returns -- the same wait the request would have had behind the handler anyway.

What it cannot do: a ping on a connection the loop already holds waits for the loop --
one kept alive from an earlier request, or one the loop accepted in the same instant as
the request whose handler then ran long. Load balancers' health checks open a connection
per check (HAProxy's do; and every ping answer closes its connection, ``app.py``), so at
worst one check in a rare race times out and the next, on a new connection, is answered:
a balancer takes a replica out only after several failed checks in a row.

Cost when nothing is slow: one wake-up every ``POLL_S`` to read the busy mark, no
system call on the request path.
"""

from __future__ import annotations

import select
import signal
import socket
import threading
import time
from collections.abc import Callable

#: How long a handler runs before the guard starts answering pings (the contract: 2 s).
STEP_IN_AFTER_S = 0.25
#: How often the guard looks at the busy mark, and at the socket while it stands in.
POLL_S = 0.05
#: How long an accepted connection may take to send a complete request head.
HEAD_WAIT_S = 1.0
MAX_HEAD_BYTES = 8192
#: The stop signals go to the main thread (the event loop's), never to the guard.
_MAIN_THREAD_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGCHLD})


class PingGuard:
    """One worker's guard thread; see the module docstring.

    ``busy_for``: seconds the handler now running has taken (0 when idle);
    ``answer``: the whole response (``Connection: close``) to a ``GET`` of a path, with
    the body left out for ``HEAD``, or None for a path the guard must not answer;
    ``hand_over``: gives an accepted, unread connection to the event loop (thread-safe).
    """

    def __init__(
        self,
        sock: socket.socket,
        busy_for: Callable[[], float],
        answer: Callable[[bytes, bool], bytes | None],
        hand_over: Callable[[socket.socket], None],
    ) -> None:
        self._sock = sock
        self._busy_for = busy_for
        self._answer = answer
        self._hand_over = hand_over
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dockyard-ping-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop standing in (the worker is draining: new connections are not its to take)."""
        self._stopped.set()

    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
        while not self._stopped.wait(POLL_S):
            if self._busy_for() >= STEP_IN_AFTER_S:
                self._stand_in()

    def _stand_in(self) -> None:
        """Accept and answer while the handler keeps the loop busy."""
        while not self._stopped.is_set() and self._busy_for() >= STEP_IN_AFTER_S:
            try:
                readable, _, _ = select.select([self._sock], [], [], POLL_S)
                if not readable:
                    continue
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # the loop, just freed, took it first
            except (OSError, ValueError):
                return  # the socket was closed: the worker is stopping
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            head = _peek_head(conn)
        except OSError:
            conn.close()
            return
        request = _bodiless_get(head) if head is not None else None
        reply = self._answer(*request) if request is not None else None
        if head is None or reply is None:
            self._hand_over(conn)
            return
        try:
            conn.recv(len(head))  # the head is all there is (no body), and it is ours
            conn.settimeout(HEAD_WAIT_S)
            conn.sendall(reply)
        except OSError:
            pass  # the checker went away; nothing to answer
        finally:
            conn.close()


def _peek_head(conn: socket.socket) -> bytes | None:
    """The request head (through the blank line) once it has all arrived, unread; None
    when it does not within ``HEAD_WAIT_S``, is too long, or the peer closed first."""
    deadline = time.monotonic() + HEAD_WAIT_S
    seen = 0
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([conn], [], [], left)
        if not readable:
            return None
        data = conn.recv(MAX_HEAD_BYTES, socket.MSG_PEEK)
        if not data:
            return None
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return data[: end + 4]
        if len(data) >= MAX_HEAD_BYTES or not _could_be_get(data):
            return None
        if len(data) == seen:  # nothing new yet: peeking again would spin
            time.sleep(0.005)
        seen = len(data)
    return None


_GET_METHODS = (b"GET /", b"HEAD /")


def _could_be_get(data: bytes) -> bool:
    return any(method.startswith(data[: len(method)]) for method in _GET_METHODS)


def _bodiless_get(head: bytes) -> tuple[bytes, bool] | None:
    """(path without the query, whether it is ``HEAD``) of a ``GET``/``HEAD`` with no
    request body; None for anything else."""
    request_line, _, headers = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] not in (b"GET", b"HEAD"):
        return None
    if not parts[2].startswith(b"HTTP/1."):
        return None
    for line in headers.lower().split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip() == b"transfer-encoding" or (
            name.strip() == b"content-length" and value.strip() not in (b"", b"0")
        ):
            return None
    return parts[1].split(b"?", 1)[0], parts[0] == b"HEAD"
