"""Task definitions held to botocore's whole shape, ECS's unwritten rules, all at once.

Complements ``test_task_definition_spec.py`` (one rule per row, its field and hint):
here every member AWS defines is type-checked even where Dockyard does not model it,
Fargate's and awsvpc's rules are enforced, every problem of a document comes back in
one error, and members kept but not acted on come back as warnings. Two realistic
documents (a Fargate web service with a log router, an EC2 worker with links, devices
and Docker volumes) must pass unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.aws_shape import check_shape
from dockyard.spec.errors import InvalidDocument
from dockyard.spec.task_definition import parse_task_definition, warnings

pytestmark = pytest.mark.unit

Doc = dict[str, Any]
EXAMPLES = Path(__file__).parent / "task_definitions"


def example(name: str) -> Doc:
    doc: Doc = json.loads((EXAMPLES / f"{name}.json").read_text())
    return doc


def base() -> Doc:
    return {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.25"}]}


def fargate() -> Doc:
    doc = base()
    doc.update(requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512")
    return doc


def with_(change: Callable[[Doc], object], start: Callable[[], Doc] = base) -> Doc:
    doc = copy.deepcopy(start())
    change(doc)
    return doc


def c0(doc: Doc) -> Doc:
    container: Doc = doc["containerDefinitions"][0]
    return container


def problems(doc: Doc) -> list[dict[str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_task_definition(doc)
    errors: list[dict[str, str]] = caught.value.to_dict().get("errors", [])
    assert errors, caught.value
    return errors


def fields(doc: Doc) -> list[str]:
    return [problem["field"] for problem in problems(doc)]


# --- realistic documents pass, unchanged ---------------------------------------------


@pytest.mark.parametrize("name", ["fargate-web", "ec2-worker"])
def test_realistic_task_definitions_register_unchanged(name: str) -> None:
    doc = example(name)
    task = parse_task_definition(doc)
    assert task.family == doc["family"]
    assert parse_task_definition(task.to_aws()) == task
    described = task.to_aws()
    for key, value in doc.items():
        if key not in ("cpu", "memory"):
            assert described[key] == value or key == "containerDefinitions", key


def test_fargate_example_warns_about_what_it_does_not_act_on() -> None:
    found = warnings(parse_task_definition(example("fargate-web")))
    assert (
        "containerDefinitions[0].dockerLabels: accepted and kept, but Dockyard does not act "
        "on it locally" in found
    )
    assert any(w.startswith("containerDefinitions[1].firelensConfiguration:") for w in found)
    assert not any(w.startswith("containerDefinitions[0].healthCheck") for w in found)


def test_a_document_without_unmodelled_members_has_no_warnings() -> None:
    assert warnings(parse_task_definition(base())) == []


# --- the issue's examples -----------------------------------------------------------

ISSUE: list[tuple[str, Callable[[], Doc], str, str]] = [
    (
        "docker-label-integer",
        lambda: with_(lambda d: c0(d).update(dockerLabels={"team": "ml", "tier": 2})),
        "containerDefinitions[0].dockerLabels.tier",
        "must be a string",
    ),
    (
        "tag-without-key",
        lambda: with_(lambda d: d.update(tags=[{"value": "ml"}])),
        "tags[0].key",
        "needs a key",
    ),
    (
        "fargate-privileged",
        lambda: with_(lambda d: c0(d).update(privileged=True), fargate),
        "containerDefinitions[0].privileged",
        "not supported on Fargate",
    ),
    (
        "fargate-pid-host",
        lambda: with_(lambda d: d.update(pidMode="host"), fargate),
        "pidMode",
        "not supported on Fargate",
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [pytest.param(make, field, message, id=name) for name, make, field, message in ISSUE],
)
def test_members_the_spec_does_not_model_are_checked(
    make: Callable[[], Doc], field: str, message: str
) -> None:
    (problem,) = problems(make())
    assert problem["field"] == field
    assert message in problem["message"]
    assert problem.get("hint")


def test_a_tag_without_value_is_accepted_as_ecs_does() -> None:
    doc = with_(lambda d: d.update(tags=[{"key": "team"}]))
    assert parse_task_definition(doc).aws_field("tags") == [{"key": "team"}]


# --- types, unknown fields and enums at every depth ---------------------------------

SHAPE: list[tuple[str, Callable[[], Doc], str, str, str]] = [
    # (id, document, field, fragment of the message, fragment of the hint)
    ("top-level-type", lambda: with_(lambda d: d.update(family=7)), "family", "string", "quote"),
    (
        "container-list-type",
        lambda: with_(lambda d: c0(d).update(command="python app.py")),
        "containerDefinitions[0].command",
        "must be a list",
        "[ ]",
    ),
    (
        "nested-integer-as-string",
        lambda: with_(
            lambda d: c0(d).update(healthCheck={"command": ["CMD", "x"], "retries": "3"})
        ),
        "containerDefinitions[0].healthCheck.retries",
        "whole number",
        "without quotes",
    ),
    (
        "unmodelled-boolean-type",
        lambda: with_(lambda d: c0(d).update(privileged="yes")),
        "containerDefinitions[0].privileged",
        "true or false",
        "without quotes",
    ),
    (
        "map-value-type",
        lambda: with_(
            lambda d: c0(d).update(logConfiguration={"logDriver": "json-file", "options": {"n": 3}})
        ),
        "containerDefinitions[0].logConfiguration.options.n",
        "string",
        "quote",
    ),
    (
        "deep-enum",
        lambda: with_(
            lambda d: c0(d).update(
                linuxParameters={"devices": [{"hostPath": "/dev/x", "permissions": ["Read"]}]}
            )
        ),
        "containerDefinitions[0].linuxParameters.devices[0].permissions[0]",
        "DeviceCgroupPermission",
        'did you mean "read"',
    ),
    (
        "deep-required",
        lambda: with_(
            lambda d: c0(d).update(linuxParameters={"devices": [{"containerPath": "/x"}]})
        ),
        "containerDefinitions[0].linuxParameters.devices[0].hostPath",
        "is required",
        'add "hostPath"',
    ),
    (
        "unmodelled-structure-required",
        lambda: with_(lambda d: c0(d).update(repositoryCredentials={})),
        "containerDefinitions[0].repositoryCredentials.credentialsParameter",
        "is required",
        'add "credentialsParameter"',
    ),
    (
        "unknown-field-with-suggestion",
        lambda: with_(lambda d: c0(d).update(portMapings=[{"containerPort": 80}])),
        "containerDefinitions[0].portMapings",
        "unknown field",
        'did you mean "portMappings"',
    ),
    (
        "unknown-field-in-unmodelled-structure",
        lambda: with_(lambda d: d.update(runtimePlatform={"cpuArchitecure": "ARM64"})),
        "runtimePlatform.cpuArchitecure",
        "unknown field",
        'did you mean "cpuArchitecture"',
    ),
    (
        "unknown-top-level-field",
        lambda: with_(lambda d: d.update(requiresCompatibility=["EC2"])),
        "requiresCompatibility",
        "unknown field",
        'did you mean "requiresCompatibilities"',
    ),
    (
        "enum-in-unmodelled-structure",
        lambda: with_(lambda d: d.update(runtimePlatform={"cpuArchitecture": "x86_64"})),
        "runtimePlatform.cpuArchitecture",
        "CPUArchitecture",
        'did you mean "X86_64"',
    ),
    (
        "enum-of-ipc-mode",
        lambda: with_(lambda d: d.update(ipcMode="shared")),
        "ipcMode",
        "not a valid IpcMode",
        "use one of: host, task, none",
    ),
    (
        "too-many-tags",
        lambda: with_(lambda d: d.update(tags=[{"key": f"k{i}"} for i in range(51)])),
        "tags",
        "at most 50",
        "remove",
    ),
    (
        "tag-pattern",
        lambda: with_(lambda d: d.update(tags=[{"key": "team", "value": "a<b"}])),
        "tags[0].value",
        "TagValue",
        "pattern",
    ),
    (
        "tag-key-too-long",
        lambda: with_(lambda d: d.update(tags=[{"key": "k" * 129}])),
        "tags[0].key",
        "at most 128",
        "shorten",
    ),
    (
        "integer-is-not-a-boolean",
        lambda: with_(lambda d: d.update(ephemeralStorage={"sizeInGiB": True})),
        "ephemeralStorage.sizeInGiB",
        "whole number",
        "without quotes",
    ),
    (
        "null-list-entry",
        lambda: with_(lambda d: c0(d).update(dnsServers=[None])),
        "containerDefinitions[0].dnsServers[0]",
        "null",
        "remove",
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "message", "hint"),
    [pytest.param(make, f, m, h, id=name) for name, make, f, m, h in SHAPE],
)
def test_botocore_shape_is_enforced_at_every_depth(
    make: Callable[[], Doc], field: str, message: str, hint: str
) -> None:
    (problem,) = problems(make())
    assert problem["field"] == field
    assert message in problem["message"], problem
    assert hint in problem.get("hint", ""), problem


def test_every_type_problem_comes_back_in_one_answer() -> None:
    doc = with_(
        lambda d: (
            d.update(networkMode="awsvpcc", tags=[{"key": 1}]),
            c0(d).update(
                portMapings=[],
                dockerLabels={"a": 1},
                healthCheck={"command": ["CMD", "x"], "interval": "30"},
                linuxParameters={"devices": [{}]},
            ),
        )
    )
    assert set(fields(doc)) == {
        "networkMode",
        "tags[0].key",
        "containerDefinitions[0].portMapings",
        "containerDefinitions[0].dockerLabels.a",
        "containerDefinitions[0].healthCheck.interval",
        "containerDefinitions[0].linuxParameters.devices[0].hostPath",
    }


def test_several_problems_make_one_message_with_a_line_each() -> None:
    doc = with_(lambda d: (d.update(family=1), c0(d).update(portMapings=[])))
    with pytest.raises(InvalidDocument) as caught:
        parse_task_definition(doc)
    error = caught.value
    assert error.field is None
    lines = error.message.splitlines()
    assert lines[0] == "the task definition has 2 problems:"
    assert lines[2].strip() == (
        'containerDefinitions[0].portMapings: unknown field "portMapings" in '
        'ContainerDefinition (did you mean "portMappings"?)'
    )


def test_a_single_problem_reads_like_any_spec_error() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_task_definition(with_(lambda d: c0(d).update(portMapings=[])))
    assert caught.value.field == "containerDefinitions[0].portMapings"
    assert caught.value.hint == 'did you mean "portMappings"?'


# --- ECS's rules the model cannot express -------------------------------------------


def two_containers() -> Doc:
    doc = base()
    doc["containerDefinitions"].append({"name": "sidecar", "image": "busybox", "essential": False})
    return doc


def three_containers() -> Doc:
    doc = two_containers()
    doc["containerDefinitions"].append({"name": "third", "image": "busybox", "essential": False})
    return doc


def depends(name: str, condition: str = "START") -> list[dict[str, str]]:
    return [{"containerName": name, "condition": condition}]


RULES: list[tuple[str, Callable[[], Doc], str, str]] = [
    # (id, document, field, fragment of the hint)
    (
        "links-in-awsvpc",
        lambda: with_(
            lambda d: (d.update(networkMode="awsvpc"), c0(d).update(links=["sidecar"])),
            two_containers,
        ),
        "containerDefinitions[0].links",
        "localhost",
    ),
    (
        "links-to-unknown-container",
        lambda: with_(lambda d: c0(d).update(links=["sidecr:db"]), two_containers),
        "containerDefinitions[0].links[0]",
        'did you mean "sidecar"',
    ),
    (
        "ports-in-none-mode",
        lambda: with_(
            lambda d: (
                d.update(networkMode="none"),
                c0(d).update(portMappings=[{"containerPort": 80}]),
            )
        ),
        "containerDefinitions[0].portMappings",
        "remove portMappings",
    ),
    (
        "hostname-in-awsvpc",
        lambda: with_(lambda d: (d.update(networkMode="awsvpc"), c0(d).update(hostname="web"))),
        "containerDefinitions[0].hostname",
        "remove hostname",
    ),
    (
        "extra-hosts-in-awsvpc",
        lambda: with_(
            lambda d: (
                d.update(networkMode="awsvpc"),
                c0(d).update(extraHosts=[{"hostname": "db", "ipAddress": "10.0.0.1"}]),
            )
        ),
        "containerDefinitions[0].extraHosts",
        "bridge",
    ),
    (
        "fargate-ipc-mode",
        lambda: with_(lambda d: d.update(ipcMode="task"), fargate),
        "ipcMode",
        "remove",
    ),
    (
        "fargate-devices",
        lambda: with_(
            lambda d: c0(d).update(linuxParameters={"devices": [{"hostPath": "/dev/fuse"}]}),
            fargate,
        ),
        "containerDefinitions[0].linuxParameters.devices",
        "remove devices",
    ),
    (
        "fargate-shared-memory",
        lambda: with_(lambda d: c0(d).update(linuxParameters={"sharedMemorySize": 64}), fargate),
        "containerDefinitions[0].linuxParameters.sharedMemorySize",
        "remove sharedMemorySize",
    ),
    (
        "fargate-swappiness-zero",
        lambda: with_(lambda d: c0(d).update(linuxParameters={"swappiness": 0}), fargate),
        "containerDefinitions[0].linuxParameters.swappiness",
        "remove swappiness",
    ),
    (
        "fargate-capability",
        lambda: with_(
            lambda d: c0(d).update(linuxParameters={"capabilities": {"add": ["NET_ADMIN"]}}),
            fargate,
        ),
        "containerDefinitions[0].linuxParameters.capabilities.add[0]",
        'remove "NET_ADMIN"',
    ),
    (
        "fargate-docker-volume",
        lambda: with_(
            lambda d: d.update(volumes=[{"name": "v", "dockerVolumeConfiguration": {}}]), fargate
        ),
        "volumes[0].dockerVolumeConfiguration",
        "efsVolumeConfiguration",
    ),
    (
        "fargate-log-driver",
        lambda: with_(lambda d: c0(d).update(logConfiguration={"logDriver": "json-file"}), fargate),
        "containerDefinitions[0].logConfiguration.logDriver",
        "awslogs, splunk, awsfirelens",
    ),
    (
        "fargate-security-options",
        lambda: with_(lambda d: c0(d).update(dockerSecurityOptions=["no-new-privileges"]), fargate),
        "containerDefinitions[0].dockerSecurityOptions",
        "remove dockerSecurityOptions",
    ),
    (
        "fargate-ephemeral-storage",
        lambda: with_(lambda d: d.update(ephemeralStorage={"sizeInGiB": 10}), fargate),
        "ephemeralStorage.sizeInGiB",
        "from 21 to 200",
    ),
    (
        "fargate-placement-constraints",
        lambda: with_(
            lambda d: d.update(placementConstraints=[{"type": "memberOf", "expression": "x"}]),
            fargate,
        ),
        "placementConstraints",
        "require EC2",
    ),
    (
        "fargate-host-network",
        lambda: with_(lambda d: d.update(networkMode="host"), fargate),
        "networkMode",
        '"networkMode": "awsvpc"',
    ),
    (
        "tag-key-reserved",
        lambda: with_(lambda d: d.update(tags=[{"key": "aws:owner", "value": "x"}])),
        "tags[0].key",
        "without the aws: prefix",
    ),
    (
        "tag-key-twice",
        lambda: with_(lambda d: d.update(tags=[{"key": "a"}, {"key": "a", "value": "b"}])),
        "tags[1].key",
        "merge",
    ),
    (
        "three-container-cycle",
        lambda: with_(
            lambda d: (
                c0(d).update(dependsOn=depends("sidecar")),
                d["containerDefinitions"][1].update(dependsOn=depends("third")),
                d["containerDefinitions"][2].update(dependsOn=depends("app")),
            ),
            three_containers,
        ),
        "containerDefinitions[0].dependsOn",
        "remove one of these dependencies",
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "hint"),
    [pytest.param(make, field, hint, id=name) for name, make, field, hint in RULES],
)
def test_ecs_rules_name_the_field_and_the_fix(
    make: Callable[[], Doc], field: str, hint: str
) -> None:
    (problem,) = problems(make())
    assert problem["field"] == field
    assert hint in problem.get("hint", ""), problem


def test_a_cycle_is_reported_once_and_names_its_path() -> None:
    doc = with_(
        lambda d: (
            c0(d).update(dependsOn=depends("sidecar")),
            d["containerDefinitions"][1].update(dependsOn=depends("app")),
        ),
        two_containers,
    )
    (problem,) = problems(doc)
    assert "app -> sidecar -> app" in problem["message"]


def test_every_broken_rule_comes_back_in_one_answer() -> None:
    doc = with_(
        lambda d: (
            d.update(pidMode="host", memory="4096"),
            c0(d).update(privileged=True, stopTimeout=200, essential=False),
            d["containerDefinitions"].append({"name": "app", "image": "x", "essential": False}),
        ),
        fargate,
    )
    assert fields(doc) == [
        "containerDefinitions[1].name",
        "containerDefinitions",
        "memory",
        "pidMode",
        "containerDefinitions[0].stopTimeout",
        "containerDefinitions[0].privileged",
    ]


def test_awsvpc_host_port_may_equal_the_container_port() -> None:
    doc = with_(
        lambda d: c0(d).update(portMappings=[{"containerPort": 80, "hostPort": 80}]), fargate
    )
    assert parse_task_definition(doc).container_definitions[0].port_mappings[0].host_port == 80


# --- the walker on its own ----------------------------------------------------------


def test_json_null_means_not_given() -> None:
    doc = with_(lambda d: (d.update(pidMode=None), c0(d).update(privileged=None)))
    assert check_shape("ecs", "RegisterTaskDefinitionRequest", doc) == []


def test_java_unicode_classes_become_python_ones() -> None:
    regex = aws_model.compiled_pattern("ecs", "TagValue")
    assert regex is not None
    for good in ("team", "Équipe 1", "a:b/c=d+e-f@g_h.i", "٣"):
        assert regex.fullmatch(good), good
    for bad in ("a<b", "tab\there", "new\nline"):
        assert not regex.fullmatch(bad), bad
    with pytest.raises(ValueError, match="Sc"):
        aws_model.python_regex(r"[\p{Sc}]")
