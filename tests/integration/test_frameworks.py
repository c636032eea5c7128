"""XGBoost and PyTorch end to end, as the examples run them: ``dockyard train --framework
F`` in the framework image (script mode), ``dockyard deploy --framework F --model-data
training-job:NAME`` on the same image with no inference code (the image's default
handlers load the model), then requests through the load balancer in each content type
the defaults read, and the 415/406 answers for the rest.

Kept short: one round of boosting and one epoch, one replica each, the framework images
built once per session (``framework_image_of``) and reused from the engine afterwards.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import numpy as np
import pytest
from dockyard_daemon import Daemon

from dockyard.adapters.artifacts.local import LocalArtifactStore, parse_uri
from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
XGBOOST = EXAMPLES / "xgboost"
PYTORCH = EXAMPLES / "pytorch"


def _validation_rows() -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(XGBOOST / "data" / "validation" / "validation.csv", delimiter=",")
    return data[:, 1:], data[:, 0]


def _wine_rows() -> np.ndarray:
    data = np.loadtxt(PYTORCH / "data" / "train" / "wine.csv", delimiter=",")
    return data[[0, 59, 174], 1:]  # one of each class


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)


def _libsvm(rows: np.ndarray) -> str:
    """Every value written, zeros too: an absent index is a missing value, not a zero."""
    return "".join(" ".join(f"{i}:{v:g}" for i, v in enumerate(row)) + "\n" for row in rows)


def _npy(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rows.astype(np.float32))
    return buffer.getvalue()


def _post(url: str, body: str | bytes, content_type: str, accept: str) -> httpx.Response:
    headers = {"content-type": content_type, "accept": accept}
    return httpx.post(url, content=body, headers=headers, timeout=60)


def _train_and_deploy(
    daemon: Daemon,
    framework: str,
    example: Path,
    channels: list[str],
    hyperparameters: list[str],
    name: str,
) -> dict[str, Any]:
    """``dockyard train`` then ``dockyard deploy`` as the example's run.sh does."""
    job = f"{name}-job"
    args = ["train", job, "--framework", framework, "--source-dir", str(example / "code")]
    args += ["--entry-point", "train.py"]
    for channel in channels:
        args += ["--channel", f"{channel}={example / 'data' / channel}"]
    for hyperparameter in hyperparameters:
        args += ["--hyperparameter", hyperparameter]
    trained = daemon.cli(*args)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    deployed = daemon.cli(
        "deploy", name, "--framework", framework, "--model-data", f"training-job:{job}"
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    return {
        "job": daemon.api("GET", f"/v1/training-jobs/{job}"),
        "endpoint": daemon.api("GET", f"/v1/endpoints/{name}"),
    }


def _model_files(daemon: Daemon, job: dict[str, Any]) -> list[str]:
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    tarball = LocalArtifactStore(daemon.settings.artifacts_dir).local_path(parse_uri(uri))
    with tarfile.open(tarball) as archive:
        return [name.removeprefix("./") for name in archive.getnames()]


@pytest.fixture(scope="module")
def xgboost_deployment(
    daemon: Daemon, framework_image_of: Callable[[str], str], unique_name: Callable[..., str]
) -> Iterator[dict[str, Any]]:
    framework_image_of("xgboost")
    name = unique_name("xgb")
    yield _train_and_deploy(
        daemon, "xgboost", XGBOOST, ["train", "validation"], ["num-round=3"], name
    )
    daemon.cli("delete", name)


@pytest.fixture(scope="module")
def pytorch_deployment(
    daemon: Daemon, framework_image_of: Callable[[str], str], unique_name: Callable[..., str]
) -> Iterator[dict[str, Any]]:
    framework_image_of("pytorch")
    name = unique_name("torch")
    yield _train_and_deploy(daemon, "pytorch", PYTORCH, ["train"], ["epochs=1"], name)
    daemon.cli("delete", name)


# -- XGBoost ------------------------------------------------------------------------------


def test_xgboost_training_job_saves_the_booster_as_xgboost_model(
    daemon: Daemon, xgboost_deployment: dict[str, Any]
) -> None:
    job = xgboost_deployment["job"]
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "xgboost-model" in _model_files(daemon, job)


def test_xgboost_endpoint_reads_csv_libsvm_json_and_npy_rows_alike(
    xgboost_deployment: dict[str, Any],
) -> None:
    url = xgboost_deployment["endpoint"]["Url"]
    features, labels = _validation_rows()
    answers = {}
    for content_type, body in [
        ("text/csv", _csv(features)),
        ("text/libsvm", _libsvm(features)),
        ("application/json", json.dumps(features.tolist())),
        ("application/x-npy", _npy(features)),
    ]:
        response = _post(url, body, content_type, "application/json")
        assert response.status_code == 200, (content_type, response.text)
        answers[content_type] = np.array(response.json())
    first = answers["text/csv"]
    assert first.shape == labels.shape
    for answer in answers.values():
        np.testing.assert_allclose(answer, first, rtol=1e-5)
    assert np.mean((first > 0.5) == labels) > 0.8  # three rounds already separate the classes


def test_xgboost_endpoint_writes_csv_and_refuses_other_types(
    xgboost_deployment: dict[str, Any],
) -> None:
    url = xgboost_deployment["endpoint"]["Url"]
    features, _ = _validation_rows()
    as_csv = _post(url, _csv(features[:2]), "text/csv", "text/csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv"
    assert len(as_csv.text.split()) == 2
    parquet = _post(url, b"PAR1", "application/x-parquet", "*/*")
    assert parquet.status_code == 415
    assert "text/libsvm" in parquet.json()["message"]
    assert _post(url, _csv(features[:1]), "text/csv", "application/xml").status_code == 406


# -- PyTorch ------------------------------------------------------------------------------


def test_pytorch_training_job_saves_a_torchscript_model_pt(
    daemon: Daemon, pytorch_deployment: dict[str, Any]
) -> None:
    job = pytorch_deployment["job"]
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "model.pt" in _model_files(daemon, job)


def test_pytorch_endpoint_answers_probabilities_from_json_csv_and_npy(
    pytorch_deployment: dict[str, Any],
) -> None:
    url = pytorch_deployment["endpoint"]["Url"]
    rows = _wine_rows()
    from_json = _post(url, json.dumps(rows.tolist()), "application/json", "application/json")
    assert from_json.status_code == 200, from_json.text
    probabilities = np.array(from_json.json())
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    from_csv = _post(url, _csv(rows), "text/csv", "text/csv")
    assert from_csv.status_code == 200, from_csv.text
    np.testing.assert_allclose(
        np.loadtxt(io.StringIO(from_csv.text), delimiter=","), probabilities, rtol=1e-4
    )
    from_npy = _post(url, _npy(rows), "application/x-npy", "application/x-npy")
    assert from_npy.status_code == 200, from_npy.text
    np.testing.assert_allclose(np.load(io.BytesIO(from_npy.content)), probabilities, rtol=1e-4)


def test_pytorch_endpoint_refuses_unsupported_types(pytorch_deployment: dict[str, Any]) -> None:
    url = pytorch_deployment["endpoint"]["Url"]
    refused = _post(url, "0:1 1:2\n", "text/libsvm", "application/json")
    assert refused.status_code == 415
    assert refused.json()["error"] == "UnsupportedFormatError"
    assert _post(url, "[[1, 2]]", "application/json", "image/png").status_code == 406


def test_pytorch_image_holds_the_cpu_build_and_no_cuda_libraries(
    engine: DockerEngine,
    framework_image_of: Callable[[str], str],
    session_labels: dict[str, str],
) -> None:
    probe = (
        "import os, torch; "
        "site = '/opt/dockyard/site'; "
        "gpu = [n for n in os.listdir(site) if n.startswith(('nvidia', 'triton'))]; "
        "libs = os.listdir(os.path.join(site, 'torch', 'lib')); "
        "print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), gpu, "
        "[n for n in libs if 'cuda' in n or 'cudnn' in n or 'nccl' in n], "
        "tuple(torch.randn(2).shape))"
    )
    client = docker.DockerClient(base_url=engine.base_url, version="auto")
    try:
        output = client.containers.run(
            framework_image_of("pytorch"),
            entrypoint=["python3", "-c", probe],
            labels=session_labels,
            remove=True,
        )
    finally:
        client.close()
    assert output.decode().split("\n")[0] == "2.13.0+cpu None False [] [] (2,)"
