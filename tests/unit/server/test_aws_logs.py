"""CloudWatch Logs on the AWS front: a training job's output read as SageMaker's log
group, with real boto3 ``logs`` clients (see :mod:`aws_client`) on the fakes.

The SageMaker SDK's ``fit()`` finds a job's streams with DescribeLogStreams (prefix
``JOB/``) and reads each with GetLogEvents from the head until a page comes back
empty; ``aws logs tail`` uses FilterLogEvents. Errors are CloudWatch's names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_client import client
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from test_aws_front import make_endpoint, training_request
from test_ecs_service_glue import created, register, service_tasks, task_definition

from dockyard.server.app import create_app
from dockyard.server.aws.credentials import AccessKey
from dockyard.server.aws.front import AwsFront

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
def logs(front: AwsFront, key: AccessKey) -> Any:
    return client(front, "logs", key)


@pytest.fixture
def ecs_client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as made:
        yield made


@pytest.fixture
def finished_job(front: AwsFront, key: AccessKey, world: World, data_dir: Path) -> str:
    """A two-host job whose hosts printed three lines each, then completed."""
    sm = client(front, "sagemaker", key)
    request = training_request("job-1", data_dir)
    request["ResourceConfig"]["InstanceCount"] = 2
    sm.create_training_job(**request)
    hosts = world.launched("job-1", count=2)
    for host, record in sorted(hosts.items()):
        container = world.container_of(record.task.task_id).id
        for line in ("starting", "epoch 1 loss=0.5", f"ERROR on {host}"):
            world.engine.write_logs(container, f"{line}\n".encode())
    (world.host_dir("job-1") / "model" / "model.joblib").write_bytes(b"weights")
    for record in hosts.values():
        world.engine.exit(world.container_of(record.task.task_id).id, 0)
    world.ended("job-1")
    return "job-1"


def test_the_sdk_s_calls_find_one_stream_per_host_and_read_every_line(
    logs: Any, world: World, finished_job: str
) -> None:
    created = int(world.store.training_jobs.require(finished_job).state.created_at)
    streams = logs.describe_log_streams(
        logGroupName=GROUP, logStreamNamePrefix="job-1/", orderBy="LogStreamName", limit=2
    )
    names = [s["logStreamName"] for s in streams["logStreams"]]
    assert names == [f"job-1/algo-1-{created}", f"job-1/algo-2-{created}"]
    assert "nextToken" not in streams  # the SDK loops while one is present
    first = streams["logStreams"][0]
    assert (
        first["arn"]
        == f"arn:aws:logs:eu-west-1:000000000000:log-group:{GROUP}:log-stream:{names[0]}"
    )
    assert first["firstEventTimestamp"] <= first["lastEventTimestamp"]

    page = logs.get_log_events(
        logGroupName=GROUP, logStreamName=names[1], startTime=0, startFromHead=True
    )
    messages = [e["message"] for e in page["events"]]
    assert messages == ["starting", "epoch 1 loss=0.5", "ERROR on algo-2"]
    assert all(e["timestamp"] > 1.7e12 for e in page["events"])  # milliseconds
    again = logs.get_log_events(
        logGroupName=GROUP,
        logStreamName=names[1],
        startTime=0,
        startFromHead=True,
        nextToken=page["nextForwardToken"],
    )
    assert again["events"] == []  # the end: the same forward token comes back
    assert again["nextForwardToken"] == page["nextForwardToken"]


def test_pages_go_forward_from_the_head_and_back_from_the_tail(
    logs: Any, finished_job: str
) -> None:
    stream = logs.describe_log_streams(logGroupName=GROUP)["logStreams"][0]["logStreamName"]
    read = {"logGroupName": GROUP, "logStreamName": stream, "limit": 2}
    head = logs.get_log_events(**read, startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["starting", "epoch 1 loss=0.5"]
    rest = logs.get_log_events(**read, nextToken=head["nextForwardToken"])
    assert [e["message"] for e in rest["events"]] == ["ERROR on algo-1"]
    tail = logs.get_log_events(**read)  # without startFromHead: the newest events
    assert [e["message"] for e in tail["events"]] == ["epoch 1 loss=0.5", "ERROR on algo-1"]
    older = logs.get_log_events(**read, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == ["starting"]


def test_filter_log_events_matches_across_streams_in_time_order_and_pages(
    logs: Any, finished_job: str
) -> None:
    found = logs.filter_log_events(
        logGroupName=GROUP, logStreamNamePrefix="job-1/", filterPattern="ERROR"
    )
    assert sorted(e["message"] for e in found["events"]) == ["ERROR on algo-1", "ERROR on algo-2"]
    assert len({e["eventId"] for e in found["events"]}) == 2
    assert len(found["searchedLogStreams"]) == 2
    paged = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, PaginationConfig={"PageSize": 4}
    )
    pages = [[e["message"] for e in page["events"]] for page in paged]
    assert [len(p) for p in pages] == [4, 2]
    timestamps = [e["timestamp"] for page in paged for e in page["events"]]
    assert timestamps == sorted(timestamps)


def test_log_groups_exist_once_a_job_does(logs: Any, world: World, finished_job: str) -> None:
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    assert groups[0]["logGroupArn"] == f"arn:aws:logs:eu-west-1:000000000000:log-group:{GROUP}"
    by_arn = logs.describe_log_streams(logGroupIdentifier=groups[0]["logGroupArn"])
    assert len(by_arn["logStreams"]) == 2


def test_no_jobs_means_no_group_which_the_sdk_reads_as_not_yet(logs: Any) -> None:
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as raised:
        logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="job-1/")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("call", "code", "says"),
    [
        ({"logStreamName": "job-1/algo-9-1"}, "ResourceNotFoundException", "log stream"),
        ({"logStreamName": "s", "nextToken": "x/1"}, "InvalidParameterException", "nextToken"),
        ({"logStreamName": "s", "limit": 10_001}, "InvalidParameterException", "limit"),
    ],
)
def test_bad_event_reads_get_cloudwatch_s_errors(
    logs: Any, finished_job: str, call: dict[str, Any], code: str, says: str
) -> None:
    with pytest.raises(ClientError) as raised:
        logs.get_log_events(logGroupName=GROUP, **call)
    assert raised.value.response["Error"]["Code"] == code
    assert says in raised.value.response["Error"]["Message"]


def test_bad_stream_and_filter_requests_are_invalid_parameters(
    logs: Any, finished_job: str
) -> None:
    bad = [
        lambda: logs.describe_log_streams(
            logGroupName=GROUP, logStreamNamePrefix="job-1/", orderBy="LastEventTime"
        ),
        logs.describe_log_streams,
        lambda: logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.level = 1 }"),
        lambda: logs.filter_log_events(
            logGroupName=GROUP, logStreamNames=["a"], logStreamNamePrefix="job-1/"
        ),
    ]
    for request in bad:
        with pytest.raises(ClientError) as raised:
            request()
        assert raised.value.response["Error"]["Code"] == "InvalidParameterException"


def test_writing_logs_is_not_implemented_and_says_so(logs: Any) -> None:
    with pytest.raises(ClientError) as raised:
        logs.create_log_group(logGroupName="/mine")
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert "CreateLogGroup" in raised.value.response["Error"]["Message"]


# -- endpoints and ECS tasks: read from the engine while they run ---------------------------


def test_an_endpoint_s_replicas_are_streams_of_its_own_group(
    front: AwsFront, key: AccessKey, logs: Any, world: World
) -> None:
    make_endpoint(client(front, "sagemaker", key))
    world.in_service("iris", 2)
    replicas = sorted(r.task.task_id for r in world.replicas("iris"))
    for task_id in replicas:
        world.engine.write_logs(world.container_of(task_id).id, f"serving {task_id}\n".encode())
    group = "/aws/sagemaker/Endpoints/iris"
    assert group in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"AllTraffic/{t}" for t in replicas]
    events = logs.get_log_events(
        logGroupName=group, logStreamName=f"AllTraffic/{replicas[0]}", startFromHead=True
    )["events"]
    assert [e["message"] for e in events] == [f"serving {replicas[0]}"]
    assert events[0]["timestamp"] > 1.7e12


def test_an_ecs_service_logging_to_awslogs_fills_that_group(
    logs: Any, world: World, ecs_client: TestClient
) -> None:
    definition = task_definition()
    definition["containerDefinitions"][0]["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "web"},
    }
    register(world, definition)
    created(ecs_client)
    world.settle(lambda: len(service_tasks(world)) == 2, "two tasks")
    world.settle(
        lambda: all(world.containers_of(r.task.task_id) for r in service_tasks(world)),
        "their containers",
    )
    task_id = service_tasks(world)[0].task.task_id
    world.engine.write_logs(world.container_of(task_id).id, b"GET /ping 200\n")
    streams = logs.describe_log_streams(logGroupName="/ecs/web")["logStreams"]
    assert f"web/app/{task_id}" in [s["logStreamName"] for s in streams]
    found = logs.filter_log_events(logGroupName="/ecs/web", filterPattern="ping")["events"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [
        (f"web/app/{task_id}", "GET /ping 200")
    ]
