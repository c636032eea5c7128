"""The ping guard: answers pings on new connections while the loop is inside a handler,
and hands every other connection to the loop with its request unread."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dockyard.runtime.serve import ping_guard
from dockyard.runtime.serve.app import closing_response, guard_answers
from dockyard.runtime.serve.board import WorkerBoard
from dockyard.runtime.serve.ping_guard import PingGuard

pytestmark = pytest.mark.unit


class Worker:
    """What the guard sees of a worker: a busy mark, the app's answers, the hand-over."""

    def __init__(self) -> None:
        self.busy = 0.0
        self.board = WorkerBoard(1)
        self.board.beat(0)
        self.board.set_ready(0, os.getpid())
        self.answer = guard_answers(self.board, 60, os.getpid())
        self.handed_over: list[socket.socket] = []
        self.handed = threading.Event()

    def busy_for(self) -> float:
        return self.busy

    def hand_over(self, conn: socket.socket) -> None:
        self.handed_over.append(conn)
        self.handed.set()


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)  # as the event loop leaves it
    yield sock
    sock.close()


@pytest.fixture
def worker(listening: socket.socket) -> Iterator[Worker]:
    state = Worker()
    guard = PingGuard(listening, state.busy_for, state.answer, state.hand_over)
    guard.start()
    yield state
    guard.stop()
    for conn in state.handed_over:
        conn.close()


def _exchange(sock: socket.socket, *parts: bytes) -> bytes:
    """Send ``parts`` (a pause between them) on a new connection; all that comes back."""
    with socket.create_connection(sock.getsockname(), timeout=10) as conn:
        for index, part in enumerate(parts):
            if index:
                time.sleep(0.1)
            conn.sendall(part)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_a_ping_is_answered_while_the_handler_runs_and_the_connection_closed(
    listening: socket.socket, worker: Worker
) -> None:
    worker.busy = 30.0
    answer = _exchange(listening, b"GET /ping HTTP/1.1\r\nHost: replica\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 0\r\n" in answer and b"connection: close\r\n" in answer
    assert answer.endswith(b"\r\n\r\n")


def test_the_answer_is_503_with_the_error_body_when_no_worker_can_serve(
    listening: socket.socket, worker: Worker
) -> None:
    worker.busy = 30.0
    worker.board.set_draining(0)  # the only worker: none can serve
    answer = _exchange(listening, b"GET /ping?deep=1 HTTP/1.1\r\nHost: r\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b'"error": "Unavailable"' in body


def test_head_gets_the_headers_only_and_a_head_split_in_two_is_still_a_ping(
    listening: socket.socket, worker: Worker
) -> None:
    worker.busy = 30.0
    answer = _exchange(listening, b"HEAD /pi", b"ng HTTP/1.1\r\nHost: r\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n")


def test_the_stats_are_answered_too_showing_the_busy_worker(
    listening: socket.socket, worker: Worker
) -> None:
    worker.busy = 30.0
    worker.board.set_busy(0, time.monotonic() - 30)
    answer = _exchange(listening, b"GET /dockyard/stats HTTP/1.1\r\nHost: r\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(body)["workers"][0]["busy_s"] >= 30


def test_the_closing_response_of_a_static_reply_is_whole_http() -> None:
    start = {"type": "http.response.start", "status": 404, "headers": [(b"x-a", b"1")]}
    raw = closing_response((start, {"type": "http.response.body", "body": b"gone"}))
    assert raw == b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\nconnection: close\r\n\r\ngone"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /invocations HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]",
        b"GET /ping HTTP/1.1\r\nContent-Length: 2\r\n\r\nxx",  # a ping with a body
        b"GET /pingpong HTTP/1.1\r\n\r\n",
    ],
)
def test_anything_else_goes_to_the_loop_with_its_request_unread(
    listening: socket.socket, worker: Worker, request_bytes: bytes
) -> None:
    worker.busy = 30.0
    with socket.create_connection(listening.getsockname(), timeout=10) as client:
        client.sendall(request_bytes)
        assert worker.handed.wait(5)
        (conn,) = worker.handed_over
        conn.setblocking(True)
        conn.settimeout(5)
        assert conn.recv(65536) == request_bytes


def test_an_idle_worker_leaves_new_connections_to_its_loop(
    listening: socket.socket, worker: Worker
) -> None:
    with socket.create_connection(listening.getsockname(), timeout=10) as client:
        client.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        time.sleep(3 * ping_guard.POLL_S + ping_guard.STEP_IN_AFTER_S)
        listening.setblocking(True)
        listening.settimeout(5)
        accepted, _ = listening.accept()  # still queued: the guard did not take it
        accepted.close()
    assert worker.handed_over == []


def test_a_stopped_guard_stands_in_no_more(listening: socket.socket) -> None:
    state = Worker()
    state.busy = 30.0
    guard = PingGuard(listening, state.busy_for, state.answer, state.hand_over)
    guard.start()
    guard.stop()
    time.sleep(3 * ping_guard.POLL_S)
    with socket.create_connection(listening.getsockname(), timeout=10):
        time.sleep(3 * ping_guard.POLL_S)
        listening.setblocking(True)
        listening.settimeout(5)
        accepted, _ = listening.accept()
        accepted.close()
