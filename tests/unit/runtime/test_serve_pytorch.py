"""The PyTorch image's default handlers: TorchScript ``model.pt`` or the user's model_fn,
requests decoded into tensors (JSON, CSV, NPY, NPZ), answers in JSON, CSV or NPY, and the
statuses for the rest.

In-process through the handler chain, plus real servers started the way the PyTorch
image starts them (``DOCKYARD_FRAMEWORK=pytorch``).
"""

from __future__ import annotations

import io
import json
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
from dockyard.runtime.serve.pytorch_defaults import (
    ModelLoadError,
    default_input_fn,
    default_model_fn,
    default_output_fn,
)

if TYPE_CHECKING:
    from conftest import ServerProcess

torch = pytest.importorskip("torch", reason="the frameworks extra (torch, CPU build) is needed")

pytestmark = pytest.mark.unit

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CSV_ROWS = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
PYTORCH = framework_defaults("pytorch")

#: A user module for a model saved as a state dict: the toolkit's usual case.
STATE_DICT_CODE = """
import os
import torch

def model_fn(model_dir):
    model = torch.nn.Linear(4, 3)
    model.load_state_dict(torch.load(os.path.join(model_dir, "weights.pth")))
    return model
"""


def _network() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    )


@pytest.fixture(scope="module")
def network() -> Any:
    return _network().eval()


@pytest.fixture(scope="module")
def expected(network: Any) -> np.ndarray:
    with torch.no_grad():
        return network(torch.tensor(ROWS)).numpy()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, network: Any) -> Path:
    """A TorchScript model saved as ``model.pt`` (dropout in it: eval mode matters)."""
    directory = tmp_path_factory.mktemp("torch-model")
    torch.jit.script(_network()).save(str(directory / "model.pt"))
    return directory


def _chain(model_dir: Path, accept: str = "application/json") -> HandlerChain:
    chain = HandlerChain(str(model_dir), accept, defaults=PYTORCH)
    chain.load_model()
    return chain


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# --- model_fn ---------------------------------------------------------------------------


def test_torchscript_model_pt_loads_in_eval_mode(model_dir: Path) -> None:
    model = default_model_fn(str(model_dir))
    assert isinstance(model, torch.jit.ScriptModule)
    assert not model.training


def test_a_single_pth_file_is_found(tmp_path: Path) -> None:
    torch.jit.script(torch.nn.Linear(2, 1)).save(str(tmp_path / "net.pth"))
    assert isinstance(default_model_fn(str(tmp_path)), torch.jit.ScriptModule)


def test_no_model_file_says_to_define_model_fn(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"Define model_fn\(model_dir\)"):
        default_model_fn(str(tmp_path))


def test_two_candidate_files_are_refused_naming_them(tmp_path: Path) -> None:
    for name in ("a.pt", "b.pth"):
        torch.jit.script(torch.nn.Linear(2, 1)).save(str(tmp_path / name))
    with pytest.raises(ModelNotFoundError, match=r"found 2 \(a\.pt, b\.pth\)"):
        default_model_fn(str(tmp_path))


def test_a_state_dict_is_not_torchscript_and_the_error_says_so(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(2, 1).state_dict(), tmp_path / "model.pt")
    with pytest.raises(ModelLoadError, match=r"not a TorchScript model.*torch\.jit\.script"):
        default_model_fn(str(tmp_path))


# --- input_fn ---------------------------------------------------------------------------


def test_json_of_any_depth_becomes_a_float32_tensor() -> None:
    images = np.arange(24, dtype=np.float64).reshape(2, 1, 3, 4)
    tensor = default_input_fn(json.dumps(images.tolist()), "application/json")
    assert tensor.dtype == torch.float32
    assert tuple(tensor.shape) == (2, 1, 3, 4)


def test_a_flat_json_list_stays_one_dimensional() -> None:
    assert tuple(default_input_fn("[1, 2, 3]", "application/json").shape) == (3,)


def test_csv_becomes_rows_of_float32() -> None:
    tensor = default_input_fn(CSV_ROWS, "text/csv")
    assert tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), np.array(ROWS, dtype=np.float32))


