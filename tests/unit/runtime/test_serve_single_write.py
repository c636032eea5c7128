"""One write per response: the gathering transport, and the real server behind it."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import TYPE_CHECKING, Any

import pytest

from dockyard.runtime.serve.single_write import GatheringTransport

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import ServerProcess

pytestmark = pytest.mark.unit


class RecordingTransport:
    """The real transport's side: what reached it, and in how many calls."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.calls.append([data])

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(list(chunks))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else default


def _gathering() -> tuple[GatheringTransport, RecordingTransport, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    real = RecordingTransport()
    return GatheringTransport(real, loop), real, loop  # type: ignore[arg-type]


def _one_step(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_writes_of_one_step_reach_the_transport_in_one_call() -> None:
    gathering, real, loop = _gathering()
    try:
        gathering.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")
        gathering.write(b"[0]")
        assert real.calls == []
        _one_step(loop)
        assert real.calls == [[b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", b"[0]"]]
        gathering.write(b"next")
        _one_step(loop)
        assert real.calls[1] == [b"next"]
    finally:
        loop.close()


def test_close_sends_what_was_gathered_first() -> None:
    gathering, real, loop = _gathering()
    try:
        gathering.write(b"head")
        gathering.write(b"body")
        gathering.close()
        assert real.calls == [[b"head", b"body"]]
        assert real.closed
        _one_step(loop)  # the scheduled flush finds nothing left
        assert len(real.calls) == 1
    finally:
        loop.close()


def test_abort_drops_what_was_gathered() -> None:
    gathering, real, loop = _gathering()
    try:
        gathering.write(b"head")
        gathering.abort()
        _one_step(loop)
        assert real.aborted
        assert real.calls == []
    finally:
        loop.close()


def test_empty_writes_are_not_sent_and_other_calls_reach_the_transport() -> None:
    gathering, real, loop = _gathering()
    try:
        gathering.write(b"")
        _one_step(loop)
        assert real.calls == []
        assert gathering.get_extra_info("sockname") == ("127.0.0.1", 8080)
        assert not gathering.is_closing()
    finally:
        loop.close()


def _read_responses(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` HTTP/1.1 responses with Content-Length, as (status line, body)."""
    data = b""
    responses: list[tuple[bytes, bytes]] = []
    while len(responses) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection after {len(responses)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        )
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection inside a body"
            data += chunk
        responses.append((lines[0], data[:length]))
        data = data[length:]
    return responses


def test_pipelined_requests_on_one_connection_are_answered_in_order(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    requests = b""
    for row in rows:
        body = json.dumps([row]).encode()
        requests += (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
    requests += b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(requests)
        answers = _read_responses(sock, len(rows) + 1)
    expected = [server.invoke(json.dumps([row]), "application/json").content for row in rows]
    assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * (len(rows) + 1)
    assert [body for _, body in answers[:-1]] == expected
    assert answers[-1][1] == b""


def test_a_response_with_connection_close_arrives_whole_before_the_close(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    body = b"[[5.1, 3.5, 1.4, 0.2]]"
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(answer) == [0]
