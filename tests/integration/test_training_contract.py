"""The training contract as the SageMaker SDK uses it, on a real daemon and containers.

Jobs run in the scikit-learn framework image (its ``train`` is Dockyard's runner):
code submitted as the SDK sends it (``sourcedir.tar.gz`` in the artifact store or on
disk, JSON-encoded hyperparameters), writable ``/opt/ml`` directories that are the
host's own copies, checkpoints kept at CheckpointConfig.S3Uri across jobs,
``ShardedByS3Key`` channels split over two hosts, and a failing script reported as the
toolkit reports it; and the same request sent by boto3 through the AWS front. Scripts
are a few lines each; jobs that do not depend on each other are submitted together and
awaited together.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from dockyard_daemon import Daemon, free_port, wait_until
from test_aws_front import (
    FAST,
    REGION,
    AwsDaemon,
    aws_client,
    keys,  # noqa: F401 (the fixture: an access key from the CLI)
)

from dockyard.adapters.artifacts.local import LocalArtifactStore, parse_uri
from dockyard.adapters.engine import DockerEngine
from dockyard.control.training_contract import TrainingHostConfig, render_config_files

pytestmark = pytest.mark.integration

FINAL = ("Completed", "Failed", "Stopped")
JOB_TIMEOUT = 180.0
BUCKET = "sagemaker-us-east-1-000000000000"

SDK_SCRIPT = """
    import json, os, pathlib, sys

    code = pathlib.Path("/opt/ml/code")
    (code / "scratch.txt").write_text("written next to the code")
    config = pathlib.Path("/opt/ml/input/config")
    (config / "notes.json").write_text("{}")
    train = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
    rows = (train / "rows.csv").read_text()
    (train / "rows.csv").write_text("overwritten by the script")
    (train / "derived.csv").write_text(rows.upper())
    hps = json.loads((config / "hyperparameters.json").read_text())
    seen = {
        "argv": sys.argv[1:],
        "submit": hps["sagemaker_submit_directory"],
        "rows": rows,
        "code": sorted(p.name for p in code.iterdir()),
    }
    pathlib.Path(os.environ["SM_MODEL_DIR"], "seen.json").write_text(json.dumps(seen))
"""

SHELL_SCRIPT = """\
#!/bin/sh
set -e
echo "shell says $*" > "$SM_MODEL_DIR/shell.txt"
"""

SHARD_SCRIPT = """
    import json, os, pathlib

    def listing(channel):
        root = pathlib.Path(os.environ[f"SM_CHANNEL_{channel.upper()}"])
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    me = os.environ["SM_CURRENT_HOST"]
    seen = {"shards": listing("shards"), "all": listing("all")}
    pathlib.Path(os.environ["SM_MODEL_DIR"], f"files-{me}.json").write_text(json.dumps(seen))
"""

FIRST_RUN = """
    import pathlib, sys

    pathlib.Path("/opt/ml/ckpt/epoch-1.txt").write_text("resume from epoch 1")
    print("ValueError: diverged at epoch 2", file=sys.stderr)
    sys.exit(3)
"""

SECOND_RUN = """
    import json, os, pathlib

    ckpt = pathlib.Path("/opt/ml/ckpt")
    found = {p.name: p.read_text() for p in ckpt.iterdir()}
    pathlib.Path(os.environ["SM_MODEL_DIR"], "resumed.json").write_text(json.dumps(found))
"""

LONG_RUN = """
    import pathlib, signal, sys, time

    ckpt = pathlib.Path("/opt/ml/checkpoints")

    def on_term(signum, frame):
        (ckpt / "on-stop.txt").write_text("saved while stopping")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    (ckpt / "step-1.txt").write_text("step 1")
    time.sleep(600)
"""


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    """The module's daemon, with its AWS front on a port of its own."""
    running = AwsDaemon(
        tmp_path_factory.mktemp("train-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


def sourcedir(dest: Path, files: dict[str, str]) -> Path:
    """``sourcedir.tar.gz`` as the SDK packs it: files at the top, modes as on disk."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as archive:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    dest.chmod(0o644)
    return dest


def store(daemon: Daemon) -> LocalArtifactStore:
    return LocalArtifactStore(daemon.settings.artifacts_dir)


def put(daemon: Daemon, uri: str, source: Path) -> str:
    store(daemon).put_file(parse_uri(uri), source)
    return uri


def sdk_request(
    name: str,
    image: str,
    program: str,
    submit: str,
    *,
    hyperparameters: dict[str, Any] | None = None,
    channels: dict[str, tuple[str, str]] | None = None,
    hosts: int = 1,
    checkpoint: dict[str, str] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob as the SageMaker SDK builds it: every hyperparameter JSON-encoded."""
    encoded = {
        "sagemaker_program": program,
        "sagemaker_submit_directory": submit,
        "sagemaker_container_log_level": 20,
        "sagemaker_job_name": name,
        **(hyperparameters or {}),
    }
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": "arn:aws:iam::000000000000:role/dockyard",
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {key: json.dumps(value) for key, value in encoded.items()},
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": distribution,
                    }
                },
            }
            for channel, (uri, distribution) in (channels or {}).items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}"},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": hosts, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if not request["InputDataConfig"]:
        del request["InputDataConfig"]
    if checkpoint is not None:
        request["CheckpointConfig"] = checkpoint
    return request


