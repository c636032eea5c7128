"""Pure decisions about a task's namespace, limits and volumes (ECS's rules)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

from dockyard.control.task import new_task
from dockyard.control.task_limits import container_limits, task_size
from dockyard.control.task_network import (
    NamespaceHolder,
    namespace_holder,
    namespace_ports,
    release_namespace,
    shares_namespace,
)
from dockyard.control.task_state import TaskStatus
from dockyard.control.task_volumes import VolumeError, VolumeKind, container_mounts
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition

pytestmark = pytest.mark.unit

ROOT = PurePosixPath("/state/volumes")


def definition(**task: Any) -> TaskDefinition:
    containers = task.pop("containers", None) or [
        {"name": "app", "image": "app:1", "portMappings": [{"containerPort": 8080}]},
        {"name": "proxy", "image": "proxy:1", "portMappings": [{"containerPort": 9901}]},
    ]
    return parse_task_definition({"family": "web", "containerDefinitions": containers, **task})


def test_an_awsvpc_task_of_several_containers_shares_one_namespace() -> None:
    assert shares_namespace(definition(networkMode="awsvpc"))
    assert namespace_ports(definition(networkMode="awsvpc")) == (8080, 9901)


def test_single_containers_bridge_tasks_and_training_hosts_keep_their_own() -> None:
    one = [{"name": "app", "image": "app:1"}]
    assert not shares_namespace(definition(networkMode="awsvpc", containers=one))
    assert not shares_namespace(definition(networkMode="bridge"))
    assert not shares_namespace(definition())  # bridge by default
    assert not shares_namespace(definition(networkMode="awsvpc"), own_network="job-net")


def test_the_namespace_is_released_only_once_the_task_stopped() -> None:
    task = new_task("t1", definition(networkMode="awsvpc"), "web:1", 0.0)
    assert not release_namespace(task)
    assert release_namespace(task.__class__(**{**task.__dict__, "last_status": TaskStatus.STOPPED}))


TRAINING = [{"name": "training", "image": "trainer:1"}]


def test_an_awsvpc_task_s_holder_publishes_its_ports_on_the_default_network() -> None:
    holder = namespace_holder(definition(networkMode="awsvpc"))
    assert holder == NamespaceHolder(ports=(8080, 9901))
    assert not holder.until_reaped


def test_a_host_of_several_holds_its_name_on_the_job_network_until_reaped() -> None:
    holder = namespace_holder(
        definition(containers=TRAINING),
        own_network="job-net",
        hostnames={"training": "algo-2"},
        hold_names=True,
    )
    assert holder == NamespaceHolder(network="job-net", hostname="algo-2", until_reaped=True)


def test_no_holder_for_a_lone_host_or_where_the_engine_cannot_join_namespaces() -> None:
    host = {"own_network": "job-net", "hostnames": {"training": "algo-1"}}
    training = definition(containers=TRAINING)
    assert namespace_holder(training, **host) is None  # a job of one host
    assert namespace_holder(training, **host, hold_names=True, engine_joins=False) is None
    assert namespace_holder(training, own_network="job-net", hold_names=True) is None


def test_a_holder_of_names_is_never_released_before_the_reap() -> None:
    task = new_task("t1", definition(containers=TRAINING), "training:1", 0.0)
    stopped = task.__class__(**{**task.__dict__, "last_status": TaskStatus.STOPPED})
    names = NamespaceHolder(network="job-net", hostname="algo-1", until_reaped=True)
    assert not release_namespace(stopped, names)
    assert release_namespace(stopped, NamespaceHolder())


def test_container_cpu_is_shares_and_the_task_size_a_cgroup_for_all() -> None:
    task = definition(
        cpu="1024",
        memory="2048",
        containers=[
            {"name": "app", "image": "a", "cpu": 512, "memory": 1024, "memoryReservation": 256},
            {"name": "log", "image": "b", "cpu": 1},
        ],
    )
    assert task_size(task).cpus == 1.0 and task_size(task).memory_mib == 2048
    app = container_limits(task, task.container("app"), task_cgroup=True)
    assert (app.cpu_shares, app.cpus, app.memory_mib, app.memory_reservation_mib) == (
        512,
        None,
        1024,
        256,
    )
    log = container_limits(task, task.container("log"), task_cgroup=True)
    assert (log.cpu_shares, log.cpus, log.memory_mib) == (2, None, None)  # the kernel's least


def test_without_a_task_cgroup_each_container_is_bounded_by_the_task_size() -> None:
    task = definition(cpu="512", memory="1024", containers=[{"name": "app", "image": "a"}])
    limits = container_limits(task, task.container("app"), task_cgroup=False)
    assert (limits.cpu_shares, limits.cpus, limits.memory_mib) == (None, 0.5, 1024)


def volumes_task() -> TaskDefinition:
    return definition(
        volumes=[
            {"name": "scratch"},
            {"name": "logs", "host": {"sourcePath": "/var/log/app"}},
            {
                "name": "cache",
                "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True},
            },
            {"name": "fixed", "dockerVolumeConfiguration": {"scope": "shared"}},
            {"name": "tmp", "dockerVolumeConfiguration": {"scope": "task"}},
            {
                "name": "models",
                "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/m"},
            },
        ],
        containers=[
            {
                "name": "app",
                "image": "a",
                "mountPoints": [
                    {"sourceVolume": v, "containerPath": f"/{v}", "readOnly": v == "models"}
                    for v in ("scratch", "logs", "cache", "fixed", "tmp", "models")
                ],
            },
            {
                "name": "reader",
                "image": "b",
                "volumesFrom": [{"sourceContainer": "app", "readOnly": True}],
            },
        ],
    )


def test_each_volume_kind_maps_to_its_directory() -> None:
    task = volumes_task()
    mounts = {m.volume: m for m in container_mounts(task, task.container("app"), "t1", ROOT)}
    assert (mounts["scratch"].kind, mounts["scratch"].source) == (
        VolumeKind.TASK,
        "/state/volumes/t1/scratch",
    )
    assert (mounts["logs"].kind, mounts["logs"].source, mounts["logs"].create) == (
        VolumeKind.HOST,
        "/var/log/app",
        False,
    )
    assert (mounts["cache"].source, mounts["cache"].create) == ("/state/volumes/shared/cache", True)
    assert (mounts["fixed"].kind, mounts["fixed"].create) == (
        VolumeKind.SHARED,
        False,
    )  # no autoprovision
    assert mounts["tmp"].kind is VolumeKind.TASK
    assert (mounts["models"].source, mounts["models"].read_only) == (
        "/state/volumes/efs/fs-1/m",
        True,
    )
    assert not mounts["scratch"].read_only


def test_volumes_from_takes_the_source_mounts_read_only_when_asked() -> None:
    task = volumes_task()
    mounts = container_mounts(task, task.container("reader"), "t1", ROOT)
    assert [m.target for m in mounts] == [
        "/scratch",
        "/logs",
        "/cache",
        "/fixed",
        "/tmp",
        "/models",
    ]
    assert all(m.read_only for m in mounts)


def test_an_efs_root_directory_may_not_climb_out() -> None:
    task = definition(
        volumes=[
            {
                "name": "v",
                "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/../../etc"},
            }
        ],
        containers=[
            {
                "name": "a",
                "image": "a",
                "mountPoints": [{"sourceVolume": "v", "containerPath": "/v"}],
            }
        ],
    )
    with pytest.raises(VolumeError, match=r"\.\."):
        container_mounts(task, task.container("a"), "t1", ROOT)
