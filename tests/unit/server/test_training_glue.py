"""Training jobs through the control plane: hosts as tasks, exits as statuses, artifacts.

Covers the server glue between :mod:`dockyard.server.training` (create, stop,
describe, logs), the run facility and the task runner, on in-memory fakes: a job's
hosts become labelled containers from a registered task definition, their exits
become the job's status, the model is packed into the real local artifact store, and
the hosts' output outlives their containers.
"""

from __future__ import annotations

import io
import tarfile
from typing import TYPE_CHECKING

import pytest
from conftest import PAUSE_IMAGE
from fastapi.testclient import TestClient

from dockyard.adapters.artifacts.local import parse_uri
from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.server import task_definitions, training, training_metrics
from dockyard.server.app import create_app
from dockyard.server.routes.tasks import describe_task
from dockyard.server.training import network_of

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import World, WorldFactory

pytestmark = pytest.mark.unit

JOB = "iris-train"
MODEL = {"model.joblib": b"weights", "classes.txt": b"setosa\nversicolor\nvirginica\n"}


def secondary_statuses(job: dict[str, object]) -> list[str]:
    transitions = job["SecondaryStatusTransitions"]
    assert isinstance(transitions, list)
    return [str(t["Status"]) for t in transitions]


def host_container(world: World, host: str = "algo-1") -> str:
    return world.container_of(world.hosts(JOB)[host].task.task_id).id


# -- running ----------------------------------------------------------------------------------


def test_a_created_job_is_in_progress_and_runs_its_host_in_a_labelled_container(
    world: World, data_dir: Path
) -> None:
    assert world.train(JOB, data_dir)["TrainingJobStatus"] == "InProgress"

    host = world.launched(JOB)["algo-1"]

    container = world.container_of(host.task.task_id)
    assert container.running
    assert container.image == world.job(JOB)["AlgorithmSpecification"]["TrainingImage"]
    assert container.labels["dockyard.training-job"] == JOB
    assert container.labels["dockyard.host"] == "algo-1"
    world.settle(lambda: world.job(JOB)["SecondaryStatus"] == "Training", "Training")
    assert world.job(JOB)["TrainingJobStatus"] == "InProgress"


def test_a_host_exiting_zero_completes_the_job_through_uploading(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir)
    world.launched(JOB)
    world.engine.exit(host_container(world), 0)

    job = world.ended(JOB)

    assert job["TrainingJobStatus"] == "Completed"
    assert secondary_statuses(job)[-3:] == ["Training", "Uploading", "Completed"]
    assert job["TrainingEndTime"] is not None


