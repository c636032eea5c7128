"""The invocations' direct path: answered inside the parser's callbacks, no ASGI cycle;
everything else still through uvicorn's ASGI path."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from dockyard.runtime.serve.app import DirectPath
from dockyard.runtime.serve.chain import Reply
from dockyard.runtime.serve.direct import direct_protocol

pytestmark = pytest.mark.unit

MAX_BODY = 64


class Transport:
    """The connection's side: every byte written, and whether it was closed."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def writelines(self, chunks: list[bytes]) -> None:
        self.data += b"".join(chunks)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name in ("sockname", "peername") else default


class Connection:
    """One connection to a direct-path protocol; what reached the handler and the app."""

    def __init__(self, reply: Reply | None = None, batch_size: int = 0) -> None:
        self.answered: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []
        self.batches: list[int] = []  # the size of each batch answered
        self.batch_size = batch_size
        self.asgi_paths: list[str] = []
        self.reply = reply or Reply(200, b"application/json", b"[0]")
        self.state = ServerState()
        self.state.default_headers = [(b"date", b"Tue, 01 Dec 2026 12:00:00 GMT")]  # the server's

    def answer_now(self, body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Reply:
        self.answered.append((body, list(headers)))
        return self.reply

    def answer_batch(
        self, requests: Sequence[tuple[bytes, Sequence[tuple[bytes, bytes]]]]
    ) -> list[Reply]:
        self.batches.append(len(requests))
        return [self.answer_now(body, headers) for body, headers in requests]

    def path(self) -> DirectPath:
        if self.batch_size:
            return DirectPath(MAX_BODY, answer_batch=self.answer_batch, batch_size=self.batch_size)
        return DirectPath(MAX_BODY, answer=self.answer_now)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.asgi_paths.append(scope["path"])
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"asgi"})

    def send(self, *chunks: bytes, shutdown_after_first: bool = False) -> Transport:
        """Feed ``chunks`` to a new connection, let the loop settle; the transport."""
        return asyncio.run(self._send(chunks, shutdown_after_first))

    def send_together(
        self, requests: Sequence[bytes], lose: int | None = None, shutdown: bool = False
    ) -> list[Transport]:
        """Each of ``requests`` on its own connection, all read in one loop step (then
        connection ``lose`` is lost, or a graceful shutdown starts); the transports."""
        return asyncio.run(self._send_together(requests, lose, shutdown))

    def _protocols(self, count: int) -> list[Any]:
        config = Config(
            app=self.app, interface="asgi3", lifespan="off", proxy_headers=False, log_config=None
        )
        config.load()
        protocol_class: Any = direct_protocol(self.path())
        protocols = []
        for _ in range(count):
            protocol = protocol_class(config=config, server_state=self.state, app_state={})
            protocol.connection_made(Transport())
            protocols.append(protocol)
        return protocols

    async def _send(self, chunks: Sequence[bytes], shutdown_after_first: bool) -> Transport:
        (protocol,) = self._protocols(1)
        for index, chunk in enumerate(chunks):
            protocol.data_received(chunk)
            if index == 0 and shutdown_after_first:
                protocol.shutdown()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        protocol._unset_keepalive_if_required()
        return protocol.transport._transport  # type: ignore[no-any-return] # under the gathering one

    async def _send_together(
        self, requests: Sequence[bytes], lose: int | None, shutdown: bool
    ) -> list[Transport]:
        protocols = self._protocols(len(requests))
        for protocol, request in zip(protocols, requests, strict=True):
            protocol.data_received(request)
        if lose is not None:
            protocols[lose].connection_lost(ConnectionResetError())
        if shutdown:
            for protocol in protocols:
                protocol.shutdown()
        await asyncio.sleep(0.01)
        for protocol in protocols:
            protocol._unset_keepalive_if_required()
        return [protocol.transport._transport for protocol in protocols]


