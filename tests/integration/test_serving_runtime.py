"""The model server inside real replicas: adaptive batching and ``/ping`` during work.

A real daemon deploys the scikit-learn framework image (rebuilt from this checkout's
runtime by the daemon when the runtime changed) with a ``model.tar.gz`` made here: an
iris model and, for the slow endpoint, a ``code/inference.py``. Requests go through
HAProxy to the endpoint URL; ``/ping`` and ``/dockyard/stats`` go straight to a replica.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from dockyard_daemon import Daemon, wait_until
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENDPOINT_TIMEOUT = 240.0
SLOW_S = 20
# A request whose first value is negative sleeps, as a long prediction would.
SLOW_INFERENCE = textwrap.dedent(
    f"""
    import time


    def predict_fn(data, model):
        if data[0][0] < 0:
            time.sleep({SLOW_S})
            data = abs(data)
        return model.predict(data)
    """
)


@pytest.fixture(scope="module")
def iris_model() -> LogisticRegression:
    features, labels = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(features, labels)


def _model_tarball(path: Path, model: Any, inference: str | None = None) -> Path:
    """A model.tar.gz holding model.joblib and, if given, code/inference.py."""
    with tarfile.open(path, "w:gz") as tar:
        saved = io.BytesIO()
        joblib.dump(model, saved)
        _add(tar, "model.joblib", saved.getvalue())
        if inference is not None:
            _add(tar, "code/inference.py", inference.encode())
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _deploy(daemon: Daemon, name: str, model_data: Path, *options: str) -> dict[str, Any]:
    """``dockyard deploy`` on the framework image; the endpoint once InService."""
    done = daemon.cli(
        "deploy", name, "--framework", "sklearn", "--model-data", str(model_data), *options
    )
    assert done.returncode == 0, done.stdout + done.stderr

    def in_service() -> dict[str, Any] | None:
        endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
        assert endpoint["EndpointStatus"] != "Failed", endpoint.get("FailureReason")
        healthy = [r for r in endpoint["Replicas"] if r["Health"] == "healthy"]
        return endpoint if endpoint["EndpointStatus"] == "InService" and healthy else None

    return wait_until(in_service, timeout=ENDPOINT_TIMEOUT, what=f"{name} InService")


def _delete(daemon: Daemon, name: str) -> None:
    daemon.api("DELETE", f"/v1/endpoints/{name}")


def _replica_url(endpoint: dict[str, Any]) -> str:
    (replica,) = [r for r in endpoint["Replicas"] if r["Health"] == "healthy"]
    return f"http://{replica['Address']}"


def _replica_log(daemon: Daemon, name: str) -> str:
    replicas = daemon.api("GET", f"/v1/endpoints/{name}/logs")["Replicas"]
    return "\n".join(line for replica in replicas for line in replica["Lines"])


@pytest.fixture(scope="module")
def batching_endpoint(
    daemon: Daemon,
    iris_model: LogisticRegression,
    tmp_path_factory: pytest.TempPathFactory,
    unique_name: Callable[..., str],
) -> Iterator[dict[str, Any]]:
    """One replica, two workers, default handlers, batching on through the CLI options."""
    name = unique_name("batching")
    tarball = _model_tarball(tmp_path_factory.mktemp("batching") / "model.tar.gz", iris_model)
    options = ("--batch-size", "8", "--batch-wait-ms", "20", "--env")
    yield _deploy(daemon, name, tarball, *options, "SAGEMAKER_MODEL_SERVER_WORKERS=2")
    _delete(daemon, name)


@pytest.fixture(scope="module")
def slow_endpoint(
    daemon: Daemon,
    iris_model: LogisticRegression,
    tmp_path_factory: pytest.TempPathFactory,
    unique_name: Callable[..., str],
) -> Iterator[dict[str, Any]]:
    """One replica with one worker, whose predict_fn sleeps on a negative first value."""
    name = unique_name("slow")
    tarball = _model_tarball(
        tmp_path_factory.mktemp("slow") / "model.tar.gz", iris_model, SLOW_INFERENCE
    )
    yield _deploy(daemon, name, tarball, "--env", "SAGEMAKER_MODEL_SERVER_WORKERS=1")
    _delete(daemon, name)


def test_batched_endpoint_answers_concurrent_requests_each_with_its_own_prediction(
    daemon: Daemon, batching_endpoint: dict[str, Any], iris_model: LogisticRegression
) -> None:
    name = batching_endpoint["EndpointName"]
    assert "batching: up to 8 requests, waiting up to 20 ms" in _replica_log(daemon, name)
    rng = np.random.default_rng(7)
    features, _ = load_iris(return_X_y=True)
    bodies = [features[rng.choice(len(features), size=n % 4 + 1)].tolist() for n in range(96)]
    bad = {10: [[1.0, 2.0]], 50: "not json"}

    def send(index: int) -> tuple[int, Any]:
        body = bad.get(index, bodies[index])
        content = body if isinstance(body, str) else json.dumps(body)
        response = httpx.post(
            batching_endpoint["Url"],
            content=content,
            headers={"content-type": "application/json", "accept": "application/json"},
            timeout=60,
        )
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(send, range(len(bodies))))

    for index, (status, answer) in enumerate(answers):
        if index in bad:
            assert status == 400, answer
            continue
        assert status == 200, answer
        assert answer == iris_model.predict(np.array(bodies[index])).tolist(), index
    assert "4 values" in answers[10][1]["message"]


def test_replica_reports_the_memory_of_its_workers(batching_endpoint: dict[str, Any]) -> None:
    stats = httpx.get(f"{_replica_url(batching_endpoint)}/dockyard/stats", timeout=10).json()
    workers = stats["workers"]
    assert len(workers) == 2
    assert all(w["ready"] and w["peak_rss_bytes"] >= w["rss_bytes"] > 0 for w in workers)
    assert stats["supervisor"]["peak_rss_bytes"] > 0


def test_ping_stays_200_while_the_only_worker_is_inside_a_long_prediction(
    daemon: Daemon, slow_endpoint: dict[str, Any]
) -> None:
    replica = _replica_url(slow_endpoint)
    result: dict[str, httpx.Response] = {}

    def slow_request() -> None:
        result["response"] = httpx.post(
            slow_endpoint["Url"],
            content="[[-5.1, 3.5, 1.4, 0.2]]",
            headers={"content-type": "application/json"},
            timeout=SLOW_S + 60,
        )

    request = threading.Thread(target=slow_request, daemon=True)
    request.start()

    def busy() -> bool:
        stats = httpx.get(f"{replica}/dockyard/stats", timeout=10).json()
        return bool(stats["workers"][0]["busy_s"] > 0)

    wait_until(busy, timeout=30, what="the slow prediction to start")
    pings = [httpx.get(f"{replica}/ping", timeout=10).status_code for _ in range(5)]
    still_running = request.is_alive()
    endpoint = daemon.api("GET", f"/v1/endpoints/{slow_endpoint['EndpointName']}")
    request.join(timeout=SLOW_S + 60)

    assert pings == [200] * 5
    assert still_running, "the pings were answered while the prediction still ran"
    assert [r["Health"] for r in endpoint["Replicas"]] == ["healthy"]
    assert result["response"].status_code == 200, result["response"].text
    assert result["response"].json() == [0]
