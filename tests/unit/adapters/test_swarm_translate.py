"""Container specs as swarm services and swarm tasks as container states (no swarm)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.adapters.engine.swarm_cluster import join_url, parse_join_url
from dockyard.adapters.engine.swarm_translate import (
    NodeView,
    current_task,
    node_view,
    service_args,
    service_name,
    task_state,
)
from dockyard.errors import SpecError
from dockyard.ports.engine import ContainerSpec, HealthCheck

NODES = {
    "n1": NodeView("n1", "manager", "10.0.0.11", ready=True),
    "n2": NodeView("n2", "worker", "10.0.0.12", ready=False),
}


def _spec(**changes: Any) -> ContainerSpec:
    base: dict[str, Any] = {
        "name": "web-1234abcd-app",
        "image": "127.0.0.1:5000/web:1",
        "command": ["serve"],
        "env": {"A": "1"},
        "labels": {"dockyard.task": "t1"},
        "ports": [8080],
        "cpus": 0.5,
        "memory_mib": 256,
        "cpu_shares": 512,
        "memory_reservation_mib": 128,
    }
    return ContainerSpec(**{**base, **changes})


def test_limits_become_limits_and_ecs_units_reservations() -> None:
    args = service_args(_spec())
    resources = args["task_template"]["Resources"]
    assert resources["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 256 * 1024 * 1024}
    assert resources["Reservations"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 128 * 1024**2}


def test_one_replica_no_restarts_host_mode_ports_labels_env() -> None:
    args = service_args(_spec())
    assert args["mode"] == {"replicated": {"Replicas": 1}}
    assert args["task_template"]["RestartPolicy"]["Condition"] == "none"
    assert args["endpoint_spec"] == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}],
    }
    container = args["task_template"]["ContainerSpec"]
    assert container["Args"] == ["serve"] and container["Command"] is None
    assert container["Env"] == ["A=1"]
    assert container["Labels"] == args["labels"] == {"dockyard.task": "t1"}


def test_unpublished_ports_and_training_hosts_on_an_overlay() -> None:
    args = service_args(
        _spec(ports=[], publish=False, network="job-net", hostname="algo-2", network_aliases=[])
    )
    assert args["endpoint_spec"] == {"Mode": "dnsrr"}
    (network,) = args["task_template"]["Networks"]
    assert (network["Target"], network["Aliases"]) == ("job-net", ["algo-2"])
    assert args["task_template"]["ContainerSpec"]["Hostname"] == "algo-2"


def test_a_shared_network_namespace_is_refused_naming_the_field() -> None:
    with pytest.raises(SpecError) as raised:
        service_args(_spec(network="container:abc"))
    assert raised.value.field == "networkMode"


def test_health_check_in_nanoseconds() -> None:
    check = HealthCheck(["CMD-SHELL", "true"], interval_s=5, timeout_s=2, retries=3)
    container = service_args(_spec(health_check=check))["task_template"]["ContainerSpec"]
    assert container["Healthcheck"]["Interval"] == 5_000_000_000


def _service(healthcheck: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": "127.0.0.1:5000/web:1@sha256:abc"}
    if healthcheck:
        container["Healthcheck"] = {"Test": ["CMD", "true"]}
    return {
        "ID": "svc1",
        "Spec": {
            "Name": "web-1234abcd-app",
            "Labels": {"dockyard.task": "t1"},
            "TaskTemplate": {"ContainerSpec": container},
        },
    }


def _task(state: str, node: str = "n1", **status: Any) -> dict[str, Any]:
    return {
        "NodeID": node,
        "CreatedAt": "2026-01-01T00:00:00Z",
        "Status": {"State": state, "Timestamp": "2026-01-01T00:00:01Z", **status},
        "NetworksAttachments": [{"Addresses": ["10.0.1.5/24"]}],
    }


def test_a_running_task_is_reached_on_its_nodes_published_port() -> None:
    ports = {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 30001}] * 2}
    state = task_state(_service(), _task("running", PortStatus=ports), NODES)
    assert state.id == "svc1" and state.running
    assert state.host_ports == {8080: 30001} and state.host_address == "10.0.0.11"
    assert state.image == "127.0.0.1:5000/web:1"
    assert state.ip_address == "10.0.1.5"


def test_a_finished_task_keeps_its_exit_code() -> None:
    done = task_state(_service(), _task("complete", ContainerStatus={"ExitCode": 0}), NODES)
    failed = task_state(
        _service(), _task("failed", Err="non-zero exit", ContainerStatus={"ExitCode": 3}), NODES
    )
    assert (done.status, done.exit_code) == ("exited", 0)
    assert (failed.status, failed.exit_code, failed.error) == ("exited", 3, "non-zero exit")


def test_a_task_on_a_node_that_is_down_is_dead_naming_the_node() -> None:
    state = task_state(_service(), _task("running", node="n2"), NODES)
    assert state.status == "dead"
    assert "worker" in state.error and "10.0.0.12" in state.error


def test_a_bind_source_missing_on_the_node_says_paths_must_be_shared() -> None:
    err = 'invalid mount config for type "bind": bind source path does not exist: /srv/m'
    state = task_state(_service(), _task("rejected", Err=err), NODES)
    assert state.status == "dead"
    assert state.error.startswith(err)
    assert "every node mounts at the same path" in state.error and "--model-data" in state.error


def test_pending_and_unscheduled_tasks_are_created() -> None:
    pending = task_state(_service(), _task("pending", Err="no suitable node"), NODES)
    assert (pending.status, pending.error) == ("created", "no suitable node")
    assert task_state(_service(), None, NODES).status == "created"


def _scaled_to_zero() -> dict[str, Any]:
    service = _service()
    service["Spec"]["Mode"] = {"Replicated": {"Replicas": 0}}
    return service


def test_a_service_scaled_to_zero_whose_task_swarm_deleted_is_stopped() -> None:
    """``stop`` scales the service to 0; swarm then deletes its task within about a
    second of its shutdown (a task never placed, at once). Read as still starting, the
    task would never be seen stopped, and a delete waiting for it would wait forever."""
    gone = task_state(_scaled_to_zero(), None, NODES)
    assert gone.status == "exited" and not gone.running
    assert task_state(_service(), None, NODES).status == "created"  # not made yet


@pytest.mark.parametrize("word", ["new", "pending", "assigned", "preparing", "starting"])
@pytest.mark.parametrize("desired", ["shutdown", "remove"])
def test_a_task_being_removed_before_it_ran_is_stopped(word: str, desired: str) -> None:
    never_placed = {**_task(word, Err="no suitable node"), "DesiredState": desired}
    assert task_state(_scaled_to_zero(), never_placed, NODES).status == "exited"
    still_wanted = {**_task(word), "DesiredState": "running"}
    assert task_state(_service(), still_wanted, NODES).status == "created"


def test_health_follows_the_task_where_a_check_is_set() -> None:
    assert task_state(_service(True), _task("running"), NODES).health == "healthy"
    assert task_state(_service(True), _task("starting"), NODES).health == "starting"
    assert task_state(_service(False), _task("running"), NODES).health is None


def test_the_newest_task_stands_for_the_replica() -> None:
    old = {**_task("shutdown"), "CreatedAt": "2026-01-01T00:00:00Z"}
    new = {**_task("running"), "CreatedAt": "2026-01-01T00:01:00Z"}
    assert current_task([new, old]) is new and current_task([]) is None


def test_node_address_falls_back_to_the_manager_address() -> None:
    doc = {
        "ID": "n1",
        "Status": {"State": "ready", "Addr": "0.0.0.0"},
        "ManagerStatus": {"Addr": "10.0.0.11:2377"},
    }
    assert node_view(doc).address == "10.0.0.11"


def test_join_url_round_trip_and_refusal() -> None:
    url = join_url("SWMTKN-1-abc", "10.0.0.11")
    assert url == "swarm://SWMTKN-1-abc@10.0.0.11:2377"
    assert parse_join_url(url) == ("SWMTKN-1-abc", "10.0.0.11:2377")
    with pytest.raises(SpecError) as raised:
        parse_join_url("10.0.0.11:2377")
    assert raised.value.field == "url"


def test_a_long_container_name_becomes_a_service_name_swarm_accepts() -> None:
    # an endpoint's replica: ENDPOINT-VARIANT-TASK-ENDPOINT, 64 characters here; swarm
    # refuses a service name over 63 ("name must be 63 characters or fewer")
    long = "dy-iris-ep-c970b1af-170-AllTraffic-84e16c0e-dy-iris-ep-c970b1af-170"
    name = service_args(_spec(name=long))["name"]
    assert len(name) <= 63
    assert name.startswith("dy-iris-ep-c970b1af-170-AllTraffic-84e16c0e-dy-iris")
    other = service_name(long.replace("84e16c0e", "59ad9496"))
    assert other != name and len(other) <= 63  # another task's name stays apart
    assert service_name("web-1234abcd-app") == "web-1234abcd-app"  # short names unchanged
