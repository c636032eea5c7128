"""Checkpoints of a training job: saved while it trains and once after every ending;
channel data dealt to the hosts by S3DataDistributionType."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import make_task

from dockyard.control.task import ContainerStatus, Task, TaskStatus
from dockyard.control.training import (
    SaveCheckpoints,
    TrainingJobSummary,
    TrainingObservation,
    TrainingPlan,
    UploadArtifacts,
    plan_training,
)
from dockyard.control.training_data import channel_share
from dockyard.control.training_status import (
    SecondaryStatus,
    TrainingJobState,
    TrainingJobStatus,
    new_training_job,
)

pytestmark = pytest.mark.unit

HOSTS = ("algo-1", "algo-2")
JOB = TrainingJobSummary(hosts=HOSTS, max_runtime_s=1000, checkpoint_save_s=5.0)


def running(name: str) -> Task:
    return make_task(f"task-{name}", "job:1", status=TaskStatus.RUNNING, created=1.0, started=2.0)


def ended(name: str, code: int = 0) -> Task:
    task = make_task(f"task-{name}", "job:1", status=TaskStatus.STOPPED, created=1.0, started=2.0)
    container = replace(task.containers[0], last_status=ContainerStatus.STOPPED, exit_code=code)
    return replace(task, containers=(container,), stopped_at=20.0)


def step(
    state: TrainingJobState, now: float, job: TrainingJobSummary = JOB, **seen: object
) -> TrainingPlan:
    values: dict[str, object] = {"inputs_ready": True}
    values.update(seen)
    return plan_training(job, state, TrainingObservation(**values), now)  # type: ignore[arg-type]


def training_since(now: float) -> TrainingJobState:
    state = step(new_training_job(0.0), 1.0, inputs_ready=False).state
    return step(state, now, hosts={h: running(h) for h in HOSTS}).state


def test_checkpoints_are_saved_every_interval_while_training() -> None:
    state = training_since(10.0)
    hosts = {h: running(h) for h in HOSTS}
    early = step(state, 12.0, hosts=hosts)
    assert early.actions == ()
    assert early.next_check_at == 15.0
    due = step(state, 15.0, hosts=hosts)
    assert due.actions == (SaveCheckpoints(),)
    assert step(state, 17.0, hosts=hosts, checkpoints_saved_at=15.0).actions == ()
    assert step(state, 20.0, hosts=hosts, checkpoints_saved_at=15.0).actions == (SaveCheckpoints(),)


def test_a_job_without_checkpoint_config_saves_nothing() -> None:
    bare = replace(JOB, checkpoint_save_s=None)
    state = training_since(10.0)
    plan = step(state, 100.0, job=bare, hosts={h: running(h) for h in HOSTS})
    assert plan.actions == ()
    finished = step(state, 100.0, job=bare, hosts={h: ended(h) for h in HOSTS})
    assert finished.actions == (UploadArtifacts(),)


def test_a_completed_job_saves_its_last_checkpoints_before_it_completes() -> None:
    hosts = {h: ended(h) for h in HOSTS}
    uploading = step(training_since(10.0), 30.0, hosts=hosts)
    assert uploading.actions == (UploadArtifacts(), SaveCheckpoints(final=True))
    waiting = step(uploading.state, 31.0, hosts=hosts, artifacts_uploaded=True)
    assert waiting.actions == (SaveCheckpoints(final=True),)
    assert waiting.state.status is TrainingJobStatus.IN_PROGRESS
    completed = step(
        uploading.state, 32.0, hosts=hosts, artifacts_uploaded=True, checkpoints_final=True
    )
    assert completed.state.status is TrainingJobStatus.COMPLETED and completed.done


def test_a_failed_job_saves_its_checkpoints_once_every_host_has_ended() -> None:
    state = training_since(10.0)
    failing = step(state, 30.0, hosts={"algo-1": ended("algo-1", 1), "algo-2": running("algo-2")})
    assert failing.state.status is TrainingJobStatus.FAILED
    assert not any(isinstance(a, SaveCheckpoints) for a in failing.actions)
    both = {"algo-1": ended("algo-1", 1), "algo-2": ended("algo-2", 143)}
    last = step(failing.state, 31.0, hosts=both)
    assert last.actions == (SaveCheckpoints(final=True),) and not last.done
    assert step(failing.state, 32.0, hosts=both, checkpoints_final=True).done


def test_a_stopped_job_saves_its_checkpoints_with_its_artifacts() -> None:
    hosts = {h: running(h) for h in HOSTS}
    stopping = step(training_since(10.0), 30.0, hosts=hosts, stop_requested=True)
    assert stopping.state.status is TrainingJobStatus.STOPPING
    gone = {h: ended(h, 143) for h in HOSTS}
    uploading = step(stopping.state, 40.0, hosts=gone, stop_requested=True)
    assert uploading.actions == (UploadArtifacts(), SaveCheckpoints(final=True))
    stopped = step(
        uploading.state,
        41.0,
        hosts=gone,
        stop_requested=True,
        artifacts_uploaded=True,
        checkpoints_final=True,
    )
    assert stopped.state.secondary_status is SecondaryStatus.STOPPED and stopped.done


KEYS = [f"part-{i:02d}.csv" for i in range(7)]


def test_fully_replicated_gives_every_host_every_object() -> None:
    for host in HOSTS:
        assert channel_share(reversed(KEYS), "FullyReplicated", host, HOSTS) == KEYS


def test_sharded_by_s3_key_deals_sorted_keys_round_robin() -> None:
    three = ("algo-1", "algo-2", "algo-3")
    shares = {h: channel_share(reversed(KEYS), "ShardedByS3Key", h, three) for h in three}
    assert shares == {
        "algo-1": ["part-00.csv", "part-03.csv", "part-06.csv"],
        "algo-2": ["part-01.csv", "part-04.csv"],
        "algo-3": ["part-02.csv", "part-05.csv"],
    }
    dealt = [key for share in shares.values() for key in share]
    assert sorted(dealt) == KEYS  # each object on exactly one host


def test_more_hosts_than_objects_leaves_some_hosts_empty() -> None:
    assert channel_share(["only"], "ShardedByS3Key", "algo-2", HOSTS) == []
    assert channel_share(["only"], "ShardedByS3Key", "algo-1", HOSTS) == ["only"]


def test_a_share_for_an_unknown_host_or_type_is_refused() -> None:
    with pytest.raises(ValueError, match="algo-9"):
        channel_share(KEYS, "ShardedByS3Key", "algo-9", HOSTS)
    with pytest.raises(ValueError, match="Sideways"):
        channel_share(KEYS, "Sideways", "algo-1", HOSTS)
