"""The XGBoost image's default handlers: loading ``xgboost-model``, the request types they
read (CSV, LIBSVM, JSON, NPY) and write (JSON, CSV, NPY), and the statuses for the rest.

In-process through the handler chain, plus one real server started the way the XGBoost
image starts it (``DOCKYARD_FRAMEWORK=xgboost``).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from dockyard.runtime.serve.chain import HandlerChain
from dockyard.runtime.serve.defaults import ModelNotFoundError
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
)
from dockyard.runtime.serve.frameworks import framework_defaults
from dockyard.runtime.serve.recordio import decode_recordio_protobuf
from dockyard.runtime.serve.xgboost_defaults import decode_libsvm, default_model_fn

if TYPE_CHECKING:
    from conftest import ServerProcess

xgboost = pytest.importorskip("xgboost", reason="the frameworks extra (xgboost-cpu) is needed")

pytestmark = pytest.mark.unit

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CSV_ROWS = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
LIBSVM_ROWS = "0 0:5.1 1:3.5 2:1.4 3:0.2\n2 0:6.7 1:3.0 2:5.2 3:2.3\n"
XGBOOST = framework_defaults("xgboost")


@pytest.fixture(scope="module")
def booster() -> Any:
    """Three classes of iris, a few rounds of multi:softprob."""
    from sklearn.datasets import load_iris  # noqa: PLC0415

    features, labels = load_iris(return_X_y=True)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}
    return xgboost.train(params, xgboost.DMatrix(features, label=labels), num_boost_round=5)


@pytest.fixture(scope="module")
def expected(booster: Any) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(np.array(ROWS)))


def _save(directory: Path, booster: Any, how: str, name: str = "xgboost-model") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if how == "pickle":
        path.write_bytes(pickle.dumps(booster))
    else:
        raw = booster.save_raw(raw_format=how)
        path.write_bytes(bytes(raw))
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, booster: Any) -> Path:
    return _save(tmp_path_factory.mktemp("xgb-model"), booster, "pickle")


def _chain(model_dir: Path, accept: str = "application/json") -> HandlerChain:
    chain = HandlerChain(str(model_dir), accept, defaults=XGBOOST)
    chain.load_model()
    return chain


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- model_fn ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["pickle", "json", "ubj"])
def test_xgboost_model_loads_in_each_format_the_aws_container_accepts(
    tmp_path: Path, booster: Any, expected: np.ndarray, how: str
) -> None:
    loaded = default_model_fn(str(_save(tmp_path, booster, how)))
    assert isinstance(loaded, xgboost.Booster)
    np.testing.assert_allclose(loaded.predict(xgboost.DMatrix(np.array(ROWS))), expected)


def test_a_pickled_sklearn_wrapper_is_served_through_its_booster(tmp_path: Path) -> None:
    wrapper = xgboost.XGBRegressor(n_estimators=3).fit(np.eye(3), np.arange(3.0))
    tmp_path.joinpath("xgboost-model").write_bytes(pickle.dumps(wrapper))
    assert isinstance(default_model_fn(str(tmp_path)), xgboost.Booster)


def test_a_single_booster_file_under_another_name_is_found(tmp_path: Path, booster: Any) -> None:
    _save(tmp_path, booster, "json", name="model.json")
    assert isinstance(default_model_fn(str(tmp_path)), xgboost.Booster)


def test_missing_model_names_the_file_and_the_fix(tmp_path: Path) -> None:
    tmp_path.joinpath("notes.txt").write_text("hi")
    with pytest.raises(ModelNotFoundError) as raised:
        default_model_fn(str(tmp_path))
    message = str(raised.value)
    assert "xgboost-model" in message
    assert "notes.txt" in message
    assert "model_fn" in message


def test_a_pickle_of_something_else_is_refused_with_the_type(tmp_path: Path) -> None:
    tmp_path.joinpath("xgboost-model").write_bytes(pickle.dumps({"not": "a booster"}))
    with pytest.raises(TypeError, match="dict, not an XGBoost Booster"):
        default_model_fn(str(tmp_path))


# --- input_fn / predict_fn / output_fn through the chain ---------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", CSV_ROWS.encode()),
        ("text/libsvm", LIBSVM_ROWS.encode()),
        ("text/x-libsvm", LIBSVM_ROWS.encode()),
        ("application/json", json.dumps(ROWS).encode()),
        ("application/x-npy", _npy(np.array(ROWS))),
    ],
)
def test_each_request_type_predicts_like_the_booster(
    model_dir: Path, expected: np.ndarray, content_type: str, body: bytes
) -> None:
    reply = _chain(model_dir).invoke(body, content_type, "application/json", [])
    assert reply.status == 200
    np.testing.assert_allclose(json.loads(reply.body), expected, rtol=1e-6)


def test_one_flat_json_row_is_one_row(model_dir: Path, expected: np.ndarray) -> None:
    reply = _chain(model_dir).invoke(json.dumps(ROWS[0]).encode(), "application/json", None, [])
    np.testing.assert_allclose(json.loads(reply.body), expected[:1], rtol=1e-6)


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy"])
def test_each_response_type_is_written(model_dir: Path, expected: np.ndarray, accept: str) -> None:
    reply = _chain(model_dir).invoke(CSV_ROWS.encode(), "text/csv", accept, [])
    assert reply.status == 200
    assert reply.content_type == accept.encode()
    if accept == "text/csv":
        got = np.loadtxt(io.StringIO(reply.body.decode()), delimiter=",")
    else:
        got = np.load(io.BytesIO(reply.body))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_default_accept_comes_from_the_setting(model_dir: Path) -> None:
    reply = _chain(model_dir, accept="text/csv").invoke(CSV_ROWS.encode(), "text/csv", None, [])
    assert reply.content_type == b"text/csv"


def test_unsupported_content_type_is_415_listing_what_is_read(model_dir: Path) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as raised:
        _chain(model_dir).invoke(b"\x00", "application/x-parquet", None, [])
    assert raised.value.status == 415
    assert "text/libsvm" in raised.value.message
    assert "input_fn" in raised.value.message


def test_unsupported_accept_is_406(model_dir: Path) -> None:
    with pytest.raises(NotAcceptableError) as raised:
        _chain(model_dir).invoke(CSV_ROWS.encode(), "text/csv", "application/xml", [])
    assert raised.value.status == 406


def test_rows_wider_than_the_booster_are_a_400(model_dir: Path) -> None:
    with pytest.raises(BadRequestError, match="at most 4 values"):
        _chain(model_dir).invoke(b"1,2,3,4,5\n", "text/csv", None, [])


def test_libsvm_label_is_optional_and_missing_cells_stay_missing() -> None:
    matrix = decode_libsvm("1:0.5 3:2\n7 0:1\n\n")
    assert matrix.shape == (2, 4)
    assert matrix.toarray().tolist() == [[0, 0.5, 0, 2], [1, 0, 0, 0]]


@pytest.mark.parametrize("body", ["1 2:x\n", "0 -1:3\n", "0 abc\n"])
def test_malformed_libsvm_is_a_400_naming_the_line(body: str) -> None:
    with pytest.raises(BadRequestError, match="LIBSVM line 1"):
        decode_libsvm(body)


# RecordIO-protobuf, written here from the format's definition (see recordio.py)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _record(values: list[float], keys: list[int] | None = None, width: int = 0) -> bytes:
    tensor = _field(1, np.asarray(values, dtype="<f4").tobytes())
    if keys is not None:
        tensor += _field(2, b"".join(_varint(k) for k in keys)) + _field(3, _varint(width))
    label = _field(1, b"values") + _field(2, _field(2, _field(1, b"\x00\x00\x80\x3f")))
    entry = _field(1, b"values") + _field(2, _field(2, tensor))
    payload = _field(1, entry) + _field(2, label)
    return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\x00" * (-len(payload) % 4)


def test_recordio_protobuf_known_record_decodes() -> None:
    """One record, features {"values": Float32Tensor([1, 2])}, spelled out byte by byte."""
    body = bytes.fromhex(
        "0a23d7ce" "18000000"  # RecordIO magic, payload length 24
        "0a16"  # Record.features (field 1), an entry of 22 bytes
        "0a0676616c756573"  # entry key (field 1): "values"
        "120c"  # entry value (field 2): a Value of 12 bytes
        "120a"  # Value.float32_tensor (field 2): 10 bytes
        "0a08" "0000803f" "00000040"  # Float32Tensor.values (field 1), packed: 1.0, 2.0
    )  # fmt: skip
    assert decode_recordio_protobuf(body).tolist() == [[1.0, 2.0]]


def test_recordio_protobuf_rows_predict_like_the_booster(
    model_dir: Path, expected: np.ndarray
) -> None:
    body = b"".join(_record(row) for row in ROWS)
    reply = _chain(model_dir).invoke(body, "application/x-recordio-protobuf", None, [])
    assert reply.status == 200
    np.testing.assert_allclose(json.loads(reply.body), expected, rtol=1e-5)


def test_sparse_recordio_protobuf_records_become_a_sparse_matrix() -> None:
    matrix = decode_recordio_protobuf(_record([0.5, 2.0], [1, 3], 5) + _record([1.0], [0], 5))
    assert matrix.shape == (2, 5)
    assert matrix.toarray().tolist() == [[0, 0.5, 0, 2, 0], [1, 0, 0, 0, 0]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00" * 8, "magic number"),
        (struct.pack("<II", 0xCED7230A, 100) + b"\x0a", "past the body's end"),
        (struct.pack("<II", 0xCED7230A, 4) + _field(2, b"\x01\x02"), "no 'values' feature"),
    ],
)
def test_malformed_recordio_protobuf_is_a_400(body: bytes, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        decode_recordio_protobuf(body)


def test_the_xgboost_chain_does_not_batch(model_dir: Path) -> None:
    assert "one request at a time" in (_chain(model_dir).batch_refusal() or "")


# --- a real server, configured as the XGBoost image configures it ------------------------


def test_server_in_an_xgboost_image_serves_the_booster_with_no_code(
    start_server: Callable[..., ServerProcess], model_dir: Path, expected: np.ndarray
) -> None:
    server = start_server(model_dir=model_dir, env={"DOCKYARD_FRAMEWORK": "xgboost"})
    assert "xgboost defaults for model_fn" in server.log()
    response = server.invoke(LIBSVM_ROWS, "text/libsvm", "application/json")
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json(), expected, rtol=1e-6)
    refused = server.invoke(b"{}", "application/x-parquet")
    assert refused.status_code == 415
    assert refused.json()["error"] == "UnsupportedFormatError"


def test_unknown_framework_setting_exits_2_naming_it(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(env={"DOCKYARD_FRAMEWORK": "caffe"}, wait=False)
    assert server.wait_exit() == 2
    assert "DOCKYARD_FRAMEWORK" in server.log()
