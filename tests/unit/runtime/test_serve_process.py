"""The server as a process: entry point, workers, restarts, watchdog and graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from dockyard.runtime.serve.board import WorkerBoard

if TYPE_CHECKING:
    from conftest import ServerProcess

pytestmark = pytest.mark.unit

# transform_fn answers with the worker's pid; "sleep S MARKER" touches MARKER, then sleeps;
# "hang" blocks the timeout's signal first, like C code that never returns to Python.
PID_AND_SLEEP = textwrap.dedent(
    """
    import os
    import signal
    import time


    def transform_fn(model, input_data, content_type, accept):
        words = input_data.decode().split()
        if words and words[0] == "sleep":
            open(words[2], "w").close()
            time.sleep(float(words[1]))
        if words and words[0] == "hang":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(60)
        return str(os.getpid()), "text/plain"
    """
)


def _pid(server: ServerProcess, fresh_connection: bool = False) -> int:
    headers = {"Connection": "close"} if fresh_connection else None
    response = server.invoke("pid", "text/plain", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.text)


def _poll(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_unknown_command_exits_2_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.runtime", "predict"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown command 'predict'" in result.stderr


def test_serve_refuses_arguments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.runtime", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "serve takes no arguments" in result.stderr


def test_bad_setting_exits_2_naming_it(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"SAGEMAKER_MODEL_SERVER_WORKERS": "many"}, wait=False)
    assert server.wait_exit() == 2
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in server.log()


def test_start_is_logged_in_one_line(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    lines = [line for line in server.log().splitlines() if "listening" in line]
    assert len(lines) == 1
    assert f":{server.port} with 2 workers" in lines[0]
    assert "defaults for model_fn" in lines[0]


@pytest.mark.slow
def test_two_workers_both_serve(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(code=PID_AND_SLEEP, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    pids: set[int] = set()
    for _ in range(200):
        pids.add(_pid(server, fresh_connection=True))
        if len(pids) == 2:
            break
    assert len(pids) == 2
    assert server.proc.pid not in pids


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(code=PID_AND_SLEEP)
    marker = tmp_path / "started"
    result: dict[str, httpx.Response] = {}
    request = threading.Thread(
        target=lambda: result.update(response=server.invoke(f"sleep 1.5 {marker}", "text/plain"))
    )
    request.start()
    _poll(marker.exists)
    server.proc.send_signal(signal.SIGTERM)
    request.join(timeout=30)
    assert result["response"].status_code == 200
    assert server.wait_exit() == 0
    assert "draining" in server.log()


@pytest.mark.slow
def test_worker_that_dies_is_replaced(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(code=PID_AND_SLEEP)
    first = _pid(server, fresh_connection=True)
    os.kill(first, signal.SIGKILL)
    _poll(lambda: _pid(server, fresh_connection=True) != first)
    assert "restarting it" in server.log()


@pytest.mark.slow
def test_worker_stuck_past_the_timeout_is_replaced(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(code=PID_AND_SLEEP, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "1"})
    first = _pid(server)
    with pytest.raises(httpx.TransportError):
        server.invoke("hang", "text/plain")
    assert _pid(server, fresh_connection=True) != first
    assert "stuck" in server.log()


@pytest.mark.slow
def test_workers_exit_with_the_server(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(code=PID_AND_SLEEP)
    worker = _pid(server)
    server.proc.kill()
    server.proc.wait()
    _poll(lambda: not _alive(worker))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (it waits for a reaper that may be this test process's parent).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_heartbeats_written_by_a_forked_worker_reach_the_supervisor() -> None:
    beats = WorkerBoard(2)
    beats.beat(1)
    time.sleep(0.2)  # let the supervisor's own beat age
    pid = os.fork()
    if pid == 0:
        beats.beat(1)
        os._exit(0)
    os.waitpid(pid, 0)
    assert beats.age(1) < 0.2
