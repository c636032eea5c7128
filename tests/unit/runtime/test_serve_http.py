"""The HTTP contract of ``dockyard.runtime serve`` with the default handlers.

One real server process (iris LogisticRegression, default handlers) on loopback serves
every test in this module.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from conftest import Launcher, ServerProcess

pytestmark = pytest.mark.unit

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CSV_ROWS = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"


@pytest.fixture(scope="module")
def server(launcher: Launcher) -> Iterator[ServerProcess]:
    started = launcher.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def expected(iris_model: Any) -> list[int]:
    return iris_model.predict(np.array(ROWS)).tolist()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_ping_answers_200_with_empty_body(server: ServerProcess) -> None:
    response = server.client.get("/ping")
    assert response.status_code == 200
    assert response.content == b""


def test_server_listens_on_sagemaker_bind_to_port(server: ServerProcess) -> None:
    # The launcher passes only SAGEMAKER_BIND_TO_PORT; the server is reachable there.
    assert server.port != 8080
    assert server.client.get("/ping").status_code == 200


def test_csv_prediction_is_json_by_default(server: ServerProcess, expected: list[int]) -> None:
    response = server.invoke(CSV_ROWS, "text/csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


def test_json_prediction(server: ServerProcess, expected: list[int]) -> None:
    response = server.invoke(json.dumps(ROWS), "application/json")
    assert response.json() == expected


def test_npy_in_and_out(server: ServerProcess, expected: list[int]) -> None:
    response = server.invoke(_npy(np.array(ROWS)), "application/x-npy", "application/x-npy")
    assert response.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(response.content)).tolist() == expected


def test_csv_accept_writes_one_line_per_prediction(
    server: ServerProcess, expected: list[int]
) -> None:
    response = server.invoke(CSV_ROWS, "text/csv", "text/csv")
    assert response.headers["content-type"] == "text/csv"
    assert response.text == "".join(f"{value}\n" for value in expected)


def test_accept_star_star_means_the_default(server: ServerProcess) -> None:
    response = server.invoke(CSV_ROWS, "text/csv", "*/*")
    assert response.headers["content-type"] == "application/json"


def test_accept_list_with_weights_is_honoured(server: ServerProcess) -> None:
    response = server.invoke(CSV_ROWS, "text/csv", "application/json;q=0.4, text/csv;q=0.8")
    assert response.headers["content-type"] == "text/csv"


def test_unacceptable_accept_is_406_in_the_toolkits_shape(server: ServerProcess) -> None:
    response = server.invoke(CSV_ROWS, "text/csv", "image/png")
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer.keys() == {"error", "error-message", "message", "stack-trace"}
    assert answer["error"] == "UnsupportedFormatError"
    assert "image/png" in answer["error-message"]
    assert answer["stack-trace"].startswith("Traceback (most recent call last)")


def test_unsupported_content_type_is_415_in_the_toolkits_shape(server: ServerProcess) -> None:
    response = server.invoke("hello", "text/plain")
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer.keys() == {"error", "error-message", "message", "stack-trace"}
    assert answer["error"] == "UnsupportedFormatError"
    assert "text/plain" in answer["error-message"]
    assert answer["message"] == answer["error-message"]


def test_one_csv_row_is_refused_by_scikit_learn_with_a_500_as_on_aws(
    start_server: Callable[..., ServerProcess],
) -> None:
    # The container squeezes a single CSV line to a flat array; predict refuses it.
    # (A server of its own: the 500 is logged, and the module's server keeps a clean log.)
    server = start_server()
    response = server.invoke("5.1,3.5,1.4,0.2\n", "text/csv")
    assert response.status_code == 500
    assert response.json()["error"] == "ModelError"
    assert "Expected 2D array, got 1D array" in response.json()["error-message"]


def test_one_row_as_a_json_matrix_is_predicted(server: ServerProcess, expected: list[int]) -> None:
    response = server.invoke(json.dumps(ROWS[:1]), "application/json")
    assert response.json() == expected[:1]


def test_quoted_csv_cells_are_read_as_numbers(server: ServerProcess, expected: list[int]) -> None:
    response = server.invoke('"5.1","3.5","1.4","0.2"\n6.7,3.0,"5.2",2.3\n', "text/csv")
    assert response.status_code == 200, response.text
    assert response.json() == expected


def test_ragged_csv_is_400_naming_the_row(server: ServerProcess) -> None:
    response = server.invoke("1,2,3,4\n5,6,7,8\n1,2,3,4,5\n", "text/csv")
    assert response.status_code == 400
    assert response.json() == {
        "error": "BadRequest",
        "error-message": "CSV row 3 has 5 values, expected 4",
        "message": "CSV row 3 has 5 values, expected 4",
    }


def test_non_numeric_csv_is_400_naming_the_cell(server: ServerProcess) -> None:
    response = server.invoke("5.1,3.5,1.4,abc\n", "text/csv")
    assert response.status_code == 400
    assert "row 1, column 4" in response.json()["message"]


def test_malformed_json_is_400(server: ServerProcess) -> None:
    response = server.invoke("[[5.1, 3.5, 1.4, 0.2]", "application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_body_over_6_mb_is_413_and_server_keeps_serving(server: ServerProcess) -> None:
    response = server.invoke(b"1" * (7 * 1024 * 1024), "text/csv")
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert (
        "6291456 bytes (6 MB), SageMaker's limit for a real-time invocation"
        in (response.json()["error-message"])
    )
    assert server.invoke(CSV_ROWS, "text/csv").status_code == 200


def test_a_batch_job_body_over_its_max_payload_is_413_naming_the_setting(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(env={"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    response = server.invoke(b"1" * (1024 * 1024 + 1), "text/csv")
    assert response.status_code == 413
    assert "the batch transform job's MaxPayloadInMB" in response.json()["error-message"]
    assert server.invoke(CSV_ROWS, "text/csv").status_code == 200


def test_streamed_body_over_6_mb_is_413(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(7):
            yield b"1" * (1024 * 1024)

    response = server.client.post(
        "/invocations", content=chunks(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert server.invoke(CSV_ROWS, "text/csv").status_code == 200


def test_body_of_exactly_6_mb_is_accepted(server: ServerProcess) -> None:
    row = b"5.1,3.5,1.4,0.2\n"
    body = row * (6 * 1024 * 1024 // len(row))
    response = server.invoke(body, "text/csv")
    assert response.status_code == 200


def test_unknown_path_is_404(server: ServerProcess) -> None:
    response = server.client.get("/models")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


def test_wrong_method_is_405(server: ServerProcess) -> None:
    assert server.client.get("/invocations").status_code == 405
    response = server.client.post("/ping")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


def test_no_custom_attributes_come_back_unless_the_handler_sets_them(
    server: ServerProcess,
) -> None:
    response = server.invoke(
        CSV_ROWS, "text/csv", headers={"X-Amzn-SageMaker-Custom-Attributes": "trace=1"}
    )
    assert response.status_code == 200
    assert "x-amzn-sagemaker-custom-attributes" not in response.headers


def test_requests_leave_no_access_log(server: ServerProcess) -> None:
    assert server.invoke(CSV_ROWS, "text/csv").status_code == 200
    assert server.invoke("x", "text/plain").status_code == 415
    lines = server.log().splitlines()
    assert len(lines) == 1
    assert "listening" in lines[0]
