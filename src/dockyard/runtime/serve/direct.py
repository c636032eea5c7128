"""``POST /invocations`` answered inside the HTTP parser's callbacks: no ASGI cycle.

For every request, uvicorn builds an ASGI scope, a request-response cycle object with an
``asyncio.Event``, starts a task, and runs the app's coroutine through ``receive`` and two
``send`` messages, validating each header it writes. On a one-row prediction that is
about a tenth of the replica's CPU. Since handlers run on the event loop anyway
(``handlers.py``), the common invocation needs none of it: once the parser has the whole
body, the protocol hands it to the app's direct path (``direct_path`` in ``app.py``: the
same handler chain, deadline, busy marks, batching rules and error replies as the ASGI
path) and writes the reply:

* unbatched, in the same callback;
* with batching on, the request joins the worker's ``DirectBatch``, which answers all the
  requests the loop read in one pass over its sockets (everything that arrived while the
  previous batch was being predicted) with one ``predict_fn`` call, as soon as the loop
  has finished reading -- or once ``DOCKYARD_BATCH_WAIT_MS`` have passed, or at once when
  the batch is full -- and writes each reply to its connection.

Only the plain case takes this path, decided when the headers are complete:
``POST /invocations`` exactly, a ``Content-Length`` within the payload limit, no
``Expect: 100-continue``, no upgrade, and no earlier request of the connection still
being answered. Everything else -- other routes, chunked or oversized bodies, requests
pipelined behind one still being answered, multi-model servers (which have no direct
path) -- goes through uvicorn's ASGI path unchanged, so its behaviour (413 before
reading, 100-continue, chunked bodies, graceful drain) stays the one place those rules
live.

What the protocol keeps of uvicorn's per-response work: its default headers (``Date``),
keep-alive (``Connection: close`` for HTTP/1.0 and clients that asked, then the
connection is closed), the keep-alive timer and pipelining (``on_response_complete``),
and a graceful shutdown arriving while a request is open closes the connection only
after the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from dockyard.runtime.serve.app import STATUS_LINES, AnswerBatchNow, DirectPath
from dockyard.runtime.serve.chain import Header, Reply
from dockyard.runtime.serve.errors import error_body
from dockyard.runtime.serve.single_write import SingleWriteHttpToolsProtocol

log = logging.getLogger("dockyard.serve")

#: RFC 9110's token: what a header name may be made of.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_JSON = b"application/json"


def direct_protocol(path: DirectPath) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol (one write per response) with the direct path on.

    Called once per worker process: with batching, the class carries that worker's batch.
    """

    class DirectProtocol(_DirectInvocations):
        _path = path
        _batch = (
            DirectBatch(path.answer_batch, path.batch_size, path.batch_wait_s)
            if path.answer_batch is not None
            else None
        )

    return DirectProtocol


class _Waiting:
    """A request of this connection waiting in a batch, standing where uvicorn keeps its
    request-response cycle: uvicorn queues pipelined requests behind it, and marks it
    (``keep_alive``, ``disconnected``) on a graceful shutdown or a lost connection."""

    class _NoEvent:
        def set(self) -> None:
            """Nothing waits on it (uvicorn sets the cycle's event when a connection is lost)."""

    message_event = _NoEvent()

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.disconnected = False
        self.response_complete = False


