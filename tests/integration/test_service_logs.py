"""Service and task logs on real containers, through the CLI and a real daemon.

A service whose task prints a line and sleeps: ``dockyard logs service/NAME`` shows
the line behind the task's id; ``-f`` keeps streaming and shows the first line of a
task that starts after it began (a scale-out); ``dockyard logs task/ID`` shows one
task's output.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dockyard_daemon import Daemon, wait_until

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
PROGRAM = (
    "import os, time; print('hello from', os.environ['HOSTNAME'], flush=True); time.sleep(600)"
)


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def running(daemon: Daemon, name: str, count: int) -> list[str]:
    def ids() -> list[str] | None:
        tasks = daemon.api("GET", "/v1/tasks", params={"startedBy": f"service/{name}"})["tasks"]
        found = [t["taskId"] for t in tasks if t["lastStatus"] == "RUNNING"]
        return found if len(found) == count else None

    return wait_until(ids, timeout=TIMEOUT, what=f"{count} running tasks of {name}")


def test_service_logs_show_every_task_and_follow_new_ones(
    daemon: Daemon, base_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("talker")
    definition = tmp_path / "talker.json"
    container = {
        "name": "main",
        "image": base_image,
        "command": ["python3", "-c", PROGRAM],
        "stopTimeout": 2,
    }
    definition.write_text(json.dumps({"family": family, "containerDefinitions": [container]}))
    ok(daemon.cli("register-task-definition", str(definition)))
    create = ["service", "create", family, "--task-definition", f"{family}:1"]
    # --no-wait: a task without a health check counts as healthy only after 40 s (ECS);
    # running tasks are what this test waits for
    ok(daemon.cli(*create, "--desired-count", "1", "--no-wait"))
    try:
        (first,) = running(daemon, family, 1)
        shown = wait_until(
            lambda: (
                (out := ok(daemon.cli("logs", f"service/{family}"))) and "hello from" in out and out
            ),
            timeout=TIMEOUT,
            what="the first task's line",
        )
        assert f"{first[:12]}/main" in shown
        assert "hello from" in ok(daemon.cli("logs", f"task/{first}"))

        follower = subprocess.Popen(
            [sys.executable, "-m", "dockyard.cli.main", "logs", f"service/{family}", "-f"],
            env=daemon.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        seen: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [seen.put(line) for line in follower.stdout or ()], daemon=True
        ).start()
        try:
            ok(daemon.cli("service", "update", family, "--desired-count", "2", "--no-wait"))
            (second,) = set(running(daemon, family, 2)) - {first}
            lines: list[str] = []

            def from_second() -> bool:
                while not seen.empty():
                    lines.append(seen.get())
                return any(line.startswith(f"{second[:12]}/main") for line in lines)

            wait_until(from_second, timeout=TIMEOUT, what="the new task's line in the follow")
            assert any(line.startswith(f"{first[:12]}/main") for line in lines)
        finally:
            follower.terminate()
            follower.wait(timeout=30)
    finally:
        daemon.cli("service", "delete", family, "--force")