def submit(daemon: Daemon, request: dict[str, Any]) -> str:
    daemon.api("POST", "/v1/training-jobs", json=request)
    return str(request["TrainingJobName"])


def wait_for_job(daemon: Daemon, name: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = daemon.api("GET", f"/v1/training-jobs/{name}")
        return job if job["TrainingJobStatus"] in FINAL else None

    return wait_until(ended, timeout=JOB_TIMEOUT, what=f"training job {name} to end", interval=0.2)


def completed(daemon: Daemon, name: str) -> dict[str, Any]:
    job = wait_for_job(daemon, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


def model_file(daemon: Daemon, job: dict[str, Any], name: str) -> str:
    path = store(daemon).local_path(parse_uri(job["ModelArtifacts"]["S3ModelArtifacts"]))
    with tarfile.open(path) as archive:
        member = archive.extractfile(name)
        assert member is not None, name
        return member.read().decode()


def stored_text(daemon: Daemon, uri: str) -> str | None:
    artifacts = store(daemon)
    location = parse_uri(uri)
    return artifacts.local_path(location).read_text() if artifacts.exists(location) else None


# -- tests --------------------------------------------------------------------------------


def test_sdk_submitted_code_runs_with_writable_directories_and_untouched_sources(
    daemon: Daemon, framework_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    data.chmod(0o755)
    # the SDK uploads sourcedir.tar.gz to S3 and sends its s3:// URI
    from_s3 = unique_name("sdk-s3")
    uri = put(
        daemon,
        f"s3://{BUCKET}/{from_s3}/source/sourcedir.tar.gz",
        sourcedir(tmp_path / "s3" / "sourcedir.tar.gz", {"train.py": SDK_SCRIPT}),
    )
    s3_job = sdk_request(
        from_s3,
        framework_image,
        "train.py",
        uri,
        hyperparameters={"epochs": 3},
        channels={"train": (data.as_uri(), "FullyReplicated")},
    )
    # a local sourcedir.tar.gz whose entry point is a shell script (not executable in it)
    from_disk = unique_name("sdk-sh")
    archive = sourcedir(tmp_path / "disk" / "sourcedir.tar.gz", {"train.sh": SHELL_SCRIPT})
    sh_job = sdk_request(
        from_disk, framework_image, "train.sh", str(archive), hyperparameters={"lr": 0.1}
    )
    submit(daemon, s3_job)
    submit(daemon, sh_job)

    seen = json.loads(model_file(daemon, completed(daemon, from_s3), "seen.json"))
    assert seen["argv"] == ["--epochs", "3"]
    assert seen["submit"] == json.dumps(uri)  # hyperparameters.json as SageMaker writes it
    assert seen["rows"] == "a,b\n"
    assert seen["code"] == ["scratch.txt", "train.py"]
    # the script wrote into its channel; the user's data is as it was
    assert sorted(p.name for p in data.iterdir()) == ["rows.csv"]
    assert (data / "rows.csv").read_text() == "a,b\n"

    shell = model_file(daemon, completed(daemon, from_disk), "shell.txt")
    assert shell == "shell says --lr 0.1\n"


def test_a_sharded_channel_is_split_over_two_hosts_and_a_replicated_one_is_not(
    daemon: Daemon, framework_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    name = unique_name("shards")
    parts = [f"part-{index}.csv" for index in range(5)]
    for part in parts:
        source = tmp_path / part
        source.write_text(part)
        put(daemon, f"s3://{BUCKET}/{name}/shards/{part}", source)
    replicated = tmp_path / "all"
    replicated.mkdir()
    (replicated / "labels.csv").write_text("x\n")
    replicated.chmod(0o755)
    code = sourcedir(tmp_path / "sourcedir.tar.gz", {"shard.py": SHARD_SCRIPT})
    request = sdk_request(
        name,
        framework_image,
        "shard.py",
        code.as_uri(),
        hosts=2,
        channels={
            "shards": (f"s3://{BUCKET}/{name}/shards", "ShardedByS3Key"),
            "all": (replicated.as_uri(), "FullyReplicated"),
        },
    )
    job = completed(daemon, submit(daemon, request))

    seen = {h: json.loads(model_file(daemon, job, f"files-{h}.json")) for h in ("algo-1", "algo-2")}
    assert seen["algo-1"]["shards"] == ["part-0.csv", "part-2.csv", "part-4.csv"]
    assert seen["algo-2"]["shards"] == ["part-1.csv", "part-3.csv"]
    assert seen["algo-1"]["all"] == seen["algo-2"]["all"] == ["labels.csv"]


def test_a_failed_job_s_checkpoints_resume_the_next_job_and_stops_save_them_too(
    daemon: Daemon, framework_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    first = unique_name("ckpt-1")
    prefix = f"s3://{BUCKET}/checkpoints/{first}"
    checkpoint = {"S3Uri": prefix, "LocalPath": "/opt/ml/ckpt"}
    code = sourcedir(
        tmp_path / "sourcedir.tar.gz",
        {"first.py": FIRST_RUN, "second.py": SECOND_RUN, "long.py": LONG_RUN},
    )
    long_run = unique_name("ckpt-long")
    long_prefix = f"s3://{BUCKET}/checkpoints/{long_run}"
    submit(
        daemon,
        sdk_request(first, framework_image, "first.py", str(code), checkpoint=checkpoint),
    )
    submit(
        daemon,
        sdk_request(
            long_run, framework_image, "long.py", str(code), checkpoint={"S3Uri": long_prefix}
        ),
    )

    failed = wait_for_job(daemon, first)
    assert failed["TrainingJobStatus"] == "Failed"
    # the runner's report (the script exited 3; the container, as the toolkit's, 1)
    assert "ExitCode 3" in failed["FailureReason"]
    assert "ValueError: diverged at epoch 2" in failed["FailureReason"]
    assert stored_text(daemon, f"{prefix}/epoch-1.txt") == "resume from epoch 1"

    second = unique_name("ckpt-2")
    submit(
        daemon,
        sdk_request(second, framework_image, "second.py", str(code), checkpoint=checkpoint),
    )
    resumed = json.loads(model_file(daemon, completed(daemon, second), "resumed.json"))
    assert resumed == {"epoch-1.txt": "resume from epoch 1"}

    # while a job trains, what it writes to LocalPath reaches S3Uri
    wait_until(
        lambda: stored_text(daemon, f"{long_prefix}/step-1.txt"),
        timeout=JOB_TIMEOUT,
        what="the running job's checkpoint to be saved",
    )
    assert daemon.api("GET", f"/v1/training-jobs/{long_run}")["TrainingJobStatus"] == "InProgress"
    daemon.api("POST", f"/v1/training-jobs/{long_run}/stop")
    assert wait_for_job(daemon, long_run)["TrainingJobStatus"] == "Stopped"
    assert stored_text(daemon, f"{long_prefix}/on-stop.txt") == "saved while stopping"


def test_a_failing_script_makes_the_training_container_exit_1(
    engine: DockerEngine,
    framework_image: str,
    session_labels: dict[str, str],
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    """``docker run IMAGE train`` as SageMaker starts it, on a hand-made /opt/ml."""
    root = tmp_path / "ml"
    config = root / "input" / "config"
    config.mkdir(parents=True)
    host = TrainingHostConfig(
        "algo-1",
        ("algo-1",),
        "local",
        {
            "sagemaker_program": json.dumps("fail.py"),
            "sagemaker_submit_directory": '"/opt/ml/code"',
        },
    )
    for file_name, text in render_config_files(host).items():
        (config / file_name).write_text(text)
    (root / "code").mkdir()
    (root / "code" / "fail.py").write_text(
        "import sys\nprint('KeyError: label', file=sys.stderr)\nsys.exit(7)\n"
    )
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)

    client = docker.DockerClient(base_url=engine.base_url, version="auto")
    container = client.containers.run(
        framework_image,
        ["train"],
        name=unique_name("exit"),
        hostname="algo-1",
        labels=session_labels,
        volumes={str(root): {"bind": "/opt/ml", "mode": "rw"}},
        detach=True,
    )
    try:
        status = container.wait(timeout=JOB_TIMEOUT)["StatusCode"]
    finally:
        container.remove(force=True)
        client.close()
    assert status == 1
    failure = (root / "output" / "failure").read_text()
    assert "ExitCode 7" in failure and "KeyError: label" in failure


def test_boto3_trains_from_an_s3_sourcedir_as_the_sdk_sends_it(
    daemon: AwsDaemon,
    keys: dict[str, str],  # noqa: F811 (the fixture imported above)
    framework_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    sm = aws_client(daemon, keys, "sagemaker")
    name = unique_name("boto-sdk")
    uri = put(
        daemon,
        f"s3://{BUCKET}/{name}/source/sourcedir.tar.gz",
        sourcedir(tmp_path / "sourcedir.tar.gz", {"train.sh": SHELL_SCRIPT}),
    )
    request = sdk_request(name, framework_image, "train.sh", uri, hyperparameters={"lr": 0.1})
    request["ResourceConfig"]["InstanceType"] = "ml.m5.large"
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn.endswith(f"training-job/{name}") and f":{REGION}:" in arn
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["HyperParameters"]["sagemaker_submit_directory"] == json.dumps(uri)
    assert model_file(daemon, job, "shell.txt") == "shell says --lr 0.1\n"