def test_npy_keeps_its_dtype() -> None:
    tensor = default_input_fn(_npy(np.arange(6, dtype=np.int64).reshape(2, 3)), "application/x-npy")
    assert tensor.dtype == torch.int64


def test_npz_with_one_dense_array_is_read() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.ones((2, 2), dtype=np.float32))
    assert default_input_fn(buffer.getvalue(), "application/x-npz").shape == (2, 2)


@pytest.mark.parametrize("body", ["[[1, 2], [3]]", '[1, "a"]', '{"a": 1}', "[]", "not json"])
def test_json_that_is_not_a_rectangular_array_of_numbers_is_a_400(body: str) -> None:
    with pytest.raises(BadRequestError):
        default_input_fn(body, "application/json")


def test_unsupported_content_type_is_a_415_from_input_fn() -> None:
    with pytest.raises(UnsupportedMediaTypeError) as raised:
        default_input_fn(b"x", "image/png")
    assert raised.value.status == 415


# --- the chain: predict_fn and output_fn -------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps(ROWS).encode()),
        ("text/csv", CSV_ROWS.encode()),
        ("application/x-npy", _npy(np.array(ROWS, dtype=np.float32))),
    ],
)
def test_each_request_type_predicts_like_the_model_in_eval_mode(
    model_dir: Path, expected: np.ndarray, content_type: str, body: bytes
) -> None:
    reply = _chain(model_dir).invoke(body, content_type, "application/json", [])
    assert reply.status == 200
    np.testing.assert_allclose(json.loads(reply.body), expected, rtol=1e-5)


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy"])
def test_each_response_type_is_written(model_dir: Path, expected: np.ndarray, accept: str) -> None:
    reply = _chain(model_dir).invoke(json.dumps(ROWS).encode(), "application/json", accept, [])
    assert reply.status == 200
    assert reply.content_type == accept.encode()
    if accept == "text/csv":
        got = np.loadtxt(io.StringIO(reply.body.decode()), delimiter=",")
    else:
        got = np.load(io.BytesIO(reply.body))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_unsupported_content_type_is_415_before_the_model_runs(model_dir: Path) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as raised:
        _chain(model_dir).invoke(b"x", "text/libsvm", None, [])
    assert "application/x-npy" in raised.value.message


def test_unsupported_accept_is_406(model_dir: Path) -> None:
    with pytest.raises(NotAcceptableError) as raised:
        _chain(model_dir).invoke(json.dumps(ROWS).encode(), "application/json", "image/png", [])
    assert raised.value.status == 406


def test_a_tuple_of_tensors_is_written_as_json() -> None:
    body, media = default_output_fn((torch.ones(2), torch.zeros(1)), "application/json")
    assert media == "application/json"
    assert json.loads(body) == [[1.0, 1.0], [0.0]]


# --- real servers, configured as the PyTorch image configures them ------------------------


def test_server_in_a_pytorch_image_serves_torchscript_with_no_code(
    start_server: Callable[..., ServerProcess], model_dir: Path, expected: np.ndarray
) -> None:
    server = start_server(model_dir=model_dir, env={"DOCKYARD_FRAMEWORK": "pytorch"})
    response = server.invoke(json.dumps(ROWS), "application/json", "application/json")
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json(), expected, rtol=1e-5)
    assert server.invoke(json.dumps(ROWS), "application/json", "text/html").status_code == 406


def test_user_model_fn_loads_a_state_dict_and_the_defaults_do_the_rest(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    torch.manual_seed(1)
    linear = torch.nn.Linear(4, 3)
    torch.save(linear.state_dict(), tmp_path / "weights.pth")
    with torch.no_grad():
        wanted = linear(torch.tensor(ROWS)).numpy()
    server = start_server(
        model_dir=tmp_path, code=STATE_DICT_CODE, env={"DOCKYARD_FRAMEWORK": "pytorch"}
    )
    response = server.invoke(CSV_ROWS, "text/csv", "application/json")
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json(), wanted, rtol=1e-5)


def test_without_model_fn_or_torchscript_the_server_does_not_start(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(model_dir=tmp_path, env={"DOCKYARD_FRAMEWORK": "pytorch"}, wait=False)
    assert server.wait_exit() == 1
    assert "Define model_fn(model_dir)" in server.log()
