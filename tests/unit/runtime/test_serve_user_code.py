"""User ``inference.py`` handlers behind the real server: used, isolated, and timed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Launcher, ServerProcess

pytestmark = pytest.mark.unit

ROW = "5.1 3.5 1.4 0.2"

THREE_STEP = textwrap.dedent(
    """
    import json
    import time

    import numpy as np


    def input_fn(input_data, content_type, context):
        if content_type != "text/plain":
            raise ValueError(f"this model reads text/plain, not {content_type}")
        words = input_data.decode().split()
        if words[0] == "sleep":
            return ("sleep", float(words[1]))
        if words[0] == "boom":
            return ("boom", None)
        return np.array([[float(word) for word in words]])


    def predict_fn(data, model):
        if isinstance(data, tuple) and data[0] == "sleep":
            time.sleep(data[1])
            return np.array([-1])
        if isinstance(data, tuple) and data[0] == "boom":
            raise RuntimeError("the model cannot handle this input")
        return model.predict_proba(data)


    def output_fn(prediction, accept, context):
        attributes = context.custom_attributes
        if attributes:
            context.set_custom_attributes("seen:" + attributes)
        return json.dumps({"probabilities": prediction.tolist()}), "application/vnd.probs+json"
    """
)

TRANSFORM = textwrap.dedent(
    """
    import json

    import numpy as np


    def transform_fn(model, input_data, content_type, accept):
        rows = json.loads(input_data)["rows"]
        labels = model.predict(np.array(rows)).tolist()
        return json.dumps({"labels": labels, "accept": accept}), "application/vnd.labels+json"
    """
)


@pytest.fixture(scope="module")
def three_step(launcher: Launcher) -> Iterator[ServerProcess]:
    server = launcher.start(code=THREE_STEP, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "2"})
    yield server
    server.stop()


def test_input_predict_output_fns_are_used(three_step: ServerProcess) -> None:
    response = three_step.invoke(ROW, "text/plain", "application/vnd.probs+json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.probs+json"
    probabilities = response.json()["probabilities"][0]
    assert len(probabilities) == 3
    assert probabilities.index(max(probabilities)) == 0


def test_custom_attributes_reach_the_handler_and_come_back(three_step: ServerProcess) -> None:
    response = three_step.invoke(
        ROW, "text/plain", headers={"X-Amzn-SageMaker-Custom-Attributes": "trace-id=7"}
    )
    assert response.headers["x-amzn-sagemaker-custom-attributes"] == "seen:trace-id=7"


def test_error_in_user_input_fn_is_500_with_its_message(three_step: ServerProcess) -> None:
    response = three_step.invoke("1,2,3,4", "text/csv")
    assert response.status_code == 500
    answer = response.json()
    assert answer.keys() == {"error", "error-message", "message", "stack-trace"}
    assert answer["error"] == "ModelError"
    assert answer["error-message"] == "ValueError: this model reads text/plain, not text/csv"
    assert answer["message"] == answer["error-message"]
    assert "in input_fn" in answer["stack-trace"]  # the user's frame, as the toolkit shows it


def test_model_exception_is_500_and_server_keeps_serving(three_step: ServerProcess) -> None:
    response = three_step.invoke("boom", "text/plain")
    assert response.status_code == 500
    assert "the model cannot handle this input" in response.json()["message"]
    assert three_step.invoke(ROW, "text/plain").status_code == 200


@pytest.mark.slow
def test_predict_past_the_timeout_is_504_and_server_keeps_serving(
    three_step: ServerProcess,
) -> None:
    response = three_step.invoke("sleep 30", "text/plain")
    assert response.status_code == 504
    assert response.json()["error"] == "Timeout"
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT" in response.json()["message"]
    assert three_step.invoke(ROW, "text/plain").status_code == 200


@pytest.mark.slow
def test_transform_fn_is_used(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(code=TRANSFORM)
    body = json.dumps({"rows": [[5.1, 3.5, 1.4, 0.2]]})
    response = server.invoke(body, "application/json", "application/vnd.labels+json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.labels+json"
    assert response.json() == {"labels": [0], "accept": "application/vnd.labels+json"}


def test_model_fn_that_raises_stops_the_server_with_its_message(
    start_server: Callable[..., ServerProcess],
) -> None:
    code = "def model_fn(model_dir):\n    raise RuntimeError('the weights are corrupt')\n"
    server = start_server(code=code, wait=False)
    assert server.wait_exit() == 1
    assert "the weights are corrupt" in server.log()
    assert "Traceback" in server.log()


HOOKS = textwrap.dedent(
    """
    import numpy as np

    WARMED = []


    def pre_model_fn(model_dir):
        WARMED.append("pre")


    def model_warmup_fn(model_dir, model):
        WARMED.append(int(model.predict(np.zeros((1, 4)))[0]))


    def transform_fn(model, input_data, content_type, accept):
        return ",".join(str(step) for step in WARMED)
    """
)


def test_pre_model_fn_and_model_warmup_fn_run_once_before_serving(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(code=HOOKS, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    assert "inference.py (pre_model_fn, model_warmup_fn, transform_fn)" in server.log()
    # run in the process that loads the model, before the workers fork: each sees one run
    for _ in range(4):
        assert server.invoke("x", "text/plain", "text/plain").text == "pre,0"


def test_model_warmup_fn_that_raises_stops_the_server_with_its_message(
    start_server: Callable[..., ServerProcess],
) -> None:
    code = "def model_warmup_fn(model_dir, model):\n    raise RuntimeError('warm-up failed')\n"
    server = start_server(code=code, wait=False)
    assert server.wait_exit() == 1
    assert "warm-up failed" in server.log()
    assert "in model_warmup_fn" in server.log()


def test_missing_model_stops_the_server_naming_the_directory(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("")
    server = start_server(model_dir=tmp_path, wait=False)
    assert server.wait_exit() == 1
    assert str(tmp_path) in server.log()
    assert "notes.txt" in server.log()