def _post(body: bytes, *headers: bytes, version: bytes = b"1.1") -> bytes:
    head = [b"POST /invocations HTTP/" + version, b"Host: x", b"Content-Type: application/json"]
    head += [b"Content-Length: %d" % len(body), *headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_an_invocation_is_answered_in_the_callback_without_an_asgi_task() -> None:
    connection = Connection()
    transport = connection.send(_post(b"[[1, 2]]", b"Accept: application/json"))
    ((body, headers),) = connection.answered
    assert body == b"[[1, 2]]"
    assert (b"accept", b"application/json") in headers
    assert connection.asgi_paths == []
    head, _, answer = transport.data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"content-type: application/json" in lines and b"content-length: 3" in lines
    assert b"date: Tue, 01 Dec 2026 12:00:00 GMT" in lines
    assert answer == b"[0]" and not transport.closed
    assert connection.state.total_requests == 1


def test_a_body_in_pieces_and_pipelined_requests_are_answered_in_order() -> None:
    connection = Connection()
    request = _post(b"[[1, 2]]")
    ping = b"GET /ping HTTP/1.1\r\n\r\n"
    transport = connection.send(request[:-3], request[-3:] + request + ping)
    assert [body for body, _ in connection.answered] == [b"[[1, 2]]", b"[[1, 2]]"]
    assert connection.asgi_paths == ["/ping"]
    assert transport.data.count(b"HTTP/1.1 200 OK") == 3
    assert transport.data.endswith(b"asgi")


def test_http_1_0_and_connection_close_get_the_answer_then_the_close() -> None:
    for request in (_post(b"[]", version=b"1.0"), _post(b"[]", b"Connection: close")):
        connection = Connection()
        transport = connection.send(request)
        assert b"\r\nconnection: close\r\n" in transport.data
        assert transport.data.endswith(b"[0]") and transport.closed


@pytest.mark.parametrize(
    ("request_bytes", "path"),
    [
        (b"GET /ping HTTP/1.1\r\n\r\n", "/ping"),
        (b"POST /invocations?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", "/invocations"),
        (
            b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
            "/invocations",
        ),
        (_post(b"[]", b"Expect: 100-continue"), "/invocations"),
        (_post(b"x" * (MAX_BODY + 1)), "/invocations"),  # the ASGI path answers 413
    ],
)
def test_everything_but_a_plain_invocation_goes_through_the_asgi_app(
    request_bytes: bytes, path: str
) -> None:
    connection = Connection()
    transport = connection.send(request_bytes)
    assert connection.answered == []
    assert connection.asgi_paths == [path]
    assert transport.data.endswith(b"asgi")


def test_a_reply_http_cannot_carry_becomes_a_500() -> None:
    bad = Reply(200, b"text/plain", b"ok", [(b"bad name", b"v")])
    transport = Connection(bad).send(_post(b"[]"))
    assert transport.data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"bad name" not in transport.data


def test_a_shutdown_while_the_body_arrives_answers_it_then_closes() -> None:
    connection = Connection()
    request = _post(b"[[1, 2]]")
    transport = connection.send(request[:-4], request[-4:], shutdown_after_first=True)
    assert transport.data.endswith(b"[0]") and b"connection: close" in transport.data
    assert transport.closed


def test_requests_read_together_are_answered_in_one_batch_each_on_its_connection() -> None:
    connection = Connection(batch_size=32)
    bodies = [b"[[%d]]" % index for index in range(5)]
    transports = connection.send_together([_post(body) for body in bodies])
    assert connection.batches == [5]
    assert [body for body, _ in connection.answered] == bodies
    assert all(
        t.data.startswith(b"HTTP/1.1 200 OK") and t.data.endswith(b"[0]") for t in transports
    )
    assert connection.asgi_paths == [] and connection.state.total_requests == 5


def test_a_full_batch_is_answered_at_once_and_the_rest_makes_the_next() -> None:
    connection = Connection(batch_size=2)
    transports = connection.send_together([_post(b"[[1]]")] * 5)
    assert connection.batches == [2, 2, 1]
    assert all(t.data.endswith(b"[0]") for t in transports)


def test_a_request_pipelined_behind_a_waiting_one_is_answered_after_it() -> None:
    connection = Connection(batch_size=32)
    (transport,) = connection.send_together([_post(b"[[1]]") + b"GET /ping HTTP/1.1\r\n\r\n"])
    assert connection.batches == [1] and connection.asgi_paths == ["/ping"]
    first, second = transport.data.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"[0]") and second.endswith(b"asgi")


def test_a_lost_connection_gets_no_answer_and_the_others_do() -> None:
    connection = Connection(batch_size=32)
    transports = connection.send_together([_post(b"[[1]]")] * 3, lose=1)
    assert connection.batches == [3]
    assert [t.data.endswith(b"[0]") for t in transports] == [True, False, True]


def test_a_shutdown_while_requests_wait_answers_them_then_closes() -> None:
    connection = Connection(batch_size=32)
    transports = connection.send_together([_post(b"[[1]]")] * 2, shutdown=True)
    for transport in transports:
        assert transport.data.endswith(b"[0]") and b"connection: close" in transport.data
        assert transport.closed
