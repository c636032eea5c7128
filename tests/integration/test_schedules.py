"""Scheduled tasks on real containers, through the CLI and a real daemon.

A schedule's next firing is hours away, so its run is launched with ``schedule
run-now`` (when firings fall due is decided by a pure function, tested in
``tests/unit/control/test_scheduled_tasks.py``); the task runs the schedule's
revision with its overrides, carries ``startedBy schedule/NAME``, is listed by
``dockyard tasks`` and ends STOPPED with exit code 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dockyard_daemon import Daemon, wait_until

pytestmark = pytest.mark.integration

TIMEOUT = 180.0


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def test_a_schedule_runs_its_task_now_with_started_by_schedule(
    daemon: Daemon, base_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("prep")
    name = unique_name("nightly")
    definition = tmp_path / "prep.json"
    definition.write_text(
        json.dumps(
            {
                "family": family,
                "containerDefinitions": [
                    {"name": "main", "image": base_image, "command": ["python3", "-c", "1"]}
                ],
            }
        )
    )
    ok(daemon.cli("register-task-definition", str(definition)))
    overrides = tmp_path / "overrides.json"
    overrides.write_text(
        json.dumps({"containerOverrides": [{"name": "main", "command": ["echo", "prepared"]}]})
    )
    create = ["schedule", "create", name, "--cron", "0 2 * * *"]
    shown = ok(
        daemon.cli(*create, "--task-definition", f"{family}:1", "--overrides", str(overrides))
    )
    assert "02:00:00" in shown
    assert name in ok(daemon.cli("schedule", "list"))

    ok(daemon.cli("schedule", "run-now", name))

    def stopped() -> dict[str, Any] | None:
        tasks = daemon.api("GET", "/v1/tasks", params={"startedBy": f"schedule/{name}"})["tasks"]
        return tasks[0] if tasks and tasks[0]["lastStatus"] == "STOPPED" else None

    task = wait_until(stopped, timeout=TIMEOUT, what="the scheduled task to stop")
    assert task["startedBy"] == f"schedule/{name}"
    assert [c["exitCode"] for c in task["containers"]] == [0]
    assert task["taskId"][:12] in ok(daemon.cli("tasks", "--started-by", f"schedule/{name}"))
    assert task["taskId"][:12] in ok(daemon.cli("schedule", "describe", name))
    events = daemon.api("GET", "/v1/events", params={"kind": "schedule", "name": name})
    assert any("run now" in event["Message"] for event in events["Events"])

    ok(daemon.cli("schedule", "delete", name))
    assert daemon.raw("GET", f"/v1/schedules/{name}").status_code == 404
