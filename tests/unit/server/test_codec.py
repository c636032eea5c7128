"""Control's records survive the trip through the store's JSON unchanged."""

from __future__ import annotations

import json

import pytest

from dockyard.control.service import ServiceState
from dockyard.control.task import (
    ContainerObservation,
    EngineState,
    StopCode,
    Task,
    new_task,
    observe,
    request_stop,
)
from dockyard.control.training_status import TrainingJobState, new_training_job
from dockyard.server.codec import from_doc, to_doc
from dockyard.spec.task_definition import parse_task_definition

pytestmark = pytest.mark.unit

DEFINITION = parse_task_definition(
    {
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": "app:1"},
            {
                "name": "sidecar",
                "image": "side:1",
                "essential": False,
                "dependsOn": [{"containerName": "app", "condition": "START"}],
            },
        ],
    }
)


def _through_json(value: object) -> object:
    return json.loads(json.dumps(to_doc(value)))


def test_new_task_round_trips() -> None:
    task = new_task("a" * 32, DEFINITION, "web:1", 100.0, started_by="service/web")
    assert from_doc(Task, _through_json(task)) == task


def test_stopped_task_with_exit_codes_and_reason_round_trips() -> None:
    task = new_task("b" * 32, DEFINITION, "web:1", 100.0)
    running = observe(task, {"app": ContainerObservation(EngineState.RUNNING, "c1")}, 101.0)
    exited = observe(
        running, {"app": ContainerObservation(EngineState.EXITED, "c1", exit_code=3)}, 102.0
    )
    stopped = request_stop(exited, StopCode.USER_INITIATED, "by hand", 103.0)
    restored = from_doc(Task, _through_json(stopped))
    assert restored == stopped
    assert restored.container("app").exit_code == 3
    assert restored.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED


def test_training_state_round_trips() -> None:
    state = new_training_job(5.0)
    assert from_doc(TrainingJobState, _through_json(state)) == state


def test_service_state_round_trips() -> None:
    state = ServiceState("iris-AllTraffic", "iris-AllTraffic:2", 2, target_group="iris")
    assert from_doc(ServiceState, _through_json(state)) == state
