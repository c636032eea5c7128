"""Usage of endpoints through the control plane: traffic per route, CPU and memory per task.

On in-memory fakes: the balancer's counters and response times and the engine's
statistics become series in the store, read back by endpoint name over the HTTP API
and in Prometheus's format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.usage import TASK_INTERVAL_S, TRAFFIC_INTERVAL_S

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

ENDPOINT = "iris"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def collect(world: World) -> None:
    """One more collection of both kinds (the collector keeps its own intervals)."""
    world.clock.advance(max(TRAFFIC_INTERVAL_S, TASK_INTERVAL_S))
    world.step()


def latest(usage: dict[str, Any], source: str, metric: str) -> float | None:
    values = [
        s["Values"][-1]
        for s in usage["Series"]
        if s["Source"] == source and s["MetricName"] == metric
    ]
    return values[0] if values else None


def serving(world: World) -> list[str]:
    world.deploy()
    world.in_service()
    return sorted(world.replica_ids())


def test_requests_latency_and_errors_of_the_route_become_series(
    world: World, client: TestClient
) -> None:
    serving(world)
    collect(world)  # the first reading: counters to difference against
    world.lb.serve(ENDPOINT, 200, ms=4.0, count=95)
    world.lb.serve(ENDPOINT, 200, ms=40.0, count=4)
    world.lb.serve(ENDPOINT, 503, ms=1.0, count=1)
    collect(world)

    usage = client.get(f"/v1/metrics/{ENDPOINT}", params={"since": 0}).json()

    seconds = max(TRAFFIC_INTERVAL_S, TASK_INTERVAL_S)
    assert usage["Kind"] == "endpoint" and usage["Route"] == ENDPOINT
    assert latest(usage, "lb", "requests_per_s") == pytest.approx(100 / seconds)
    assert latest(usage, "lb", "responses_5xx_per_s") == pytest.approx(1 / seconds)
    assert latest(usage, "lb", "responses_4xx_per_s") == 0
    assert latest(usage, "lb", "p50_ms") == 4.0
    assert latest(usage, "lb", "p99_ms") == 40.0


def test_cpu_and_memory_of_each_running_replica_become_series(
    world: World, client: TestClient
) -> None:
    replicas = serving(world)
    containers = {task: world.container_of(task).id for task in replicas}
    start = world.clock.now
    for container in containers.values():
        world.engine.set_usage(
            container, cpu_used_ns=1_000_000_000, memory_bytes=64 << 20, at=start
        )
    collect(world)
    for index, container in enumerate(containers.values()):
        used = 1_000_000_000 + int((index + 1) * 1e9)  # 1 and 2 s of CPU in 4 s
        world.engine.set_usage(container, cpu_used_ns=used, memory_bytes=96 << 20, at=start + 4)
    collect(world)

    usage = client.get(f"/v1/metrics/{ENDPOINT}", params={"since": 0}).json()

    assert usage["RunningTasks"] == replicas
    for task in replicas:
        assert latest(usage, task, "memory_mib") == 96
        assert latest(usage, task, "cpu_percent") is not None
    cpu = sorted(latest(usage, task, "cpu_percent") or 0 for task in replicas)
    assert cpu == [pytest.approx(25.0), pytest.approx(50.0)]


def test_an_unknown_name_is_a_404_naming_it(client: TestClient) -> None:
    answer = client.get("/v1/metrics/nope")
    assert answer.status_code == 404
    assert "nope" in answer.json()["message"]


def test_prometheus_sees_route_counters_latency_and_task_usage(
    world: World, client: TestClient
) -> None:
    replicas = serving(world)
    collect(world)
    world.lb.serve(ENDPOINT, 200, ms=5.0, count=10)
    world.lb.serve(ENDPOINT, 404, ms=1.0, count=2)
    for task in replicas:
        world.engine.set_usage(world.container_of(task).id, cpu_used_ns=0, memory_bytes=1 << 20)
    collect(world)

    answer = client.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert f'dockyard_route_requests_total{{route="{ENDPOINT}"}} 12.0' in text
    assert f'dockyard_route_error_responses_total{{class="4xx",route="{ENDPOINT}"}} 2.0' in text
    assert f'dockyard_route_response_ms{{quantile="0.99",route="{ENDPOINT}"}} 5.0' in text
    for task in replicas:
        assert f'task="{task}"}} 1.048576e+06' in text
    assert 'dockyard_tasks{status="RUNNING"} 2.0' in text
