"""Endpoints through the control plane: deploy, serve, replace, roll, drain, delete.

Covers the server glue between :mod:`dockyard.server.endpoints` (the API side), the
service and endpoint reconcilers and the ports, on in-memory fakes: what the
balancer holds, which containers run, and the endpoint's status after each pass.
Includes a restart of the load balancer, a restart of the daemon (SQLite store) and
the rise/fall policy of the replicas' /ping checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.control.health import DEFAULT_POLICY
from dockyard.control.task import TaskStatus
from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.server import endpoints
from dockyard.server.services import HEALTHY_CHECK_INTERVAL_S
from dockyard.testing import FakeHealthProbe

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import World, WorldFactory

pytestmark = pytest.mark.unit

ENDPOINT = "iris"
SERVICE = f"{ENDPOINT}-AllTraffic"
STARTUP_TIMEOUT_S = 60  # the smallest ContainerStartupHealthCheckTimeoutInSeconds allowed


def roll(world: World) -> tuple[set[str], set[str]]:
    """Serve 2 replicas, then redeploy after the tag moved to a new image id.

    Returns the old replicas' task ids and, once started, the new ones'.
    """
    world.deploy()
    world.in_service()
    old = world.replica_ids()
    world.engine.add_image("model:1")  # rebuilt: same tag, new id
    assert world.deploy()["EndpointStatus"] == "Updating"
    world.settle(lambda: len(world.replica_ids() - old) == 2, "the new replicas to start")
    return old, world.replica_ids() - old


# -- creating ---------------------------------------------------------------------------------


FALL = DEFAULT_POLICY.fall


def check_once(world: World) -> None:
    """One more health check of every replica: a healthy one is checked once a second."""
    world.clock.advance(HEALTHY_CHECK_INTERVAL_S)
    world.step()


def test_deploy_goes_creating_then_in_service_with_two_registered_targets(world: World) -> None:
    assert world.deploy()["EndpointStatus"] == "Creating"

    world.in_service()

    assert set(world.targets()) == world.replica_ids()
    assert len(world.replica_ids()) == 2
    assert all(r.task.last_status is TaskStatus.RUNNING for r in world.replicas())


def test_an_image_not_on_the_machine_is_refused_naming_image_and_leaves_nothing(
    world: World,
) -> None:
    with pytest.raises(SpecError) as refused:
        endpoints.deploy(
            world.platform, {"EndpointName": ENDPOINT, "Image": "nope:1", "InstanceCount": 2}
        )

    assert refused.value.field == "Image"
    assert refused.value.hint
    world.step(2)
    assert world.store.endpoints.list() == []
    assert world.store.services.list() == []
    assert world.store.tasks.list() == []
    assert world.lb.routes() == []
    assert world.engine.containers() == []


def test_a_malformed_image_name_is_refused_naming_image_and_leaves_nothing(
    world: World,
) -> None:
    with pytest.raises(SpecError) as refused:
        endpoints.deploy(
            world.platform, {"EndpointName": ENDPOINT, "Image": "Bad Image!", "InstanceCount": 2}
        )

    assert refused.value.field == "Image"  # the field of the deploy request, as typed
    assert world.store.endpoints.list() == []
    assert world.store.services.list() == []
    assert world.store.tasks.list() == []
    assert world.lb.routes() == []


def test_describe_labels_replicas_starting_then_healthy(world: World) -> None:
    world.deploy(count=1)
    world.settle(lambda: bool(world.replicas()), "a replica to start")
    assert [r["Health"] for r in endpoints.describe(world.platform, ENDPOINT)["Replicas"]] == [
        "starting"
    ]

    world.in_service(count=1)

    described = endpoints.describe(world.platform, ENDPOINT)
    assert [r["Health"] for r in described["Replicas"]] == ["healthy"]
    assert described["HealthyReplicas"] == 1
    assert described["Replicas"][0]["Address"]


def test_describe_labels_a_replica_failing_its_pings_draining_then_unhealthy(
    world: World,
) -> None:
    world.deploy(count=1)
    world.in_service(count=1)
    (replica,) = world.replica_ids()
    world.probe.set_healthy(world.container_of(replica).id, False)

    def health() -> str:
        (row,) = endpoints.describe(world.platform, ENDPOINT)["Replicas"]
        return str(row["Health"])

    for _ in range(FALL):
        check_once(world)
    assert health() == "draining"
    world.settle(lambda: replica not in world.targets(), "the drained target to go")
    assert health() == "unhealthy"


# -- keeping replicas up ----------------------------------------------------------------------


def test_an_exited_replica_is_drained_and_replaced_while_the_endpoint_stays_in_service(
    world: World,
) -> None:
    world.deploy()
    world.in_service()
    crashed, survivor = sorted(world.replica_ids())
    world.engine.exit(world.container_of(crashed).id, 1)

    world.step()

    assert world.targets().get(crashed) == "draining"
    replaced = world.replica_ids() - {crashed, survivor}
    assert len(replaced) == 1
    while crashed in world.replica_ids() or len(world.targets()) < 2:
        assert world.status() == "InService"
        world.step()
    assert set(world.targets()) == {survivor, *replaced}


def test_one_failed_ping_keeps_a_replica_in_rotation(world: World) -> None:
    world.deploy()
    world.in_service()
    sick = sorted(world.replica_ids())[0]
    world.probe.set_healthy(world.container_of(sick).id, False)

    world.step()  # one check, failed
    world.probe.set_healthy(world.container_of(sick).id, True)
    world.step(3)

    assert world.targets()[sick] == "healthy"


def test_failed_pings_must_be_in_a_row_to_take_a_replica_out(world: World) -> None:
    world.deploy()
    world.in_service()
    sick = sorted(world.replica_ids())[0]
    container = world.container_of(sick).id

    for answer in (False, False, True, False, False, True):
        world.probe.set_healthy(container, answer)
        world.step()
        assert world.targets()[sick] == "healthy"


def test_three_failed_pings_in_a_row_take_a_replica_out_of_rotation(world: World) -> None:
    world.deploy()
    world.in_service()
    sick, well = sorted(world.replica_ids())
    world.probe.set_healthy(world.container_of(sick).id, False)

    check_once(world)
    check_once(world)
    assert world.targets()[sick] == "healthy"
    check_once(world)  # the third failure in a row

    assert world.targets()[sick] == "draining"
    assert world.targets()[well] == "healthy"


def test_a_replica_unhealthy_past_its_grace_period_is_replaced(world: World) -> None:
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.in_service()
    sick = sorted(world.replica_ids())[0]
    world.probe.set_healthy(world.container_of(sick).id, False)
    for _ in range(FALL):
        check_once(world)

    world.clock.advance(STARTUP_TIMEOUT_S + 1)  # the grace period is over
    world.settle(lambda: sick not in world.replica_ids(), "the sick replica to be replaced")

    world.in_service()
    assert len(world.replica_ids()) == 2


# -- rolling updates and draining -------------------------------------------------------------


def test_a_rolling_update_registers_new_replicas_before_draining_the_old(world: World) -> None:
    old, new = roll(world)

    def old_drained() -> bool:
        return all(world.targets().get(t) != "healthy" for t in old)

    while not old_drained():
        healthy = {t for t, h in world.targets().items() if h == "healthy"}
        assert len(healthy) >= 2, "the route dropped below its desired count"
        world.step()
    assert {t for t, h in world.targets().items() if h == "healthy"} == new


def test_a_rolling_update_stops_old_containers_only_after_their_target_is_removed(
    world: World,
) -> None:
    old, new = roll(world)
    old_containers = {t: world.container_of(t).id for t in old}

    world.settle(lambda: not old & set(world.targets()), "the old targets to be removed")
    for container in old_containers.values():
        world.stopped(container)

    stops = [s for s in world.engine.stops if s.task_id in old]
    assert {s.task_id for s in stops} == old
    assert not any(s.held_by_balancer for s in stops)
    assert set(world.targets()) == new


def test_a_rolling_update_goes_updating_then_in_service(world: World) -> None:
    _, new = roll(world)

    assert world.status() == "Updating"
    world.settle(lambda: world.replica_ids() == new, "the old replicas to be reaped")
    world.in_service()
    messages = [e.message for e in world.store.events("endpoint", ENDPOINT)]
    updated = next(i for i, m in enumerate(messages) if m.startswith("updated"))
    assert "endpoint is InService" in messages[updated:]


def test_a_draining_target_with_requests_in_flight_keeps_its_container_running(
    world: World,
) -> None:
    old, _ = roll(world)
    world.settle(lambda: any(world.targets().get(t) == "draining" for t in old), "a drain")
    busy, idle = sorted(old)
    world.lb.set_in_flight(ENDPOINT, busy, 3)
    busy_container = world.container_of(busy).id

    world.stopped(world.container_of(idle).id)  # the idle one drained and stopped
    world.step(5)

    assert world.targets()[busy] == "draining"
    assert world.running(busy_container)
    assert busy not in world.engine.stopped_tasks()


def test_a_drained_target_is_removed_then_its_container_stopped(world: World) -> None:
    old, _ = roll(world)
    world.settle(lambda: any(world.targets().get(t) == "draining" for t in old), "a drain")
    busy = sorted(old)[0]
    world.lb.set_in_flight(ENDPOINT, busy, 3)
    busy_container = world.container_of(busy).id
    world.step(3)

    world.lb.set_in_flight(ENDPOINT, busy, 0)
    world.settle(lambda: busy not in world.targets(), "the drained target to be removed")

    world.stopped(busy_container)
    stops = [s for s in world.engine.stops if s.task_id == busy]
    assert stops
    assert not any(s.held_by_balancer for s in stops)


def test_a_drain_outlasting_the_deregistration_delay_is_cut(world: World) -> None:
    old, _ = roll(world)
    world.settle(lambda: any(world.targets().get(t) == "draining" for t in old), "a drain")
    busy = sorted(old)[0]
    world.lb.set_in_flight(ENDPOINT, busy, 3)
    world.step(2)
    assert busy in world.targets()

    world.clock.advance(6)  # past the 5 s deregistration delay
    world.settle(lambda: busy not in world.targets(), "the late target to be cut")

    world.stopped(world.container_of(busy).id)


# -- deleting ---------------------------------------------------------------------------------


def test_the_listing_describes_the_records_it_read_without_looking_them_up_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint whose delete finishes between the listing's read and a second lookup
    by name made the whole listing a 404 naming it."""
    world.deploy()
    world.in_service()

    def gone(name: str) -> None:
        raise NotFound(f"no endpoint named {name!r}", resource=f"endpoint/{name}")

    monkeypatch.setattr(world.platform.store.endpoints, "require", gone)

    listed = endpoints.list_endpoints(world.platform)

    assert [e["EndpointName"] for e in listed] == [ENDPOINT]
    assert listed[0]["EndpointStatus"] == "InService"


