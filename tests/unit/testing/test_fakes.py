"""The in-memory fakes keep the contracts of the adapters they stand in for."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

import pytest

from dockyard.errors import Conflict, DockyardError, EngineUnavailable, NotFound, SpecError
from dockyard.ports.engine import ContainerSpec, Engine
from dockyard.ports.lb import LoadBalancer, Target
from dockyard.ports.probe import HealthProbe
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

pytestmark = pytest.mark.unit

IMAGE = "model:1"


@pytest.fixture
def engine() -> FakeEngine:
    engine = FakeEngine()
    engine.add_image(IMAGE)
    return engine


def spec(name: str = "replica-1", **labels: str) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, labels=labels, ports=[8080])


def ping_url(engine: FakeEngine, container_id: str) -> str:
    host_port = engine.inspect(container_id).host_ports[8080]
    return f"http://127.0.0.1:{host_port}/ping"


# ---------------------------------------------------------------------- the ports


def test_fakes_satisfy_their_ports_structurally() -> None:
    # The annotated assignments are the check that matters: mypy runs on this module.
    engine: Engine = FakeEngine()
    lb: LoadBalancer = FakeLoadBalancer()
    probe: HealthProbe = FakeHealthProbe()
    for port, fake in ((Engine, engine), (LoadBalancer, lb), (HealthProbe, probe)):
        for name, member in inspect.getmembers(port, inspect.isfunction):
            if name.startswith("_"):
                continue
            wanted = list(inspect.signature(member).parameters)
            assert list(inspect.signature(getattr(fake, name)).parameters) == wanted[1:], name


# ---------------------------------------------------------------------- engine


def test_run_returns_a_running_container_with_every_port_published(
    engine: FakeEngine,
) -> None:
    state = engine.run(ContainerSpec(name="a", image=IMAGE, ports=[8080, 9000]))
    assert state.running
    assert state.host_ports == {8080: 40000, 9000: 40001}
    assert state.ip_address


def test_fake_engine_lists_containers_by_every_label(engine: FakeEngine) -> None:
    engine.run(spec("a", app="x", role="web"))
    engine.run(spec("b", app="x", role="worker"))
    engine.run(spec("c", app="y", role="web"))
    assert [s.name for s in engine.list({"app": "x", "role": "web"})] == ["a"]
    assert [s.name for s in engine.list({"app": "x"})] == ["a", "b"]


def test_a_taken_container_name_is_a_conflict(engine: FakeEngine) -> None:
    engine.run(spec("a"))
    with pytest.raises(Conflict):
        engine.run(spec("a"))


def test_run_of_an_image_nobody_added_is_not_found(engine: FakeEngine) -> None:
    with pytest.raises(NotFound, match="image other:2 does not exist"):
        engine.run(ContainerSpec(name="a", image="other:2"))


def test_any_image_runs_when_images_are_not_required() -> None:
    assert FakeEngine(require_images=False).run(ContainerSpec(name="a", image="x")).running


def test_run_on_a_network_nobody_created_is_not_found(engine: FakeEngine) -> None:
    with pytest.raises(NotFound):
        engine.run(ContainerSpec(name="a", image=IMAGE, network="net"))
    engine.ensure_network("net", {})
    assert engine.run(ContainerSpec(name="a", image=IMAGE, network="net")).running


def test_inspect_of_an_unknown_container_is_not_found(engine: FakeEngine) -> None:
    with pytest.raises(NotFound):
        engine.inspect("nope")


def test_inspect_finds_a_container_by_name_or_id_prefix(engine: FakeEngine) -> None:
    state = engine.run(spec("a"))
    assert engine.inspect("a").id == state.id
    assert engine.inspect(state.id[:12]).id == state.id


def test_stopped_container_reports_exit_code(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.stop(state.id, timeout=10)
    stopped = engine.inspect(state.id)
    assert (stopped.status, stopped.exit_code) == ("exited", 143)
    assert stopped.host_ports == {}


def test_stop_exit_code_is_configurable() -> None:
    engine = FakeEngine(require_images=False, stop_exit_code=0)
    state = engine.run(spec())
    engine.stop(state.id, timeout=10)
    assert engine.inspect(state.id).exit_code == 0


def test_killed_container_exits_137(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.kill(state.id)
    assert engine.inspect(state.id).exit_code == 137


def test_stop_kill_and_remove_are_idempotent(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.stop(state.id, timeout=10)
    engine.kill(state.id)
    assert engine.inspect(state.id).exit_code == 143
    engine.remove(state.id)
    engine.remove(state.id)
    assert engine.containers() == []


def test_container_exiting_by_itself_reports_code_and_oom(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.exit(state.id, 137, oom=True)
    exited = engine.inspect(state.id)
    assert (exited.running, exited.exit_code, exited.oom_killed) == (False, 137, True)


def test_failed_start_raises_the_adapters_error_and_leaves_nothing(
    engine: FakeEngine,
) -> None:
    engine.fail_next_run(IMAGE, "cgroup setup failed")
    with pytest.raises(DockyardError, match="container a could not start: cgroup setup failed"):
        engine.run(spec("a"))
    assert engine.containers() == []
    assert engine.run(spec("a")).running


def test_failed_start_of_a_missing_command_blames_the_spec(engine: FakeEngine) -> None:
    engine.fail_next_run("a", 'exec: "serve": executable file not found in $PATH')
    with pytest.raises(SpecError) as caught:
        engine.run(spec("a"))
    assert caught.value.field == "command"


def test_wait_returns_the_exit_code_once_the_container_stops(engine: FakeEngine) -> None:
    state = engine.run(spec())
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(engine.wait(state.id)))
    waiter.start()
    engine.exit(state.id, 3)
    waiter.join(timeout=5)
    assert codes == [3]


def test_wait_times_out_while_the_container_runs(engine: FakeEngine) -> None:
    state = engine.run(spec())
    with pytest.raises(TimeoutError):
        engine.wait(state.id, timeout=0.01)


def test_logs_hand_back_what_the_container_wrote(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.write_logs(state.id, b"loading\n")
    engine.write_logs(state.id, b"ready\n")
    assert b"".join(engine.logs(state.id)) == b"loading\nready\n"


def test_followed_logs_end_when_the_container_exits(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.write_logs(state.id, b"one\n")
    chunks = engine.logs(state.id, follow=True)
    seen: list[bytes] = []
    follower = threading.Thread(target=lambda: seen.extend(chunks))
    follower.start()
    engine.write_logs(state.id, b"two\n")
    engine.exit(state.id, 0)
    follower.join(timeout=5)
    assert not follower.is_alive()
    assert b"".join(seen) == b"one\ntwo\n"


def test_archive_put_into_a_container_is_handed_back(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.put_archive(state.id, "/opt/ml/model", b"tar")
    assert b"".join(engine.get_archive(state.id, "/opt/ml/model")) == b"tar"
    with pytest.raises(NotFound):
        engine.get_archive(state.id, "/elsewhere")


def test_build_registers_the_image_and_ends_with_its_id(engine: FakeEngine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    events = list(engine.build(str(tmp_path), "app:2", labels={"k": "v"}))
    info = engine.image("app:2")
    assert info is not None and info.labels == {"k": "v"}
    assert events[-1].image_id == info.id
    assert any(event.stream for event in events)


def test_build_without_a_dockerfile_is_not_found(engine: FakeEngine, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        engine.build(str(tmp_path), "app:2")


def test_image_is_found_by_tag_or_id(engine: FakeEngine) -> None:
    info = engine.add_image("app", labels={"k": "v"})
    assert engine.image("app:latest") == info
    assert engine.image(info.id) == info
    assert engine.image(info.id.removeprefix("sha256:")) == info
    assert engine.image("app:other") is None


def test_tag_moves_from_the_image_that_held_it(engine: FakeEngine) -> None:
    old = engine.add_image("app:live")
    new = engine.add_image("app:2")
    engine.tag("app:2", "app:live")
    found = engine.image("app:live")
    assert found is not None and found.id == new.id
    assert engine.image(old.id) is not None
    with pytest.raises(NotFound):
        engine.tag("missing:1", "app:3")


def test_pull_finds_nothing(engine: FakeEngine) -> None:
    assert engine.pull("python:3.11") is False


def test_unavailable_engine_refuses_every_call(engine: FakeEngine) -> None:
    engine.set_available(False)
    with pytest.raises(EngineUnavailable):
        engine.ping()
    with pytest.raises(EngineUnavailable):
        engine.list({})
    engine.set_available(True)
    engine.ping()


def test_engine_counts_calls_per_method(engine: FakeEngine) -> None:
    state = engine.run(spec())
    engine.inspect(state.id)
    engine.inspect(state.id)
    engine.containers()
    assert engine.calls == {"run": 1, "inspect": 2}


# ---------------------------------------------------------------------- load balancer


def test_first_ensure_running_reports_a_fresh_start() -> None:
    lb = FakeLoadBalancer()
    assert lb.ensure_running() is True
    assert lb.ensure_running() is False


def test_registered_target_is_healthy_at_once() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    assert lb.targets("ep") == [Target("t1", "127.0.0.1:40000", "healthy", 0)]


def test_registering_a_new_address_replaces_the_target() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.set_in_flight("ep", "t1", 2)
    lb.register("ep", Target("t1", "127.0.0.1:40001"))
    assert lb.targets("ep") == [Target("t1", "127.0.0.1:40001", "healthy", 0)]


def test_registering_a_drained_target_again_puts_it_back_in_service() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.set_in_flight("ep", "t1", 2)
    lb.drain("ep", "t1")
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    assert lb.targets("ep") == [Target("t1", "127.0.0.1:40000", "healthy", 2)]


def test_registering_again_keeps_what_the_balancers_checks_said() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.set_health("ep", "t1", "unhealthy")
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    assert [t.health for t in lb.targets("ep")] == ["unhealthy"]


def test_drained_target_shows_requests_still_in_flight() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.set_in_flight("ep", "t1", 3)
    lb.drain("ep", "t1")
    assert lb.targets("ep") == [Target("t1", "127.0.0.1:40000", "draining", 3)]


def test_remove_cuts_requests_in_flight() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.set_in_flight("ep", "t1", 3)
    assert lb.remove("ep", "t1") is True
    assert lb.targets("ep") == []


def test_removal_held_returns_false_until_released() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.hold_removal("ep", "t1")
    assert lb.remove("ep", "t1") is False
    assert [(t.name, t.health) for t in lb.targets("ep")] == [("t1", "draining")]
    lb.release_removal("ep", "t1")
    assert lb.remove("ep", "t1") is True


def test_removing_an_unknown_target_or_route_succeeds() -> None:
    lb = FakeLoadBalancer()
    lb.ensure_route("ep")
    assert lb.remove("ep", "ghost") is True
    assert lb.remove("nowhere", "ghost") is True
    lb.drain("ep", "ghost")


def test_restarted_lb_loses_targets_keeps_routes() -> None:
    lb = FakeLoadBalancer()
    lb.ensure_running()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.restart()
    assert lb.routes() == ["ep"]
    assert lb.targets("ep") == []
    assert lb.ensure_running() is True
    assert lb.ensure_running() is False


def test_url_for_has_the_haproxy_adapters_form() -> None:
    assert FakeLoadBalancer().url_for("ep") == "http://127.0.0.1:9080/endpoints/ep/invocations"


def test_route_names_and_addresses_are_checked_like_haproxy() -> None:
    lb = FakeLoadBalancer()
    with pytest.raises(SpecError):
        lb.ensure_route("no spaces")
    with pytest.raises(SpecError):
        lb.register("ep", Target("t1", "replica-host:8080"))


def test_lb_counts_calls_per_method() -> None:
    lb = FakeLoadBalancer()
    lb.register("ep", Target("t1", "127.0.0.1:40000"))
    lb.targets("ep")
    lb.routes()
    assert lb.calls == {"register": 1, "targets": 1}


# ---------------------------------------------------------------------- health probe


def test_probe_passes_while_the_container_runs(engine: FakeEngine) -> None:
    state = engine.run(spec())
    probe = FakeHealthProbe(engine)
    assert probe.check({"r1": ping_url(engine, state.id)}) == {"r1": True}


def test_probe_fails_once_container_exits(engine: FakeEngine) -> None:
    state = engine.run(spec())
    url = ping_url(engine, state.id)
    probe = FakeHealthProbe(engine)
    engine.exit(state.id, 1)
    assert probe.check({"r1": url}) == {"r1": False}


def test_probe_fails_for_a_container_marked_unhealthy_until_well(engine: FakeEngine) -> None:
    state = engine.run(spec("a"))
    url = ping_url(engine, state.id)
    probe = FakeHealthProbe(engine)
    probe.set_healthy("a", False)
    assert probe.check({"r1": url}) == {"r1": False}
    probe.set_healthy(state.id, True)
    assert probe.check({"r1": url}) == {"r1": True}


def test_probe_answer_pinned_by_url_or_address_wins(engine: FakeEngine) -> None:
    state = engine.run(spec())
    url = ping_url(engine, state.id)
    probe = FakeHealthProbe(engine)
    probe.set_answer(url.removeprefix("http://").removesuffix("/ping"), False)
    assert probe.check({"r1": url}) == {"r1": False}
    probe.set_answer("http://127.0.0.1:1/ping", True)
    assert probe.check({"r2": "http://127.0.0.1:1/ping"}) == {"r2": True}


def test_probe_without_an_engine_gives_the_default_answer() -> None:
    assert FakeHealthProbe(default=True).check({"r1": "http://127.0.0.1:1/ping"}) == {"r1": True}
    assert FakeHealthProbe().check({"r1": "http://127.0.0.1:1/ping"}) == {"r1": False}


def test_probe_counts_checks_and_urls() -> None:
    probe = FakeHealthProbe()
    probe.check({"r1": "http://127.0.0.1:1/ping", "r2": "http://127.0.0.1:2/ping"})
    probe.close()
    assert (probe.calls, probe.urls_checked) == ({"check": 1, "close": 1}, 2)
