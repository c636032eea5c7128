"""The HTTP floor server answers like a model server, both ways of calling ``predict``,
and the floor benchmark's summary subtracts ``predict`` (``bench/serving/``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
sys.path.append(str(REPO))  # after the tests' own paths: bench modules never shadow them

from bench.serving import http_floor  # noqa: E402
from bench.serving.targets import free_port  # noqa: E402


@pytest.fixture(params=["inline", "thread"])
def floor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    joblib.dump(model, tmp_path / "model.joblib")
    port = free_port()
    env = {
        **os.environ,
        "FLOOR_HANDOFF": request.param,
        "SM_MODEL_DIR": str(tmp_path),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }
    server = subprocess.Popen([sys.executable, str(http_floor.FLOOR)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/ping", timeout=1.0)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the floor server exited"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_floor_predicts_keeps_the_connection_and_refuses_a_bad_body(floor: str) -> None:
    with httpx.Client(base_url=floor) as client:
        assert client.get("/ping").status_code == 200
        first = client.post("/invocations", content=b"[[0.0], [3.0]]")
        second = client.post("/invocations", content=b"[[3.0]]")
        bad = client.post("/invocations", content=b"not json")
    assert (first.status_code, first.json()) == (200, {"predictions": [0, 1]})
    assert (second.status_code, second.json()) == (200, {"predictions": [1]})
    assert bad.status_code == 400 and "error" in bad.json()


def test_the_summary_takes_medians_and_subtracts_predict() -> None:
    runs = {
        "dockyard": [
            {"rps": 8000.0, "server_us": 190.0},
            {"rps": 9000.0, "server_us": 170.0},
            {"rps": 8500.0, "server_us": 180.0},
        ],
        "floor, inline": [{"rps": 14000.0, "server_us": 114.0}],
    }
    summary = http_floor.summarise(runs, predict_us=80.0)
    assert summary == {
        "dockyard": {"rps": 8500, "server_us": 180.0, "beyond_predict_us": 100.0},
        "floor, inline": {"rps": 14000, "server_us": 114.0, "beyond_predict_us": 34.0},
    }
    assert "one-row predict alone: 80.0 µs a call" in http_floor.table(summary, 80.0)
