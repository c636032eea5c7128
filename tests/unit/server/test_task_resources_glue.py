"""TaskRunner on fakes: the namespace holder, the task cgroup, volumes and health.

A task of several awsvpc containers gets one holder container that publishes every
port; its containers join it and the task's addresses are the holder's; the holder
stops once the task stopped and goes with the reap. The task's size becomes a task
cgroup that every container starts in; health check verdicts reach the task record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.store.memory import MemoryStore
from dockyard.control.task import StopCode
from dockyard.control.task_network import NAMESPACE_HOLDER
from dockyard.control.task_state import HealthStatus
from dockyard.records.placement import Placement
from dockyard.server.task_network import TaskNamespaces
from dockyard.server.task_output import TaskOutput
from dockyard.server.tasks import TaskRunner
from dockyard.spec.task_definition import parse_task_definition
from dockyard.testing.engine import FakeEngine

pytestmark = pytest.mark.unit


def runner(tmp_path: Path, engine: FakeEngine) -> TaskRunner:
    tasks = TaskRunner(
        engine,
        MemoryStore(),
        tmp_path / "volumes",
        installation="inst",
        output=TaskOutput(engine, tmp_path / "output"),
    )
    tasks.namespaces = TaskNamespaces(engine, "inst", pause_image=lambda _: "pause:1")
    return tasks


def document(**task: Any) -> dict[str, Any]:
    return {
        "family": "web",
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [
            {"name": "app", "image": "app:1", "portMappings": [{"containerPort": 8080}]},
            {
                "name": "proxy",
                "image": "proxy:1",
                "cpu": 128,
                "memoryReservation": 64,
                "dependsOn": [{"containerName": "app", "condition": "HEALTHY"}],
            },
        ],
        **task,
    }


def start(tmp_path: Path, engine: FakeEngine, doc: dict[str, Any]) -> tuple[TaskRunner, Any]:
    tasks = runner(tmp_path, engine)
    definition = parse_task_definition(doc)
    record = tasks.create("run-task", definition, "web:1", Placement("web"), now=0.0)
    return tasks, record


def with_health_check(doc: dict[str, Any]) -> dict[str, Any]:
    doc["containerDefinitions"][0]["healthCheck"] = {"command": ["CMD-SHELL", "true"]}
    return doc


def test_containers_join_one_holder_and_the_task_answers_at_its_address(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    _tasks, record = start(tmp_path, engine, with_health_check(document()))

    holder = engine.spec(f"web-{record.task.task_id[:8]}-netns")
    assert holder.image == "pause:1" and holder.ports == [8080]
    assert holder.labels["dockyard.container"] == NAMESPACE_HOLDER
    app = engine.spec(f"web-{record.task.task_id[:8]}-app")
    assert app.network is not None and app.network.startswith("container:")
    assert app.ports == []
    (address,) = record.addresses
    assert address.container == "app" and address.port == 8080
    holder_port = engine.inspect(holder.name).host_ports[8080]
    assert address.address == f"127.0.0.1:{holder_port}"


def test_depends_on_healthy_waits_for_the_engine_health_verdict(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    tasks, record = start(tmp_path, engine, with_health_check(document()))
    app_id = record.task.container("app").container_id
    record = tasks.step(record, tasks.observe_task(record.task.task_id), 1.0)
    assert record.task.container("proxy").container_id is None  # health: starting

    engine.set_health(app_id, "healthy")
    record = tasks.step(record, tasks.observe_task(record.task.task_id), 2.0)
    assert record.task.container("app").health is HealthStatus.HEALTHY
    assert record.task.container("proxy").container_id is not None


def test_the_task_size_is_one_cgroup_and_container_cpu_is_shares(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    tasks, record = start(tmp_path, engine, with_health_check(document()))
    engine.set_health(record.task.container("app").container_id, "healthy")
    record = tasks.step(record, tasks.observe_task(record.task.task_id), 1.0)

    task_id = record.task.task_id
    assert engine.task_cgroups == {task_id: (0.25, 512)}
    proxy = engine.spec(f"web-{task_id[:8]}-proxy")
    assert (proxy.cgroup_parent, proxy.cpu_shares, proxy.cpus) == (
        f"/dockyard/{task_id}",
        128,
        None,
    )
    assert (proxy.memory_mib, proxy.memory_reservation_mib) == (None, 64)

    tasks.reap(record)
    assert engine.task_cgroups == {}


def test_an_orphaned_task_leaves_no_cgroup_behind(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    tasks, record = start(tmp_path, engine, with_health_check(document()))
    task_id = record.task.task_id
    assert task_id in engine.task_cgroups
    tasks.store.tasks.delete(task_id)  # as if the daemon died between reap's steps

    removed = tasks.remove_orphans()

    assert f"web-{task_id[:8]}-app" in removed
    assert engine.task_cgroups == {}


def test_without_task_cgroups_each_container_is_bounded_by_the_task_size(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    engine.task_cgroups_supported = False
    doc = document()
    doc["containerDefinitions"] = doc["containerDefinitions"][:1]
    _tasks, record = start(tmp_path, engine, doc)
    app = engine.spec(f"web-{record.task.task_id[:8]}-app")
    assert (app.cgroup_parent, app.cpus, app.memory_mib) == (None, 0.25, 512)
    assert not any(c.name.endswith("-netns") for c in engine.containers())  # one container


def test_the_holder_stops_after_the_task_and_goes_with_the_reap(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    doc = document()
    doc["containerDefinitions"][1].pop("dependsOn")
    tasks, record = start(tmp_path, engine, doc)
    task_id = record.task.task_id
    record = tasks.request_stop(record, StopCode.USER_INITIATED, "bye", 1.0)
    for container in record.task.containers:
        engine.stop(container.container_id or "", 1)
    record = tasks.step(record, tasks.observe_task(task_id), 2.0)
    assert record.task.is_done
    holder = engine.inspect(f"web-{task_id[:8]}-netns")
    assert not holder.running

    tasks.reap(record)
    assert engine.containers() == []


def test_a_shared_volume_without_autoprovision_must_exist(tmp_path: Path) -> None:
    engine = FakeEngine(require_images=False)
    doc = {
        "family": "job",
        "volumes": [{"name": "data", "dockerVolumeConfiguration": {"scope": "shared"}}],
        "containerDefinitions": [
            {
                "name": "main",
                "image": "job:1",
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}],
            }
        ],
    }
    tasks, record = start(tmp_path, engine, doc)
    record = tasks.step(record, tasks.observe_task(record.task.task_id), 1.0)
    assert record.task.stop_code is StopCode.TASK_FAILED_TO_START
    assert "volume data does not exist" in (record.task.stopped_reason or "")

    (tmp_path / "volumes" / "shared" / "data").mkdir(parents=True)
    tasks, record = start(tmp_path, engine, doc)
    assert record.task.container("main").container_id is not None
    assert engine.spec(f"web-{record.task.task_id[:8]}-main").mounts[0].source == str(
        tmp_path / "volumes" / "shared" / "data"
    )
