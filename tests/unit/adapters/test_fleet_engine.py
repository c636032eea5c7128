"""The fleet engine: containers on the engine of the instance their label names."""

from __future__ import annotations

import pytest

from dockyard.adapters.engine.fleet import INSTANCE_LABEL, FleetEngine
from dockyard.errors import DockyardError
from dockyard.ports.engine import ContainerSpec
from dockyard.testing import FakeEngine

pytestmark = pytest.mark.unit


def spec(name: str, instance: str | None = None) -> ContainerSpec:
    labels = {"app": "x", **({INSTANCE_LABEL: instance} if instance else {})}
    return ContainerSpec(name=name, image="img:1", labels=labels, ports=[8080], publish=False)


def fleet() -> tuple[FleetEngine, FakeEngine, FakeEngine]:
    local, other = FakeEngine(), FakeEngine()
    local.add_image("img:1")
    other.add_image("img:1")
    engine = FleetEngine(local)
    engine.attach("b", other)
    return engine, local, other


def test_a_container_runs_on_its_instance_engine_and_unlabelled_ones_locally() -> None:
    engine, local, other = fleet()
    on_b = engine.run(spec("on-b", "b"))
    here = engine.run(spec("here"))
    unknown = engine.run(spec("unknown-instance", "zzz"))
    assert [c.name for c in other.containers()] == ["on-b"]
    assert sorted(c.name for c in local.containers()) == ["here", "unknown-instance"]
    assert {c.id for c in engine.list({"app": "x"})} == {on_b.id, here.id, unknown.id}


def test_another_instance_publishes_ports_where_its_engine_does_not_route_to_containers() -> None:
    engine, _, other = fleet()
    engine.run(spec("on-b", "b"))
    assert other.containers()[0].host_ports  # published: the balancer reaches it there


def test_actions_on_a_container_go_to_the_engine_that_has_it() -> None:
    engine, local, other = fleet()
    on_b = engine.run(spec("on-b", "b"))
    fresh = FleetEngine(local)  # a restarted daemon: nothing remembered
    fresh.attach("b", other)
    fresh.stop(on_b.id, 1)
    assert not other.containers()[0].running
    fresh.remove(on_b.id)
    assert other.containers() == []


def test_an_image_missing_on_the_instance_engine_is_pulled_there() -> None:
    local, other = FakeEngine(), FakeEngine()
    engine = FleetEngine(local)
    engine.attach("b", other)
    other.calls.clear()
    with pytest.raises(DockyardError):  # the fake cannot pull: the run fails as it says
        engine.run(spec("on-b", "b"))
    assert other.calls["pull"] == 1