def test_delete_goes_deleting_then_removes_everything(world: World) -> None:
    world.deploy()
    world.in_service()
    containers = [c.id for c in world.engine.containers()]

    endpoints.delete(world.platform, ENDPOINT)

    assert world.status() == "Deleting"
    world.settle(lambda: world.store.endpoints.get(ENDPOINT) is None, "the endpoint to go")
    assert world.store.tasks.list() == []
    assert world.store.services.list() == []
    assert world.lb.routes() == []
    assert world.engine.containers() == []
    assert len(set(world.engine.stopped_tasks())) == len(containers)
    assert not any(s.held_by_balancer for s in world.engine.stops)
    assert world.store.events("endpoint", ENDPOINT)[-1].message == "deleted"


# -- restarts ---------------------------------------------------------------------------------


def test_a_restarted_load_balancer_gets_every_healthy_replica_registered_again(
    world: World,
) -> None:
    world.deploy()
    world.in_service()
    replicas = world.replica_ids()
    started = world.engine.calls["run"]

    world.lb.restart()
    assert world.targets() == {}
    world.settle(lambda: len(world.targets()) == 2, "the replicas to be registered again")

    assert set(world.targets()) == replicas
    assert set(world.targets().values()) == {"healthy"}
    assert world.replica_ids() == replicas
    assert world.engine.calls["run"] == started
    assert world.lb.routes() == [ENDPOINT]


