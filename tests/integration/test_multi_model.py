"""Multi-model endpoints on real containers: three scikit-learn models under one prefix.

The models are fitted here, each with its labels shifted (+0, +10, +20) so that an
answer says which model gave it, and padded to a little over 1 MB each so that a
budget of 4.5 MB holds exactly two of them in a replica of two workers (each model is
charged once per worker).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from botocore.exceptions import ClientError
from dockyard_daemon import free_port
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_aws_front import AwsDaemon, aws_client, error_of
from test_platform import delete_endpoint, wait_in_service

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

#: One sample as a one-row matrix: a single CSV line decodes flat, as in the AWS container.
ROW = "[[5.1, 3.5, 1.4, 0.2]]"
JSON = "application/json"
TARGETS = {"a/model.tar.gz": 0, "b.tar.gz": 10, "c.tar.gz": 20}
PAD_BYTES = 1024 * 1024
ROLE = "arn:aws:iam::000000000000:role/dockyard"


def write_models(prefix: Path, scratch: Path) -> None:
    """The three archives of TARGETS under ``prefix``, readable by the image's user."""
    features, labels = load_iris(return_X_y=True)
    for target, shift in TARGETS.items():
        directory = scratch / target.replace("/", "_")
        directory.mkdir(parents=True)
        model = LogisticRegression(max_iter=1000).fit(features, labels + shift)
        joblib.dump(model, directory / "model.joblib")
        (directory / "pad.bin").write_bytes(b"\0" * PAD_BYTES)
        archive = prefix / target
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            for path in directory.iterdir():
                tar.add(path, path.name)
    for path in [prefix, *prefix.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    running = AwsDaemon(
        tmp_path_factory.mktemp("mme-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mme-models")
    write_models(root / "prefix", root / "scratch")
    return root / "prefix"


@pytest.fixture(scope="module")
def endpoint(
    daemon: AwsDaemon, prefix: Path, framework_image: str, unique_name: Callable[..., str]
) -> Iterator[dict[str, Any]]:
    """One replica serving the prefix with room for two models, deployed with the CLI."""
    name = unique_name("mme")
    done = daemon.cli(
        "deploy", name, "--framework", "sklearn", "--multi-model",
        "--model-prefix", str(prefix), "--model-memory-mb", "4.5",
        "--env", "SAGEMAKER_MODEL_SERVER_WORKERS=2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    yield wait_in_service(daemon, name, replicas=1)
    delete_endpoint(daemon, name)


def invoke(daemon: AwsDaemon, name: str, target: str) -> Any:
    done = daemon.cli(
        "invoke", name, "--target-model", target, "--body", ROW, "--content-type", JSON
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def replica(endpoint: dict[str, Any]) -> httpx.Client:
    """A client of the replica's own model server (the contract's /models routes)."""
    address = endpoint["Replicas"][0]["Address"]
    return httpx.Client(base_url=f"http://{address}", trust_env=False, timeout=30)


def loaded(endpoint: dict[str, Any]) -> list[str]:
    with replica(endpoint) as client:
        return [m["modelName"] for m in client.get("/models").json()["models"]]


def test_each_target_model_answers_through_the_cli(
    daemon: AwsDaemon, endpoint: dict[str, Any]
) -> None:
    assert endpoint["Mode"] == "MultiModel"
    for target, shift in TARGETS.items():
        assert invoke(daemon, endpoint["EndpointName"], target) == [shift]


def test_least_recently_used_models_make_room_within_the_budget(
    daemon: AwsDaemon, endpoint: dict[str, Any]
) -> None:
    name = endpoint["EndpointName"]
    invoke(daemon, name, "a/model.tar.gz")
    invoke(daemon, name, "b.tar.gz")
    invoke(daemon, name, "a/model.tar.gz")  # b is now the least recently used
    assert invoke(daemon, name, "c.tar.gz") == [20]
    assert loaded(endpoint) == ["a/model.tar.gz", "c.tar.gz"]
    assert invoke(daemon, name, "b.tar.gz") == [10]  # reloaded; a made room
    assert loaded(endpoint) == ["b.tar.gz", "c.tar.gz"]


def test_the_replica_answers_the_models_contract_409_404_507(
    daemon: AwsDaemon, endpoint: dict[str, Any]
) -> None:
    invoke(daemon, endpoint["EndpointName"], "b.tar.gz")
    invoke(daemon, endpoint["EndpointName"], "c.tar.gz")
    with replica(endpoint) as client:
        held = client.get("/models/b.tar.gz").json()
        again = client.post("/models", json={"model_name": "b.tar.gz", "url": held["modelUrl"]})
        assert again.status_code == 409
        full = client.post("/models", json={"model_name": "extra", "url": held["modelUrl"]})
        assert full.status_code == 507
        assert client.delete("/models/never-loaded").status_code == 404
        assert client.delete("/models/b.tar.gz").status_code == 200
        answer = client.post("/models/c.tar.gz/invoke", content=ROW, headers={"Content-Type": JSON})
        assert answer.json() == [20]


def test_an_unknown_target_model_is_refused_and_the_endpoint_keeps_serving(
    daemon: AwsDaemon, endpoint: dict[str, Any]
) -> None:
    name = endpoint["EndpointName"]
    done = daemon.cli(
        "invoke",
        name,
        "--target-model",
        "nowhere/model.tar.gz",
        "--body",
        ROW,
        "--content-type",
        JSON,
    )
    assert done.returncode != 0
    assert "Failed to download model data" in done.stdout + done.stderr
    assert invoke(daemon, name, "c.tar.gz") == [20]


def test_boto3_creates_a_multi_model_endpoint_from_an_s3_prefix_and_names_target_models(
    daemon: AwsDaemon,
    prefix: Path,
    framework_image: str,
    unique_name: Callable[..., str],
) -> None:
    created = daemon.cli("credentials", "create").stdout
    keys = dict(re.findall(r"^(AccessKeyId|SecretAccessKey)\s+(\S+)$", created, re.M))
    sm = aws_client(daemon, keys, "sagemaker")
    smr = aws_client(daemon, keys, "sagemaker-runtime")
    stored = daemon.state_dir / "artifacts" / "models" / "mme"
    write_models(stored, daemon.state_dir.parent / "mme-scratch")
    name = unique_name("mme-aws")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": framework_image,
            "Mode": "MultiModel",
            "ModelDataUrl": "s3://models/mme/",
        },
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 2}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 180}
    )
    for target, shift in TARGETS.items():
        answer = smr.invoke_endpoint(
            EndpointName=name, TargetModel=target, Body=ROW, ContentType=JSON
        )
        assert json.loads(answer["Body"].read()) == [shift]
    with pytest.raises(ClientError) as raised:
        smr.invoke_endpoint(
            EndpointName=name, TargetModel="missing.tar.gz", Body=ROW, ContentType=JSON
        )
    assert error_of(raised) == ("ValidationError", 400)
    assert "Failed to download model data" in str(raised.value)
    answer = smr.invoke_endpoint(
        EndpointName=name, TargetModel="b.tar.gz", Body=ROW, ContentType=JSON
    )
    assert json.loads(answer["Body"].read()) == [10]
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 180}
    )
