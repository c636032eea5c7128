"""The ASGI application: ``GET /ping`` and ``POST /invocations``, plus ``GET /dockyard/stats``.

Written against raw ASGI rather than a framework because every microsecond of routing,
request objects and response classes is paid on each prediction. What is static is built
once (the ping reply, the 404/405 replies, the Content-Type header of each codec); per
request the app scans the header list once, reads the body, runs the handler chain with
the deadline armed (on the event loop: ``handlers.py``), and sends two messages. While a
long handler keeps the loop busy, the worker's ping guard answers ``/ping``
(``ping_guard.py``).

Status codes: 200; 400 bad body; 404 unknown path; 405 wrong method (with ``Allow``);
406/415 from the codecs; 413 over the payload limit (judged from Content-Length before
reading, and by counting as the body streams in, for chunked uploads); 500 for an error
in user or model code (with its message and traceback, which also goes to stderr); 504
when the handler runs past the timeout (see ``deadline.py``). Every error body is the
toolkit's ``{"error": ..., "error-message": ...}`` (with ``message`` and, for 415/406
and errors in user code, ``stack-trace``; ``errors.py``). No exception escapes to the
server: one bad request never takes a worker down.

Health (``GET /ping``): 200 with an empty body while at least one worker of this replica
can serve, 503 otherwise. A worker can serve when it is alive and running its server
(it marks itself ready on the worker board, ``board.py``, as it starts), its event loop
beats, and its handler has not been running past the timeout. The worker answering the
ping reads every worker's record, so it also knows about the others. What this can and
cannot say, honestly:

* a ping is served by the worker whose socket the kernel picked; while a worker is
  inside a long prediction, its ping guard answers pings on new connections
  (``ping_guard.py``, with ``guard_answers`` below), so a busy replica stays in the load
  balancer. Every ping answer closes its connection (``Connection: close``) so that a
  checker that keeps connections alive still sends its next ping on a new one, which
  the guard can take, rather than on one a busy loop holds;
* when every worker is stuck in a handler past the timeout (the watchdog is about to
  replace them), a ping reaching any of them gets 503 at once;
* a ping that lands on a dead worker's socket waits there: the supervisor keeps the
  socket so that queued connections are served by the replacement (at once after a first
  crash, after a back-off of up to 30 s when a worker keeps crashing). If no replacement
  comes within the balancer's check timeout, the check fails -- the right answer, since
  an invocation queued there would wait just as long.

Multi-model servers (``SAGEMAKER_MULTI_MODEL=true``) also answer the ``/models`` routes,
and ``/invocations`` there serves the model the ``X-Amzn-SageMaker-Target-Model`` header
names (``multi_model.py``).

The replica is ready only after its model is loaded: the model is loaded before the
sockets are bound (``main.py``), so before that a ping is refused, never answered 200.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from dockyard.runtime.serve.batching import Batcher
from dockyard.runtime.serve.board import WorkerBoard
from dockyard.runtime.serve.chain import HandlerChain, Header, Reply, error_reply
from dockyard.runtime.serve.config import MAX_PAYLOAD_BYTES
from dockyard.runtime.serve.deadline import Deadline
from dockyard.runtime.serve.errors import (
    HandlerTimeout,
    InvocationError,
    PayloadTooLargeError,
    error_body,
)
from dockyard.runtime.serve.handlers import Handlers
from dockyard.runtime.serve.models_routes import model_path, models_route
from dockyard.runtime.serve.multi_model import MultiModel
from dockyard.runtime.serve.stacking import Request, StackedPredictor
from dockyard.runtime.serve.stats import stats_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The direct path's answer to one invocation (``direct.py``): body and headers in.
AnswerNow = Callable[[bytes, Sequence[Header]], Reply]
#: ... and to a batch of them: (body, headers) each, one reply each, in order.
AnswerBatchNow = Callable[[Sequence[tuple[bytes, Sequence[Header]]]], list[Reply]]


@dataclass(frozen=True)
class DirectPath:
    """What a worker needs to answer invocations on the HTTP protocol's direct path
    (``direct.py``): ``answer`` one at a time, or ``answer_batch`` with batching on."""

    max_body: int
    answer: AnswerNow | None = None
    answer_batch: AnswerBatchNow | None = None
    batch_size: int = 1
    batch_wait_s: float = 0.0


log = logging.getLogger("dockyard.serve")

_JSON = b"application/json"
#: Dockyard's own route (memory and worker state, ``stats.py``); outside SageMaker's names.
STATS_PATH = "/dockyard/stats"
_STATS_PATH_BYTES = STATS_PATH.encode()
#: Each known status's HTTP/1.1 status line, built once (written by hand on the paths
#: that skip the ASGI cycle).
STATUS_LINES = {
    status.value: b"HTTP/1.1 %d %s" % (status.value, status.phrase.encode())
    for status in HTTPStatus
}


def _static(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> tuple[Message, Message]:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if body:
        headers.insert(0, (b"content-type", _JSON))
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


_CLOSE = (b"connection", b"close")
_PING = _static(200, b"", _CLOSE)
_UNAVAILABLE = _static(
    503,
    error_body(
        "Unavailable",
        "no worker of this model server can serve right now: every one is restarting or "
        "stuck in a handler past the timeout",
    ),
    _CLOSE,
)
_NOT_FOUND = _static(
    404,
    error_body(
        "NotFound",
        f"the model server answers GET /ping, POST /invocations and GET {STATS_PATH}",
    ),
)
_PING_METHOD = _static(
    405, error_body("MethodNotAllowed", "/ping answers GET"), (b"allow", b"GET, HEAD")
)
_STATS_METHOD = _static(
    405, error_body("MethodNotAllowed", f"{STATS_PATH} answers GET"), (b"allow", b"GET")
)
_INVOKE_METHOD = _static(
    405, error_body("MethodNotAllowed", "/invocations answers POST"), (b"allow", b"POST")
)


def guard_answers(
    board: WorkerBoard, timeout_s: float, supervisor: int
) -> Callable[[bytes, bool], bytes | None]:
    """What the ping guard (``ping_guard.py``) may answer for a busy worker: a ``GET`` or
    ``HEAD`` of ``/ping`` or of the stats route, as the app would, as a whole response on
    a connection closed after it; None for any other path (the loop answers those)."""

    def answer(path: bytes, head_only: bool) -> bytes | None:
        if path == b"/ping":
            return closing_response(
                _PING if board.any_can_serve(timeout_s) else _UNAVAILABLE, head_only
            )
        if path == _STATS_PATH_BYTES:
            return closing_response(_static(200, stats_body(board, supervisor)), head_only)
        return None

    return answer


def closing_response(static: tuple[Message, Message], head_only: bool = False) -> bytes:
    """A static reply as raw HTTP/1.1 with ``Connection: close`` (the body left out for
    ``HEAD``)."""
    start, body = static
    status = int(start["status"])
    lines = [STATUS_LINES[status]]
    lines += [name + b": " + value for name, value in start["headers"]]
    if _CLOSE not in start["headers"]:
        lines.append(b"connection: close")
    lines += [b"", b""]
    return b"\r\n".join(lines) + (b"" if head_only else bytes(body["body"]))


def build_app(
    chain: HandlerChain | None,
    max_body: int,
    deadline: Deadline,
    handlers: Handlers,
    board: WorkerBoard,
    batching: tuple[int, float] | None = None,
    models: MultiModel | None = None,
) -> ASGIApp:
    """The ASGI callable serving ``chain``, or ``models`` for a multi-model server;
    bodies over ``max_body`` bytes get 413.

    Invocations run through ``handlers`` (busy marks for the watchdog and the ping guard).
    ``/ping`` answers 200 while any worker on ``board`` can serve, else 503 (see
    ``health``). ``batching``: (size, wait in seconds) to gather invocations into
    batches (``batching.py``), for a chain whose ``batch_refusal`` is None.
    """
    invocations = _Invocations(chain, max_body, deadline, handlers, batching, models)
    can_serve, timeout_s = board.any_can_serve, deadline.seconds
    supervisor = os.getpid()  # built in the supervisor, before the workers fork

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/invocations":
            if scope["method"] == "POST":
                await invocations(scope, receive, send)
                return
            static = _INVOKE_METHOD
        elif path == "/ping":
            if scope["method"] in ("GET", "HEAD"):
                static = _PING if can_serve(timeout_s) else _UNAVAILABLE
            else:
                static = _PING_METHOD
        elif models is not None and (path == "/models" or path.startswith("/models/")):
            name, action = model_path(scope)
            if action == "invoke" and scope["method"] == "POST":
                await invocations(scope, receive, send, name)
            else:
                await _send_reply(send, await models_route(models, handlers, scope, receive))
            return
        elif path == STATS_PATH:
            if scope["method"] == "GET":
                body = stats_body(board, supervisor)
                static = _static(200, body)
            else:
                static = _STATS_METHOD
        else:
            static = _NOT_FOUND
        await send(static[0])
        await send(static[1])

    return app


def direct_path(
    chain: HandlerChain,
    max_body: int,
    deadline: Deadline,
    handlers: Handlers,
    batching: tuple[int, float] | None = None,
) -> DirectPath:
    """``POST /invocations`` for the HTTP protocol's direct path (``direct.py``): whole
    bodies and their headers in, replies out, computed now -- the same chain, deadline,
    busy marks, batching rules and error replies as the ASGI path. The protocol checks the
    method, path and length (at most ``max_body``) first."""
    invocations = _Invocations(chain, max_body, deadline, handlers, batching)
    if batching is None:
        return DirectPath(max_body, answer=invocations.answer_now)
    size, wait_s = batching
    return DirectPath(
        max_body, answer_batch=invocations.answer_batch_now, batch_size=size, batch_wait_s=wait_s
    )


class _Invocations:
    """``POST /invocations``: headers, body, the chain under the deadline, the reply."""

    def __init__(
        self,
        chain: HandlerChain | None,
        max_body: int,
        deadline: Deadline,
        handlers: Handlers,
        batching: tuple[int, float] | None,
        models: MultiModel | None = None,
    ) -> None:
        self.invoke: Callable[[bytes, str | None, str | None, Any], Reply]
        if models is not None:
            self.invoke = models.invoke_target
            self.invoke_named = models.invoke_named
        elif chain is not None:
            self.invoke = chain.invoke
        else:
            raise ValueError("a model server needs a handler chain or a multi-model layer")
        self.call, self.run = handlers.call, handlers.run
        self.batcher: Batcher | None = None
        if batching is not None and chain is not None:
            self.stacked = StackedPredictor(chain)
            self.batcher = Batcher(*batching, handlers, self._answer_batch)
        self.max_body = max_body
        self.arm, self.disarm = deadline.arm, deadline.disarm
        self.timeout_message = (
            f"the model did not answer within {deadline.seconds:g} s "
            "(SAGEMAKER_MODEL_SERVER_TIMEOUT)"
        )

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, model: str | None = None
    ) -> None:
        """Answer one invocation; ``model``: the one ``POST /models/N/invoke`` names."""
        content_type = accept = None
        length = -1
        expects_continue = False
        raw_headers = scope["headers"]
        for name, value in raw_headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"expect":
                expects_continue = True
        if length > self.max_body:
            # The body is left unread: uvicorn discards it, so the connection stays usable,
            # unless the client waits for "100 Continue" and will never send it.
            error = PayloadTooLargeError(_too_large(self.max_body))
            await _send_error(send, error, close=expects_continue)
            return
        try:
            body = await _read_body(receive, self.max_body)
        except PayloadTooLargeError as exc:
            await _send_error(send, exc)
            return
        if body is None:  # the client went away
            return
        if self.batcher is not None:
            request = Request(body, content_type, accept, raw_headers)
            reply = await self.batcher.submit(request)
        else:
            reply = await self.call(self._answer, body, content_type, accept, raw_headers, model)
        await _send_reply(send, reply)

    def answer_now(self, body: bytes, raw_headers: Sequence[Header]) -> Reply:
        """The reply to one invocation whose body is all here (``direct_path`` above)."""
        content_type, accept = _media_headers(raw_headers)
        return self.run(self._answer, body, content_type, accept, raw_headers, None)

    def answer_batch_now(
        self, invocations: Sequence[tuple[bytes, Sequence[Header]]]
    ) -> list[Reply]:
        """The replies to invocations gathered into one batch (``direct_path`` above)."""
        requests = [
            Request(body, *_media_headers(headers), list(headers)) for body, headers in invocations
        ]
        return self.run(self._answer_batch, requests)

    def _answer(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        raw_headers: Any,
        model: str | None,
    ) -> Reply:
        try:
            self.arm()
            try:
                if model is not None:
                    return self.invoke_named(model, body, content_type, accept, raw_headers)
                return self.invoke(body, content_type, accept, raw_headers)
            finally:
                self.disarm()
        except HandlerTimeout:
            log.error("invocation timed out: %s", self.timeout_message, exc_info=True)
            return Reply(504, _JSON, error_body("Timeout", self.timeout_message))
        except Exception as exc:
            return error_reply(exc)

    def _answer_batch(self, requests: Sequence[Request]) -> list[Reply]:
        """A batch through the handlers: one deadline for all of it (``batching.py``)."""
        try:
            self.arm()
            try:
                return self.stacked(requests)
            finally:
                self.disarm()
        except HandlerTimeout:
            log.error("batch timed out: %s", self.timeout_message, exc_info=True)
            return [Reply(504, _JSON, error_body("Timeout", self.timeout_message))] * len(requests)


def _media_headers(raw_headers: Sequence[Header]) -> tuple[str | None, str | None]:
    """(Content-Type, Accept) of a request, None where absent."""
    content_type = accept = None
    for name, value in raw_headers:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"accept":
            accept = value.decode("latin-1")
    return content_type, accept


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, None if the client disconnected; PayloadTooLarge past ``limit``."""
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLargeError(_too_large(limit))
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(_too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    if reply.headers:
        headers.extend(reply.headers)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _send_error(send: Send, exc: InvocationError, close: bool = False) -> None:
    body = error_body(exc.name, exc.message)
    extra = ((b"connection", b"close"),) if close else ()
    await _send_reply(send, Reply(exc.status, _JSON, body, extra))


def _too_large(limit: int) -> str:
    """The 413 message: the limit, and where it comes from (the contract's two cases)."""
    size = f"the request body is larger than {limit} bytes ({limit / 1048576:g} MB)"
    if limit == MAX_PAYLOAD_BYTES:
        return (
            f"{size}, SageMaker's limit for a real-time invocation "
            "(SAGEMAKER_MAX_PAYLOAD_IN_MB changes it only in a batch transform job); "
            "send fewer rows per request"
        )
    return (
        f"{size}, the batch transform job's MaxPayloadInMB (SAGEMAKER_MAX_PAYLOAD_IN_MB); "
        "split the input into smaller records or raise MaxPayloadInMB"
    )