def test_a_restarted_daemon_adopts_the_same_replicas(
    make_world: WorldFactory, tmp_path: Path
) -> None:
    first = make_world(store=SqliteStore(tmp_path / "db"))
    first.deploy()
    first.in_service()
    replicas = first.replica_ids()
    started = first.engine.calls["run"]
    first.control_plane.stop()
    first.store.close()

    second = make_world(store=SqliteStore(tmp_path / "db"))
    second.step(3)

    assert second.replica_ids() == replicas
    assert second.status() == "InService"
    assert set(second.targets()) == replicas
    assert second.engine.calls["run"] == started
    assert second.engine.stops == []
    assert all(r.task.last_status is TaskStatus.RUNNING for r in second.replicas())


# -- startup timeout --------------------------------------------------------------------------


def test_an_endpoint_whose_replicas_never_pass_ping_fails_and_scales_to_zero(
    make_world: WorldFactory,
) -> None:
    world = make_world(probe=FakeHealthProbe(default=False))  # no ping ever answers
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.step(3)
    assert world.status() == "Creating"
    assert world.targets() == {}

    world.clock.advance(STARTUP_TIMEOUT_S + 1)
    world.settle(lambda: world.status() == "Failed", "the endpoint to fail")

    described = endpoints.describe(world.platform, ENDPOINT)
    assert f"within {STARTUP_TIMEOUT_S} seconds" in described["FailureReason"]
    world.settle(lambda: not world.replicas(), "the replicas to be scaled to zero")
    assert world.store.services.require(SERVICE).state.desired_count == 0
    assert not any(c.running for c in world.engine.containers())
    world.step(3)
    assert world.status() == "Failed"
    assert not world.replicas()