class _DirectInvocations(SingleWriteHttpToolsProtocol):
    """The direct path; ``direct_protocol`` binds ``_path`` and ``_batch``."""

    _path: DirectPath
    _batch: DirectBatch | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct_body: list[bytes] | None = None  # not None: a direct request is open
        self._close_after = False

    # -- the parser's callbacks ---------------------------------------------------------
    def on_headers_complete(self) -> None:
        if self._takes_direct_path():
            self._direct_body = []
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._direct_body is not None:
            self._direct_body.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._direct_body is None:
            super().on_message_complete()
            return
        chunks, self._direct_body = self._direct_body, None
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        keep_alive = (
            self.parser.get_http_version() != "1.0"
            and self.parser.should_keep_alive()
            and not self._close_after
        )
        if self._batch is not None:
            waiting = _Waiting(keep_alive)
            self.cycle = waiting  # type: ignore[assignment] # what uvicorn looks at
            self._batch.add(self, waiting, body, self.headers)
            return
        answer = self._path.answer
        assert answer is not None  # one of the two is set (DirectPath)
        self._finish(answer(body, self.headers), keep_alive)

    def shutdown(self) -> None:
        if self._direct_body is not None:  # a body is still arriving: answer, then close
            self._close_after = True
            return
        super().shutdown()

    # -- answers --------------------------------------------------------------------------
    def answer_waiting(self, waiting: _Waiting, reply: Reply) -> None:
        """The batch's reply to this connection's waiting request."""
        waiting.response_complete = True
        if waiting.disconnected or self.transport.is_closing():
            return
        self._finish(reply, waiting.keep_alive)

    def _finish(self, reply: Reply, keep_alive: bool) -> None:
        self._respond(reply, keep_alive)
        if not keep_alive:
            self.server_state.total_requests += 1
            self.transport.close()
            return
        self.on_response_complete()  # counts it, re-arms keep-alive, starts a pipelined one

    # -- helpers ------------------------------------------------------------------------
    def _takes_direct_path(self) -> bool:
        if self.url != b"/invocations" or self.parser.get_method() != b"POST":
            return False
        if self.expect_100_continue or self.parser.should_upgrade():
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # an earlier request of this connection is still being answered
        length = -1
        for name, value in self.headers:
            if name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                return False
        return 0 <= length <= self._path.max_body

    def _respond(self, reply: Reply, keep_alive: bool) -> None:
        if not 100 <= reply.status <= 599 or not all(
            _TOKEN.fullmatch(name) for name, _ in reply.headers
        ):
            log.error(
                "the handler's reply cannot be sent (status %d, header names %s); answering 500",
                reply.status,
                [name for name, _ in reply.headers],
            )
            message = "the handler set a status code or header name HTTP cannot carry"
            reply = Reply(500, _JSON, error_body("InternalServerError", message))
        status_line = STATUS_LINES.get(reply.status) or b"HTTP/1.1 %d " % reply.status
        lines = [status_line]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines.append(b"content-type: " + reply.content_type)
        lines.append(b"content-length: %d" % len(reply.body))
        lines += [name + b": " + value for name, value in reply.headers]
        if not keep_alive:
            lines.append(b"connection: close")
        lines += [b"", reply.body]
        self.transport.write(b"\r\n".join(lines))


class DirectBatch:
    """One worker's batch of direct-path invocations (adaptive batching, ``batching.py``
    says why it works this way; here without a task or a future per request).

    The first request of a batch schedules its answer: with no wait, right after the loop
    has run the callbacks of the sockets it found readable, so the batch holds every
    request that arrived together; with a wait, that many seconds later. A full batch is
    answered at once. Handlers run on the loop, so while one batch is predicted nothing is
    read, and what arrives meanwhile makes the next one.
    """

    def __init__(self, answer: AnswerBatchNow, size: int, wait_s: float) -> None:
        self._answer = answer
        self._size = max(1, size)
        self._wait_s = wait_s
        self._pending: list[tuple[_DirectInvocations, _Waiting, bytes, Sequence[Header]]] = []
        self._scheduled: asyncio.Handle | None = None

    def add(
        self,
        protocol: _DirectInvocations,
        waiting: _Waiting,
        body: bytes,
        headers: Sequence[Header],
    ) -> None:
        self._pending.append((protocol, waiting, body, headers))
        if len(self._pending) >= self._size:
            self._answer_pending()
        elif self._scheduled is None:
            self._schedule(protocol.loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._wait_s > 0:
            self._scheduled = loop.call_later(self._wait_s, self._answer_pending)
        else:
            self._scheduled = loop.call_soon(self._answer_pending)

    def _answer_pending(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        batch, self._pending = self._pending[: self._size], self._pending[self._size :]
        if not batch:
            return
        if self._pending:  # more than a full batch: the rest goes next
            self._schedule(batch[0][0].loop)
        try:
            replies = self._answer([(body, headers) for _, _, body, headers in batch])
        except Exception:  # the answer function turns errors into replies; this is a bug
            log.exception("answering a batch failed")
            message = "the model server failed to answer this batch; see its log"
            replies = [Reply(500, _JSON, error_body("InternalServerError", message))] * len(batch)
        for (protocol, waiting, _, _), reply in zip(batch, replies, strict=True):
            protocol.answer_waiting(waiting, reply)
