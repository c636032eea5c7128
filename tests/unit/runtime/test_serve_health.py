"""``/ping`` while workers are busy, stuck or dead, and the worker board behind it."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from dockyard.runtime.serve.board import STALE_BEAT_S, WorkerBoard
from dockyard.runtime.serve.handlers import Handlers

if TYPE_CHECKING:
    from conftest import ServerProcess

pytestmark = pytest.mark.unit

# "hold DIR": touch DIR/started-<pid>, then wait until DIR/release exists; "hang" blocks the
# timeout's signal and sleeps, like C code that never returns to Python.
HOLD = textwrap.dedent(
    """
    import os
    import signal
    import time


    def transform_fn(model, input_data, content_type, accept):
        words = input_data.decode().split()
        if words[0] == "hold":
            directory = words[1]
            open(os.path.join(directory, f"started-{os.getpid()}"), "w").close()
            while not os.path.exists(os.path.join(directory, "release")):
                time.sleep(0.05)
        if words[0] == "hang":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(60)
        return str(os.getpid()), "text/plain"
    """
)


def _poll(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _fresh_ping(server: ServerProcess, timeout: float = 30) -> int:
    """Status of a ping on a new connection (so the kernel may pick any worker's socket),
    0 when none comes within ``timeout``."""
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=timeout) as client:
            return client.get("/ping").status_code
    except httpx.TransportError:
        return 0


def _stats(server: ServerProcess) -> Any:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
        return client.get("/dockyard/stats").json()


def _invoke_in_background(server: ServerProcess, body: str) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []

    def run() -> None:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=90) as client:
            try:
                response = client.post(
                    "/invocations", content=body, headers={"Content-Type": "text/plain"}
                )
                statuses.append(response.status_code)
            except httpx.TransportError:
                statuses.append(0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, statuses


def test_ping_answers_while_every_worker_is_inside_a_long_prediction(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(code=HOLD, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    requests = [_invoke_in_background(server, f"hold {tmp_path}") for _ in range(8)]
    # Connections spread over the workers by hash: wait until both hold a prediction.
    _poll(lambda: len(list(tmp_path.glob("started-*"))) == 2)
    pings = [_fresh_ping(server) for _ in range(10)]
    still_running = [thread.is_alive() for thread, _ in requests]
    (tmp_path / "release").touch()
    for thread, _ in requests:
        thread.join(timeout=90)
    assert pings == [200] * 10
    assert all(still_running), "the pings were answered while the predictions still ran"
    assert [statuses for _, statuses in requests] == [[200]] * 8


def test_a_checker_that_keeps_connections_alive_gets_its_pings_answered_while_busy(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(code=HOLD, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as checker:
        first = checker.get("/ping")
        thread, statuses = _invoke_in_background(server, f"hold {tmp_path}")
        _poll(lambda: len(list(tmp_path.glob("started-*"))) == 1)
        # The answer closed the connection, so each ping goes on a new one, which the
        # busy worker's guard accepts; a kept-alive one would wait behind the handler.
        pings = [checker.get("/ping").status_code for _ in range(3)]
    (tmp_path / "release").touch()
    thread.join(timeout=90)
    assert first.status_code == 200 and first.headers["connection"] == "close"
    assert pings == [200] * 3
    assert statuses == [200]


@pytest.mark.slow
def test_ping_is_503_while_no_worker_can_serve_then_200_after_the_restart(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(code=HOLD, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1"})
    first = int(server.invoke("pid", "text/plain").text)
    thread, statuses = _invoke_in_background(server, "hang")
    # A ping whose connection the loop accepted together with "hang" waits for the loop
    # (``ping_guard.py``) until the worker is killed; give up on it after the contract's
    # 2 s so that the next ping, on a new connection, meets the guard inside the window.
    _poll(lambda: _fresh_ping(server, timeout=2) == 503)
    _poll(lambda: _fresh_ping(server) == 200)
    thread.join(timeout=90)
    assert statuses == [0]  # the stuck worker was killed with the request
    assert int(server.invoke("pid", "text/plain").text) != first
    assert "stuck" in server.log()


def test_board_says_a_worker_can_serve_only_while_alive_ready_and_not_stuck() -> None:
    board = WorkerBoard(2)
    assert not board.any_can_serve(60)  # nothing started yet
    board.beat(0)
    board.set_ready(0, os.getpid())
    assert board.can_serve(0, 60) and board.any_can_serve(60)
    board.set_busy(0, time.monotonic() - 5)
    assert board.can_serve(0, 60)  # busy within the timeout: still serving
    assert not board.can_serve(0, 1)  # busy past the timeout: stuck
    board.set_busy(0, 0.0)
    board.set_draining(0)
    assert not board.can_serve(0, 60)
    board.set_ready(0, os.getpid())
    board.record_exit(0, peak_kb=2048)
    assert not board.any_can_serve(60)
    assert (board.pid(0), board.restarts(0), board.exited_peak_kb(0)) == (0, 1, 2048)


def test_a_worker_inside_a_handler_still_serves_though_its_loop_cannot_beat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = WorkerBoard(1)
    board.set_ready(0, os.getpid())
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now - 30)
    board.beat(0)  # the last beat, 30 s ago: the loop has been in a handler since
    board.set_busy(0, now - 29)
    monkeypatch.undo()
    assert board.age(0) > STALE_BEAT_S
    assert board.can_serve(0, 60)  # handlers run on the loop: busy is alive
    assert not board.can_serve(0, 20)  # past the timeout: stuck
    board.set_busy(0, 0.0)
    assert not board.can_serve(0, 60)  # idle and not beating: the loop is wedged


def test_handlers_mark_the_worker_busy_for_exactly_the_call() -> None:
    marks: list[float] = []
    handlers = Handlers()
    handlers.bind(marks.append)

    def fail() -> None:
        assert marks[-1] > 0  # busy while it runs
        raise ValueError("model error")

    assert handlers.run(lambda value: value * 2, 21) == 42
    with pytest.raises(ValueError, match="model error"):
        handlers.run(fail)
    assert marks[1::2] == [0.0, 0.0] and all(mark > 0 for mark in marks[::2])


def test_board_written_in_a_forked_worker_is_read_by_its_parent() -> None:
    board = WorkerBoard(2)
    pid = os.fork()
    if pid == 0:
        board.beat(1)
        board.set_ready(1, os.getpid())
        os._exit(0)
    os.waitpid(pid, 0)
    assert board.pid(1) == pid and board.ready(1) and board.age(1) < 5


def test_stats_report_the_memory_of_the_replica_and_of_each_worker(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(code=HOLD, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    response = server.client.get("/dockyard/stats")
    assert response.status_code == 200
    stats = response.json()
    assert stats["supervisor"]["pid"] == server.proc.pid
    assert stats["supervisor"]["peak_rss_bytes"] >= stats["supervisor"]["rss_bytes"] > 0
    workers = stats["workers"]
    assert [w["slot"] for w in workers] == [0, 1]
    assert all(w["ready"] and w["peak_rss_bytes"] >= w["rss_bytes"] > 0 for w in workers)
    assert stats["replica"]["rss_sum_bytes"] >= sum(w["rss_bytes"] for w in workers)
    assert server.client.post("/dockyard/stats").status_code == 405
    assert server.client.get("/ping").status_code == 200


@pytest.mark.slow
def test_a_worker_that_dies_is_counted_and_its_peak_logged(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(code=HOLD)
    first = int(server.invoke("pid", "text/plain").text)
    os.kill(first, 9)
    _poll(lambda: _stats(server)["workers"][0]["restarts"] == 1)
    worker = _stats(server)["workers"][0]
    assert worker["pid"] != first and worker["exited_peak_rss_bytes"] > 0
    assert "peak RSS" in server.log()
    server.stop()
    assert "peak RSS of the supervisor" in server.log()