def test_a_completed_job_leaves_its_model_as_a_tarball_in_the_artifact_store(
    world: World, data_dir: Path
) -> None:
    job = world.complete(JOB, data_dir, MODEL)

    uri = parse_uri(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert uri.key.endswith(f"{JOB}/output/model.tar.gz")
    assert world.platform.artifacts.exists(uri)
    packed = world.platform.artifacts.local_path(uri).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as archive:
        files = {m.name.removeprefix("./"): archive.extractfile(m) for m in archive if m.isfile()}
        assert {name: f.read() for name, f in files.items() if f} == MODEL


def test_a_finished_job_leaves_no_task_container_or_network(world: World, data_dir: Path) -> None:
    world.complete(JOB, data_dir, MODEL)

    assert world.hosts(JOB) == {}
    assert world.engine.containers() == []
    assert network_of(JOB) not in world.engine.networks()


def test_the_host_tasks_task_definition_resolves_in_the_registry(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir)
    host = world.launched(JOB)["algo-1"]

    key = describe_task(host)["taskDefinition"]

    registered = task_definitions.get(world.store, key)
    assert key == host.task.revision
    assert registered.family == f"training-{JOB}"
    (container,) = registered.definition.container_definitions
    assert container.image == world.job(JOB)["AlgorithmSpecification"]["TrainingImage"]


# -- failing and stopping ---------------------------------------------------------------------


def test_a_non_zero_exit_fails_the_job_with_an_algorithm_error(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir)
    world.launched(JOB)
    world.engine.exit(host_container(world), 2)

    job = world.ended(JOB)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError")
    assert "algo-1" in job["FailureReason"]
    assert "exited with code 2" in job["FailureReason"]


def test_the_failure_file_is_the_failure_reason_when_the_algorithm_wrote_one(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir)
    world.launched(JOB)
    failure = world.host_dir(JOB) / "output" / "failure"
    failure.write_text("ValueError: the sky is falling: bad learning rate\n")
    world.engine.exit(host_container(world), 1)

    job = world.ended(JOB)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "ValueError: the sky is falling: bad learning rate"


def test_stop_goes_stopping_then_stopped(world: World, data_dir: Path) -> None:
    world.train(JOB, data_dir)
    task_id = world.launched(JOB)["algo-1"].task.task_id

    training.stop(world.platform, JOB)
    world.step()

    assert world.job(JOB)["TrainingJobStatus"] == "Stopping"
    job = world.ended(JOB)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"
    assert "Stopping" in secondary_statuses(job)
    assert "FailureReason" not in job
    assert task_id in world.engine.stopped_tasks()  # SIGTERM, not an exit of its own


# -- several hosts and their output -----------------------------------------------------------


def test_a_two_host_job_runs_algo_1_and_algo_2_on_one_network(world: World, data_dir: Path) -> None:
    world.train(JOB, data_dir, hosts=2)

    hosts = world.launched(JOB, count=2)

    assert sorted(hosts) == ["algo-1", "algo-2"]
    assert {r.placement.network for r in hosts.values()} == {network_of(JOB)}
    assert {r.placement.hostnames["training"] for r in hosts.values()} == {"algo-1", "algo-2"}
    assert network_of(JOB) in world.engine.networks()
    for host, record in hosts.items():
        assert world.container_of(record.task.task_id).labels["dockyard.host"] == host


def test_each_host_of_a_two_host_job_joins_a_holder_that_carries_its_name(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir, hosts=2)

    hosts = world.launched(JOB, count=2)

    for host, record in hosts.items():
        holder = world.holder_of(record.task.task_id)
        assert holder is not None and holder.running
        held = world.engine.spec(holder.name)
        assert held.image == PAUSE_IMAGE
        assert (held.network, held.hostname, held.network_aliases) == (
            network_of(JOB),
            host,
            [host],
        )
        assert held.labels["dockyard.training-job"] == JOB
        container = world.engine.spec(world.container_of(record.task.task_id).name)
        assert container.network == f"container:{holder.id}"
        assert container.network_aliases == []


def test_a_host_that_finished_first_keeps_its_name_until_the_job_s_hosts_are_reaped(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir, hosts=2)
    hosts = world.launched(JOB, count=2)
    early = hosts["algo-2"].task.task_id
    world.engine.exit(world.container_of(early).id, 0)
    world.settle(lambda: world.hosts(JOB)["algo-2"].task.is_done, "algo-2 to be seen ended")
    world.step(3)

    holder = world.holder_of(early)
    assert holder is not None and holder.running  # algo-2 still resolves for algo-1
    assert world.job(JOB)["TrainingJobStatus"] == "InProgress"

    world.engine.exit(host_container(world, "algo-1"), 0)
    assert world.ended(JOB)["TrainingJobStatus"] == "Completed"
    assert world.engine.containers() == []  # the holders went with their hosts
    assert network_of(JOB) not in world.engine.networks()


def test_a_restarted_daemon_keeps_the_holders_and_removes_them_at_the_job_s_end(
    make_world: WorldFactory, tmp_path: Path, data_dir: Path
) -> None:
    first = make_world(store=SqliteStore(tmp_path / "db"))
    first.train(JOB, data_dir, hosts=2)
    hosts = first.launched(JOB, count=2)
    holders = {host: first.holder_of(r.task.task_id) for host, r in hosts.items()}
    first.engine.exit(first.container_of(hosts["algo-2"].task.task_id).id, 0)
    first.control_plane.stop()
    first.store.close()

    second = make_world(store=SqliteStore(tmp_path / "db"))
    second.step(3)

    again = {host: second.holder_of(r.task.task_id) for host, r in second.hosts(JOB).items()}
    assert again == holders  # the same two, still running: algo-2 still resolves
    assert all(h is not None and h.running for h in again.values())
    second.engine.exit(host_container(second, "algo-1"), 0)
    assert second.ended(JOB)["TrainingJobStatus"] == "Completed"
    assert second.engine.containers() == []


def test_a_holder_whose_host_task_is_unknown_is_swept_as_an_orphan(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir, hosts=2)
    hosts = world.launched(JOB, count=2)
    lost = hosts["algo-2"].task.task_id
    holder = world.holder_of(lost)
    assert holder is not None
    world.store.tasks.delete(lost)  # as if the daemon died between reap's steps

    removed = world.control_plane.tasks.remove_orphans()

    assert holder.name in removed
    assert world.holder_of(lost) is None
    assert world.holder_of(hosts["algo-1"].task.task_id) is not None


def test_a_one_host_job_has_no_holder(world: World, data_dir: Path) -> None:
    world.train(JOB, data_dir)

    record = world.launched(JOB)["algo-1"]

    assert world.holder_of(record.task.task_id) is None
    container = world.engine.spec(world.container_of(record.task.task_id).name)
    assert (container.network, container.network_aliases) == (network_of(JOB), ["algo-1"])


def test_where_the_engine_cannot_join_namespaces_hosts_carry_their_own_names(
    world: World, data_dir: Path
) -> None:
    world.engine.joins_namespaces = False  # as on swarm
    world.train(JOB, data_dir, hosts=2)

    hosts = world.launched(JOB, count=2)

    for host, record in hosts.items():
        assert world.holder_of(record.task.task_id) is None
        container = world.engine.spec(world.container_of(record.task.task_id).name)
        assert (container.network, container.hostname) == (network_of(JOB), host)
        assert container.network_aliases == [host]


def test_host_output_is_readable_after_the_job_ended_and_its_containers_were_reaped(
    world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir, hosts=2)
    world.launched(JOB, count=2)
    for host in ("algo-1", "algo-2"):
        container = host_container(world, host)
        world.engine.write_logs(container, f"{host}: epoch 1\n{host}: epoch 2\n".encode())
        world.engine.exit(container, 0)

    world.ended(JOB)

    assert world.engine.containers() == []
    lines = list(training.log_lines(world.platform, world.control_plane.runs, JOB, False))
    assert lines == [
        {"host": "algo-1", "line": "algo-1: epoch 1"},
        {"host": "algo-1", "line": "algo-1: epoch 2"},
        {"host": "algo-2", "line": "algo-2: epoch 1"},
        {"host": "algo-2", "line": "algo-2: epoch 2"},
    ]


# -- metrics ----------------------------------------------------------------------------------

METRICS = [
    {"Name": "train:loss", "Regex": "loss: ([0-9.]+)"},
    {"Name": "validation:accuracy", "Regex": "val_acc=([0-9.]+)"},
]


def train_with_metrics(world: World, data_dir: Path, hosts: int = 1) -> None:
    request = world.training_request(JOB, data_dir, hosts=hosts)
    request["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
    training.create(world.platform, request)
    world.launched(JOB, count=hosts)


def test_metric_definitions_turn_matching_output_lines_into_series_per_host(
    world: World, data_dir: Path
) -> None:
    train_with_metrics(world, data_dir, hosts=2)
    for host, losses in (("algo-1", (0.9, 0.5)), ("algo-2", (0.8,))):
        container = host_container(world, host)
        lines = "".join(f"epoch {i} loss: {v} val_acc=n/a\n" for i, v in enumerate(losses))
        world.engine.write_logs(container, lines.encode())
        world.engine.write_logs(container, b"val_acc=0.97\n")
        world.engine.exit(container, 0)
    world.ended(JOB)

    series = training_metrics.metric_series(world.store.metrics, JOB)
    assert [(s["MetricName"], s["Host"], s["Values"]) for s in series] == [
        ("train:loss", "algo-1", [0.9, 0.5]),
        ("train:loss", "algo-2", [0.8]),
        ("validation:accuracy", "algo-1", [0.97]),
        ("validation:accuracy", "algo-2", [0.97]),
    ]
    timestamps = [t for s in series for t in s["Timestamps"]]
    assert all(t > 1.7e9 for t in timestamps)  # the engine's wall-clock stamps


def test_an_ended_job_reports_the_last_value_of_each_metric_as_final(
    world: World, data_dir: Path
) -> None:
    train_with_metrics(world, data_dir)
    container = host_container(world)
    world.engine.write_logs(container, b"loss: 0.9\n")
    world.engine.write_logs(container, b"loss: 0.25 val_acc=0.91\n")
    world.engine.exit(container, 0)

    job = world.ended(JOB)

    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert final == {"train:loss": 0.25, "validation:accuracy": 0.91}


def test_a_job_still_running_has_series_but_no_final_metrics_yet(
    world: World, data_dir: Path
) -> None:
    train_with_metrics(world, data_dir)
    world.engine.write_logs(host_container(world), b"loss: 0.7\n")
    world.settle(
        lambda: bool(training_metrics.metric_series(world.store.metrics, JOB)),
        "the metric line to be read",
    )

    assert "FinalMetricDataList" not in world.job(JOB)


def test_a_job_without_metric_definitions_keeps_no_series(world: World, data_dir: Path) -> None:
    world.train(JOB, data_dir)
    world.launched(JOB)
    container = host_container(world)
    world.engine.write_logs(container, b"loss: 0.7\n")
    world.engine.exit(container, 0)

    job = world.ended(JOB)

    assert "FinalMetricDataList" not in job
    assert training_metrics.metric_series(world.store.metrics, JOB) == []


@pytest.mark.parametrize(
    ("regex", "words"),
    [("loss: ([0-9", "not a valid regular expression"), ("loss: [0-9.]+", "no capturing group")],
    ids=["does-not-compile", "no-group"],
)
def test_create_training_job_with_a_bad_metric_regex_is_a_400_and_stores_nothing(
    world: World, data_dir: Path, regex: str, words: str
) -> None:
    request = world.training_request(JOB, data_dir)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "loss", "Regex": regex}]
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        answer = client.post("/v1/training-jobs", json=request)

    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["field"] == "AlgorithmSpecification.MetricDefinitions[0].Regex"
    assert words in error["message"]
    assert "first group captures the value" in error["hint"] or "parentheses" in error["hint"]
    assert world.store.training_jobs.list() == []
    assert world.store.tasks.list() == []