def test_an_update_whose_replicas_never_pass_ping_keeps_the_old_replicas_serving(
    world: World,
) -> None:
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.in_service()
    old = world.replica_ids()
    world.engine.add_image("model:1")
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.settle(lambda: len(world.replica_ids() - old) == 2, "the new replicas to start")
    for broken in world.replica_ids() - old:
        world.probe.set_healthy(world.container_of(broken).id, False)

    world.clock.advance(STARTUP_TIMEOUT_S + 1)
    world.step(6)

    assert world.targets() == dict.fromkeys(old, "healthy")
    assert all(world.running(world.container_of(t).id) for t in old)


def test_a_failed_update_rolls_back_to_the_configuration_that_served(world: World) -> None:
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.in_service()
    old = world.replica_ids()
    world.engine.add_image("model:1")
    world.deploy(ContainerStartupHealthCheckTimeoutInSeconds=STARTUP_TIMEOUT_S)
    world.settle(lambda: len(world.replica_ids() - old) == 2, "the new replicas to start")
    for broken in world.replica_ids() - old:
        world.probe.set_healthy(world.container_of(broken).id, False)

    world.clock.advance(STARTUP_TIMEOUT_S + 1)
    world.settle(lambda: world.replica_ids() == old, "the failed update's replicas to go")

    described = endpoints.describe(world.platform, ENDPOINT)
    assert described["EndpointStatus"] == "InService"
    assert "did not pass the ping health check" in described["FailureReason"]
    events = [e.message for e in world.platform.store.events("endpoint", ENDPOINT)]
    assert any(m.startswith("endpoint is RollingBack") for m in events)


# -- the data path ----------------------------------------------------------------------------


def test_where_the_engine_routes_to_containers_replicas_are_targeted_on_their_own_address(
    world: World,
) -> None:
    world.engine.routes_to_containers = True
    world.deploy()
    world.in_service()

    for record in world.replicas():
        container = world.container_of(record.task.task_id)
        assert container.host_ports == {}  # nothing published: no userland proxy
        assert [a.address for a in record.addresses] == [f"{container.ip_address}:8080"]
    addresses = {t.address for t in world.lb.targets(ENDPOINT)}
    assert addresses == {r.addresses[0].address for r in world.replicas()}


def test_where_it_does_not_replicas_are_targeted_on_their_published_loopback_port(
    world: World,
) -> None:
    world.deploy()
    world.in_service()

    for record in world.replicas():
        container = world.container_of(record.task.task_id)
        assert [a.address for a in record.addresses] == [f"127.0.0.1:{container.host_ports[8080]}"]


# -- multi-model endpoints --------------------------------------------------------------------

MULTI_MODELS_LABEL = {"com.amazonaws.sagemaker.capabilities.multi-models": "true"}


def test_a_multi_model_deploy_mounts_its_prefix_and_hashes_its_route(
    world: World, tmp_path: Path
) -> None:
    world.engine.add_image("mme:1", labels=MULTI_MODELS_LABEL)
    described = world.deploy(Image="mme:1", Mode="MultiModel", ModelDataUrl=str(tmp_path))

    assert described["Mode"] == "MultiModel"
    assert described["ModelDataUrl"] == tmp_path.as_uri()
    assert ENDPOINT in world.lb.affinity_routes
    world.in_service()
    service = world.store.services.require(SERVICE)
    definition = world.store.task_definitions.require(service.state.revision).registered.definition
    container = definition.container_definitions[0]
    assert container.environment_map["SAGEMAKER_MULTI_MODEL"] == "true"
    assert definition.volumes[0].host is not None
    assert definition.volumes[0].host.source_path == str(tmp_path)


def test_a_multi_model_deploy_refuses_an_image_without_the_capability_label(
    world: World, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as refused:
        world.deploy(Mode="MultiModel", ModelDataUrl=str(tmp_path))

    assert refused.value.field == "Image"
    assert "multi-models" in (refused.value.hint or "")
    assert world.store.endpoints.list() == []
    assert world.lb.routes() == []


def test_a_multi_model_prefix_must_be_a_folder(world: World, tmp_path: Path) -> None:
    world.engine.add_image("mme:1", labels=MULTI_MODELS_LABEL)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"")
    with pytest.raises(SpecError) as refused:
        world.deploy(Image="mme:1", Mode="MultiModel", ModelDataUrl=str(archive))

    assert refused.value.field == "ModelDataUrl"
    assert world.store.endpoints.list() == []


def test_an_endpoint_of_one_model_cannot_become_a_multi_model_one_by_update(
    world: World, tmp_path: Path
) -> None:
    world.deploy()
    world.engine.add_image("mme:1", labels=MULTI_MODELS_LABEL)
    with pytest.raises(Conflict, match="one model"):
        world.deploy(Image="mme:1", Mode="MultiModel", ModelDataUrl=str(tmp_path))
    assert ENDPOINT not in world.lb.affinity_routes
