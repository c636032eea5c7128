"""Task definitions: ECS's JSON in, validated model out, or a located SpecError."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.task_definition import (
    RegisteredTaskDefinition,
    TaskDefinition,
    parse_task_definition,
)
from dockyard.spec.task_size import FARGATE_MEMORY_BY_CPU

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def base() -> Doc:
    return {
        "family": "web",
        "containerDefinitions": [
            {"name": "app", "image": "nginx:1.25", "portMappings": [{"containerPort": 80}]}
        ],
    }


def fargate(cpu: str = "256", memory: str = "512") -> Doc:
    doc = base()
    doc.update(requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu=cpu, memory=memory)
    return doc


def two_containers() -> Doc:
    doc = base()
    doc["containerDefinitions"].append({"name": "sidecar", "image": "busybox", "essential": False})
    return doc


def error_for(doc: Doc) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_task_definition(doc)
    return caught.value


def with_(change: Callable[[Doc], object], start: Callable[[], Doc] = base) -> Doc:
    doc = copy.deepcopy(start())
    change(doc)
    return doc


def c0(doc: Doc) -> Doc:
    container: Doc = doc["containerDefinitions"][0]
    return container


# --- what valid documents turn into ------------------------------------------------


def test_minimal_task_definition_gets_ecs_defaults() -> None:
    task = parse_task_definition(base())
    container = task.container_definitions[0]
    assert container.essential is True
    assert container.port_mappings[0].protocol == "tcp"
    assert container.cpu == 0
    assert task.effective_network_mode == "bridge"
    assert task.essential_containers == frozenset({"app"})


def test_health_check_gets_ecs_defaults() -> None:
    doc = with_(lambda d: c0(d).update(healthCheck={"command": ["CMD-SHELL", "true"]}))
    check = parse_task_definition(doc).container_definitions[0].health_check
    assert check is not None
    assert (check.interval, check.timeout, check.retries, check.start_period) == (30, 5, 3, 0)


@pytest.mark.parametrize(
    ("cpu", "units"),
    [("1024", 1024), ("1 vCPU", 1024), ("1vcpu", 1024), ("0.25 vCPU", 256), ("2 VCPU", 2048)],
)
def test_task_cpu_is_stored_in_cpu_units(cpu: str, units: int) -> None:
    task = parse_task_definition(with_(lambda d: d.update(cpu=cpu)))
    assert task.cpu == str(units)
    assert task.cpu_units == units


@pytest.mark.parametrize(
    ("memory", "mib"), [("2048", 2048), ("2 GB", 2048), ("2GB", 2048), ("0.5 gb", 512)]
)
def test_task_memory_is_stored_in_mib(memory: str, mib: int) -> None:
    task = parse_task_definition(with_(lambda d: d.update(memory=memory)))
    assert task.memory == str(mib)
    assert task.memory_mib == mib


def test_every_fargate_task_size_is_accepted() -> None:
    for cpu, memories in FARGATE_MEMORY_BY_CPU.items():
        for memory in memories:
            task = parse_task_definition(fargate(str(cpu), str(memory)))
            assert (task.cpu_units, task.memory_mib) == (cpu, memory)


def test_document_round_trips_through_to_aws() -> None:
    doc = with_(
        lambda d: c0(d).update(
            environment=[{"name": "A", "value": "1"}],
            healthCheck={"command": ["CMD", "true"], "retries": 5},
            dockerLabels={"team": "ml"},
        )
    )
    task = parse_task_definition(doc)
    assert parse_task_definition(task.to_aws()) == task


def test_ecs_fields_dockyard_does_not_model_are_kept_and_listed() -> None:
    doc = with_(lambda d: (c0(d).update(dockerLabels={"a": "b"}), d.update(pidMode="task")))
    task = parse_task_definition(doc)
    assert task.to_aws()["containerDefinitions"][0]["dockerLabels"] == {"a": "b"}
    assert task.to_aws()["pidMode"] == "task"
    assert set(task.unmodelled_fields()) == {"pidMode", "containerDefinitions[0].dockerLabels"}


def test_python_code_may_construct_by_attribute_name() -> None:
    task = TaskDefinition.model_validate(
        {"family": "web", "container_definitions": [{"name": "a", "image": "i"}]}
    )
    assert task.container("a").image == "i"


def test_container_lookup_names_the_missing_container() -> None:
    with pytest.raises(KeyError, match="nope"):
        parse_task_definition(base()).container("nope")


def test_environment_map_keeps_the_last_value_of_a_name() -> None:
    doc = with_(
        lambda d: c0(d).update(
            environment=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
        )
    )
    assert parse_task_definition(doc).container_definitions[0].environment_map == {"A": "2"}


def test_stop_timeout_defaults_to_30_seconds() -> None:
    container = parse_task_definition(base()).container_definitions[0]
    assert container.effective_stop_timeout == 30


def test_registered_revision_is_named_family_colon_revision() -> None:
    registered = RegisteredTaskDefinition(
        family="web", revision=3, definition=parse_task_definition(base())
    )
    assert registered.key == "web:3"
    described = registered.to_aws()
    assert (described["family"], described["revision"], described["status"]) == ("web", 3, "ACTIVE")


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SpecError, match="JSON object"):
        parse_task_definition(["not", "a", "dict"])  # type: ignore[arg-type]


def test_several_problems_are_reported_together() -> None:
    doc = with_(lambda d: (c0(d).update(cpu="1"), d.update(networkMode="nope")))
    error = error_for(doc)
    fields = [problem["field"] for problem in error.to_dict()["errors"]]
    assert fields == ["containerDefinitions[0].cpu", "networkMode"]
    assert "2 problems" in error.message and "networkMode" in error.message


# --- every rule: the field it points at and the fix it suggests ---------------------

INVALID: list[tuple[str, Callable[[], Doc], str, str]] = [
    # (id, document, field, fragment of the hint)
    (
        "port-too-high",
        lambda: with_(lambda d: c0(d)["portMappings"][0].update(containerPort=70000)),
        "containerDefinitions[0].portMappings[0].containerPort",
        "from 1 to 65535",
    ),
    (
        "port-zero",
        lambda: with_(lambda d: c0(d)["portMappings"][0].update(containerPort=0)),
        "containerDefinitions[0].portMappings[0].containerPort",
        "from 1 to 65535",
    ),
    (
        "port-as-string",
        lambda: with_(lambda d: c0(d)["portMappings"][0].update(containerPort="80")),
        "containerDefinitions[0].portMappings[0].containerPort",
        "write 80 without quotes",
    ),
    (
        "port-missing",
        lambda: with_(lambda d: c0(d).update(portMappings=[{"hostPort": 80}])),
        "containerDefinitions[0].portMappings[0].containerPort",
        'add "containerPort"',
    ),
    (
        "host-port-negative",
        lambda: with_(lambda d: c0(d)["portMappings"][0].update(hostPort=-1)),
        "containerDefinitions[0].portMappings[0].hostPort",
        "from 0 to 65535",
    ),
    (
        "protocol-case",
        lambda: with_(lambda d: c0(d)["portMappings"][0].update(protocol="TCP")),
        "containerDefinitions[0].portMappings[0].protocol",
        'did you mean "tcp"',
    ),
    (
        "typo-in-field",
        lambda: with_(lambda d: c0(d).update(portMappings=[{"containerPrt": 80}])),
        "containerDefinitions[0].portMappings[0].containerPrt",
        'did you mean "containerPort"',
    ),
    (
        "pascal-case-field",
        lambda: with_(lambda d: c0(d).update(portMappings=[{"ContainerPort": 80}])),
        "containerDefinitions[0].portMappings[0].ContainerPort",
        'did you mean "containerPort"',
    ),
    (
        "snake-case-field",
        lambda: with_(lambda d: c0(d).update(portMappings=[{"container_port": 80}])),
        "containerDefinitions[0].portMappings[0].container_port",
        'did you mean "containerPort"',
    ),
    (
        "unknown-field",
        lambda: with_(lambda d: c0(d).update(flavour="x")),
        "containerDefinitions[0].flavour",
        "ContainerDefinition fields include",
    ),
    ("output-only-field", lambda: with_(lambda d: d.update(revision=3)), "revision", "remove it"),
    (
        "image-missing",
        lambda: with_(lambda d: c0(d).pop("image")),
        "containerDefinitions[0].image",
        'add "image" to containerDefinitions[0]',
    ),
    (
        "image-empty",
        lambda: with_(lambda d: c0(d).update(image=" ")),
        "containerDefinitions[0].image",
        "give it a value",
    ),
    (
        "name-with-space",
        lambda: with_(lambda d: c0(d).update(name="my app")),
        "containerDefinitions[0].name",
        "letters, digits, hyphens and underscores",
    ),
    ("family-missing", lambda: with_(lambda d: d.pop("family")), "family", 'add "family"'),
    (
        "family-too-long",
        lambda: with_(lambda d: d.update(family="f" * 256)),
        "family",
        "1-255 letters",
    ),
    (
        "no-containers",
        lambda: with_(lambda d: d.update(containerDefinitions=[])),
        "containerDefinitions",
        "add a container definition",
    ),
    (
        "containers-not-a-list",
        lambda: with_(lambda d: d.update(containerDefinitions={"a": 1})),
        "containerDefinitions",
        "wrap the value in [ ]",
    ),
    (
        "container-not-an-object",
        lambda: with_(lambda d: d.update(containerDefinitions=["app"])),
        "containerDefinitions[0]",
        "write it as {",
    ),
    (
        "no-essential",
        lambda: with_(lambda d: c0(d).update(essential=False)),
        "containerDefinitions",
        '"essential": true',
    ),
    (
        "essential-as-string",
        lambda: with_(lambda d: c0(d).update(essential="true")),
        "containerDefinitions[0].essential",
        "true or false without quotes",
    ),
    (
        "duplicate-names",
        lambda: with_(lambda d: d["containerDefinitions"].append({"name": "app", "image": "x"})),
        "containerDefinitions[1].name",
        "its own name",
    ),
    (
        "depends-on-typo",
        lambda: with_(
            lambda d: c0(d).update(dependsOn=[{"containerName": "sidecr", "condition": "START"}]),
            two_containers,
        ),
        "containerDefinitions[0].dependsOn[0].containerName",
        'did you mean "sidecar"',
    ),
    (
        "depends-on-unknown",
        lambda: with_(
            lambda d: c0(d).update(dependsOn=[{"containerName": "zzz", "condition": "START"}])
        ),
        "containerDefinitions[0].dependsOn[0].containerName",
        "name one of the task's containers",
    ),
    (
        "depends-on-self",
        lambda: with_(
            lambda d: c0(d).update(dependsOn=[{"containerName": "app", "condition": "START"}])
        ),
        "containerDefinitions[0].dependsOn[0].containerName",
        "another container",
    ),
    (
        "depends-on-bad-condition",
        lambda: with_(
            lambda d: c0(d).update(
                dependsOn=[{"containerName": "sidecar", "condition": "STARTED"}]
            ),
            two_containers,
        ),
        "containerDefinitions[0].dependsOn[0].condition",
        'did you mean "START"',
    ),
    (
        "healthy-needs-health-check",
        lambda: with_(
            lambda d: c0(d).update(
                dependsOn=[{"containerName": "sidecar", "condition": "HEALTHY"}]
            ),
            two_containers,
        ),
        "containerDefinitions[0].dependsOn[0].condition",
        'add a healthCheck to "sidecar"',
    ),
    (
        "complete-on-essential",
        lambda: with_(
            lambda d: (
                d["containerDefinitions"][1].update(essential=True),
                c0(d).update(dependsOn=[{"containerName": "sidecar", "condition": "COMPLETE"}]),
            ),
            two_containers,
        ),
        "containerDefinitions[0].dependsOn[0].condition",
        '"essential": false',
    ),
    (
        "depends-on-cycle",
        lambda: with_(
            lambda d: (
                c0(d).update(dependsOn=[{"containerName": "sidecar", "condition": "START"}]),
                d["containerDefinitions"][1].update(
                    dependsOn=[{"containerName": "app", "condition": "START"}]
                ),
            ),
            two_containers,
        ),
        "containerDefinitions[0].dependsOn",
        "remove one of these dependencies",
    ),
    (
        "interval-too-short",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "interval": 4})
        ),
        "containerDefinitions[0].healthCheck.interval",
        "from 5 to 300",
    ),
    (
        "interval-too-long",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "interval": 301})
        ),
        "containerDefinitions[0].healthCheck.interval",
        "from 5 to 300",
    ),
    (
        "timeout-too-short",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "timeout": 1})
        ),
        "containerDefinitions[0].healthCheck.timeout",
        "from 2 to 60",
    ),
    (
        "timeout-too-long",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "timeout": 61})
        ),
        "containerDefinitions[0].healthCheck.timeout",
        "from 2 to 60",
    ),
    (
        "retries-zero",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "retries": 0})
        ),
        "containerDefinitions[0].healthCheck.retries",
        "from 1 to 10",
    ),
    (
        "retries-too-many",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "retries": 11})
        ),
        "containerDefinitions[0].healthCheck.retries",
        "from 1 to 10",
    ),
    (
        "start-period-negative",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "startPeriod": -1})
        ),
        "containerDefinitions[0].healthCheck.startPeriod",
        "from 0 to 300",
    ),
    (
        "start-period-too-long",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "true"], "startPeriod": 301})
        ),
        "containerDefinitions[0].healthCheck.startPeriod",
        "from 0 to 300",
    ),
    (
        "health-command-without-kind",
        lambda: with_(lambda d: c0(d).update(healthCheck={"command": ["curl -f localhost"]})),
        "containerDefinitions[0].healthCheck.command",
        '["CMD-SHELL", ',
    ),
    (
        "health-command-missing",
        lambda: with_(lambda d: c0(d).update(healthCheck={})),
        "containerDefinitions[0].healthCheck.command",
        'add "command"',
    ),
    (
        "reservation-above-memory",
        lambda: with_(lambda d: c0(d).update(memory=256, memoryReservation=512)),
        "containerDefinitions[0].memoryReservation",
        "lower memoryReservation",
    ),
    (
        "memory-too-small",
        lambda: with_(lambda d: c0(d).update(memory=4)),
        "containerDefinitions[0].memory",
        "use 6 or more",
    ),
    (
        "mount-undeclared-volume",
        lambda: with_(
            lambda d: c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}])
        ),
        "containerDefinitions[0].mountPoints[0].sourceVolume",
        'declare it in "volumes": [{"name": "data"}]',
    ),
    (
        "mount-volume-typo",
        lambda: with_(
            lambda d: (
                d.update(volumes=[{"name": "data"}]),
                c0(d).update(mountPoints=[{"sourceVolume": "dta", "containerPath": "/d"}]),
            )
        ),
        "containerDefinitions[0].mountPoints[0].sourceVolume",
        'did you mean "data"',
    ),
    (
        "mount-relative-path",
        lambda: with_(
            lambda d: (
                d.update(volumes=[{"name": "data"}]),
                c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "data"}]),
            )
        ),
        "containerDefinitions[0].mountPoints[0].containerPath",
        'start it with "/"',
    ),
    (
        "volumes-from-unknown",
        lambda: with_(
            lambda d: c0(d).update(volumesFrom=[{"sourceContainer": "sidecr"}]), two_containers
        ),
        "containerDefinitions[0].volumesFrom[0].sourceContainer",
        'did you mean "sidecar"',
    ),
    (
        "volumes-from-self",
        lambda: with_(lambda d: c0(d).update(volumesFrom=[{"sourceContainer": "app"}])),
        "containerDefinitions[0].volumesFrom[0].sourceContainer",
        "other containers",
    ),
    (
        "duplicate-volume",
        lambda: with_(lambda d: d.update(volumes=[{"name": "v"}, {"name": "v"}])),
        "volumes[1].name",
        "its own name",
    ),
    (
        "host-path-relative",
        lambda: with_(lambda d: d.update(volumes=[{"name": "v", "host": {"sourcePath": "data"}}])),
        "volumes[0].host.sourcePath",
        'start it with "/"',
    ),
    (
        "bad-network-mode",
        lambda: with_(lambda d: d.update(networkMode="awsvpcc")),
        "networkMode",
        'did you mean "awsvpc"',
    ),
    (
        "bad-compatibility",
        lambda: with_(lambda d: d.update(requiresCompatibilities=["FARGAT"])),
        "requiresCompatibilities[0]",
        'did you mean "FARGATE"',
    ),
    ("cpu-unknown-unit", lambda: with_(lambda d: d.update(cpu="1 GHz")), "cpu", '"1 vCPU"'),
    ("cpu-gibberish", lambda: with_(lambda d: d.update(cpu="lots")), "cpu", '"1 vCPU"'),
    ("cpu-too-small", lambda: with_(lambda d: d.update(cpu="64")), "cpu", "from 128 to 196608"),
    ("cpu-fraction-of-unit", lambda: with_(lambda d: d.update(cpu="0.0001 vcpu")), "cpu", '"1024"'),
    ("cpu-as-number", lambda: with_(lambda d: d.update(cpu=1024)), "cpu", "quote the value"),
    ("memory-zero", lambda: with_(lambda d: d.update(memory="0")), "memory", '"2 GB"'),
    ("memory-unknown-unit", lambda: with_(lambda d: d.update(memory="2 TB")), "memory", '"2 GB"'),
    ("fargate-without-cpu", lambda: with_(lambda d: d.pop("cpu"), fargate), "cpu", '"cpu": "256"'),
    (
        "fargate-without-memory",
        lambda: with_(lambda d: d.pop("memory"), fargate),
        "memory",
        '"memory": "512"',
    ),
    ("fargate-bad-pair", lambda: fargate("256", "4096"), "memory", "512 or 1024 or 2048"),
    (
        "fargate-bad-pair-large",
        lambda: fargate("1024", "1024"),
        "memory",
        "from 2048 to 8192 in steps of 1024",
    ),
    ("fargate-bad-cpu", lambda: fargate("384", "1024"), "cpu", "0.25, 0.5, 1, 2, 4, 8 or 16 vCPU"),
    (
        "fargate-bridge",
        lambda: with_(lambda d: d.update(networkMode="bridge"), fargate),
        "networkMode",
        '"networkMode": "awsvpc"',
    ),
    (
        "fargate-stop-timeout",
        lambda: with_(lambda d: c0(d).update(stopTimeout=121), fargate),
        "containerDefinitions[0].stopTimeout",
        "from 2 to 120",
    ),
    (
        "fargate-host-path",
        lambda: with_(
            lambda d: d.update(volumes=[{"name": "v", "host": {"sourcePath": "/srv"}}]), fargate
        ),
        "volumes[0].host.sourcePath",
        'remove "sourcePath"',
    ),
    (
        "ec2-without-memory",
        lambda: with_(lambda d: d.update(requiresCompatibilities=["EC2"])),
        "containerDefinitions[0].memory",
        "memory/memoryReservation on the container",
    ),
    (
        "containers-exceed-task-memory",
        lambda: with_(lambda d: (d.update(memory="512"), c0(d).update(memory=1024))),
        "memory",
        "raise the task memory",
    ),
    (
        "containers-exceed-task-cpu",
        lambda: with_(lambda d: (d.update(cpu="256"), c0(d).update(cpu=512))),
        "cpu",
        "raise the task cpu",
    ),
    (
        "awsvpc-host-port-differs",
        lambda: with_(
            lambda d: (
                d.update(networkMode="awsvpc"),
                c0(d)["portMappings"][0].update(hostPort=8080),
            )
        ),
        "containerDefinitions[0].portMappings[0].hostPort",
        "remove hostPort",
    ),
    (
        "awsvpc-port-clash",
        lambda: with_(
            lambda d: (
                d.update(networkMode="awsvpc"),
                d["containerDefinitions"][1].update(portMappings=[{"containerPort": 80}]),
            ),
            two_containers,
        ),
        "containerDefinitions[1].portMappings[0].containerPort",
        "its own containerPort",
    ),
    (
        "ulimit-soft-above-hard",
        lambda: with_(
            lambda d: c0(d).update(ulimits=[{"name": "nofile", "softLimit": 10, "hardLimit": 5}])
        ),
        "containerDefinitions[0].ulimits[0].softLimit",
        "less than or equal to hardLimit",
    ),
    (
        "ulimit-unknown-name",
        lambda: with_(
            lambda d: c0(d).update(ulimits=[{"name": "nofiles", "softLimit": 1, "hardLimit": 5}])
        ),
        "containerDefinitions[0].ulimits[0].name",
        'did you mean "nofile"',
    ),
    (
        "log-driver-unknown",
        lambda: with_(lambda d: c0(d).update(logConfiguration={"logDriver": "aws-logs"})),
        "containerDefinitions[0].logConfiguration.logDriver",
        'did you mean "awslogs"',
    ),
    (
        "env-without-name",
        lambda: with_(lambda d: c0(d).update(environment=[{"value": "1"}])),
        "containerDefinitions[0].environment[0].name",
        'add "name"',
    ),
    (
        "secret-without-source",
        lambda: with_(lambda d: c0(d).update(secrets=[{"name": "TOKEN"}])),
        "containerDefinitions[0].secrets[0].valueFrom",
        'add "valueFrom"',
    ),
    (
        "swappiness-too-high",
        lambda: with_(lambda d: c0(d).update(linuxParameters={"swappiness": 101})),
        "containerDefinitions[0].linuxParameters.swappiness",
        "from 0 to 100",
    ),
    (
        "tmpfs-relative",
        lambda: with_(
            lambda d: c0(d).update(
                linuxParameters={"tmpfs": [{"containerPath": "tmp", "size": 64}]}
            )
        ),
        "containerDefinitions[0].linuxParameters.tmpfs[0].containerPath",
        'start it with "/"',
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "hint"),
    [pytest.param(make, field, hint, id=name) for name, make, field, hint in INVALID],
)
def test_invalid_task_definition_points_at_the_field_and_the_fix(
    make: Callable[[], Doc], field: str, hint: str
) -> None:
    error = error_for(make())
    assert error.field == field
    assert error.hint is not None and hint in error.hint, error.hint
    assert error.message
