"""Settings, user-module discovery, default handlers and the handler chain, in-process."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest

from dockyard.runtime.serve.chain import HandlerChain, error_reply
from dockyard.runtime.serve.config import DEFAULT_PORT, ConfigError, ServeConfig
from dockyard.runtime.serve.defaults import (
    ModelNotFoundError,
    default_input_fn,
    default_model_fn,
)
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
    user_error_status,
)
from dockyard.runtime.serve.loader import UserCodeError, import_user_module, locate_user_module

pytestmark = pytest.mark.unit

#: Two rows: one CSV line decodes to a flat array, which scikit-learn refuses (as on AWS).
ROW = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"


def _module(**functions: Any) -> ModuleType:
    module = ModuleType("inference")
    for name, fn in functions.items():
        setattr(module, name, fn)
    return module


def _chain(model_dir: Path, module: ModuleType | None = None, accept: str = "application/json"):
    chain = HandlerChain(str(model_dir), accept, module, "inference.py" if module else "")
    chain.load_model()
    return chain


def _config(**env: str) -> ServeConfig:
    return ServeConfig.from_env(env)


# --- settings ---------------------------------------------------------------------------


def test_config_defaults_follow_the_toolkit() -> None:
    config = _config()
    assert config.port == DEFAULT_PORT
    assert config.timeout_s == 60
    assert config.default_accept == "application/json"
    assert config.model_dir == "/opt/ml/model"
    assert config.program == "inference.py"
    assert config.workers >= 1


def test_config_reads_the_sagemaker_variables() -> None:
    config = _config(
        SAGEMAKER_BIND_TO_PORT="9090",
        SAGEMAKER_MODEL_SERVER_WORKERS="3",
        SAGEMAKER_MODEL_SERVER_TIMEOUT="5",
        SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv",
        SAGEMAKER_PROGRAM="serve_me",
        SM_MODEL_DIR="/models/a",
    )
    assert (config.port, config.workers, config.timeout_s) == (9090, 3, 5.0)
    assert config.default_accept == "text/csv"
    assert config.program == "serve_me.py"
    assert config.model_dir == "/models/a"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http"),
        ("SAGEMAKER_BIND_TO_PORT", "70000"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "-1"),
    ],
)
def test_config_rejects_bad_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        _config(**{name: value})


# --- finding the user's module -----------------------------------------------------------


def test_user_module_is_found_in_the_submit_directory(tmp_path: Path) -> None:
    (tmp_path / "serve.py").write_text("")
    config = _config(SAGEMAKER_SUBMIT_DIRECTORY=str(tmp_path), SAGEMAKER_PROGRAM="serve.py")
    assert locate_user_module(config) == str(tmp_path / "serve.py")


def test_user_module_is_found_in_model_code_directory(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    assert locate_user_module(_config(SM_MODEL_DIR=str(tmp_path))) == str(
        tmp_path / "code" / "inference.py"
    )


def test_no_user_module_means_defaults(tmp_path: Path) -> None:
    assert locate_user_module(_config(SM_MODEL_DIR=str(tmp_path))) is None


def test_explicit_program_that_is_missing_is_an_error(tmp_path: Path) -> None:
    config = _config(SM_MODEL_DIR=str(tmp_path), SAGEMAKER_PROGRAM="serve.py")
    with pytest.raises(UserCodeError, match=r"serve\.py"):
        locate_user_module(config)


def test_program_missing_from_submit_directory_lists_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    config = _config(SAGEMAKER_SUBMIT_DIRECTORY=str(tmp_path))
    with pytest.raises(UserCodeError, match=r"inference.py is not in .*it holds: train.py"):
        locate_user_module(config)


def test_submit_directory_archive_is_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"VALUE = 7\n"
        info = tarfile.TarInfo("inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = locate_user_module(_config(SAGEMAKER_SUBMIT_DIRECTORY=f"file://{archive}"))
    assert path is not None
    assert import_user_module(path).VALUE == 7


def test_remote_submit_directory_is_refused() -> None:
    with pytest.raises(UserCodeError, match="not on this machine"):
        locate_user_module(_config(SAGEMAKER_SUBMIT_DIRECTORY="s3://bucket/code.tar.gz"))


def test_user_module_can_import_its_neighbours(tmp_path: Path) -> None:
    (tmp_path / "helpers_for_serving.py").write_text("ANSWER = 42\n")
    (tmp_path / "inference.py").write_text("from helpers_for_serving import ANSWER\n")
    assert import_user_module(str(tmp_path / "inference.py")).ANSWER == 42


# --- default model_fn ---------------------------------------------------------------------


def test_default_model_fn_loads_model_joblib(iris_model_dir: Path) -> None:
    assert hasattr(default_model_fn(str(iris_model_dir)), "predict")


def test_default_model_fn_falls_back_to_model_pkl_and_single_joblib(
    tmp_path: Path, iris_model_dir: Path
) -> None:
    shutil.copy(iris_model_dir / "model.joblib", tmp_path / "model.pkl")
    assert hasattr(default_model_fn(str(tmp_path)), "predict")
    (tmp_path / "model.pkl").rename(tmp_path / "classifier.joblib")
    assert hasattr(default_model_fn(str(tmp_path)), "predict")


def test_default_model_fn_names_directory_and_contents_when_nothing_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / "weights.bin").write_text("")
    (tmp_path / "code").mkdir()
    with pytest.raises(ModelNotFoundError) as caught:
        default_model_fn(str(tmp_path))
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "code/, weights.bin" in message
    assert "model_fn" in message


def test_default_model_fn_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        default_model_fn(str(tmp_path / "absent"))


# --- the chain with defaults ----------------------------------------------------------------


def test_default_chain_predicts_csv_as_json(iris_model_dir: Path, iris_model: Any) -> None:
    reply = _chain(iris_model_dir).invoke(ROW, "text/csv", None, [])
    expected = iris_model.predict(np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])).tolist()
    assert (reply.status, reply.content_type) == (200, b"application/json")
    assert json.loads(reply.body) == expected


def test_missing_content_type_is_read_as_json(iris_model_dir: Path) -> None:
    reply = _chain(iris_model_dir).invoke(b"[[5.1, 3.5, 1.4, 0.2]]", None, None, [])
    assert reply.status == 200


def test_default_accept_setting_applies_to_star_star(iris_model_dir: Path) -> None:
    reply = _chain(iris_model_dir, accept="text/csv").invoke(ROW, "text/csv", "*/*", [])
    assert reply.content_type == b"text/csv"


def test_unwritable_default_accept_is_refused_at_start(iris_model_dir: Path) -> None:
    with pytest.raises(UserCodeError, match="SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"):
        HandlerChain(str(iris_model_dir), "image/png")


def test_default_chain_refuses_unknown_types(iris_model_dir: Path) -> None:
    chain = _chain(iris_model_dir)
    with pytest.raises(UnsupportedMediaTypeError):
        chain.invoke(ROW, "text/plain", None, [])
    with pytest.raises(NotAcceptableError):
        chain.invoke(ROW, "text/csv", "image/png", [])


def test_rows_of_the_wrong_width_for_the_model_are_a_bad_request(iris_model_dir: Path) -> None:
    with pytest.raises(BadRequestError, match="each row needs 4 values for this model, got 3"):
        _chain(iris_model_dir).invoke(b"1,2,3\n4,5,6\n", "text/csv", None, [])


# --- the scikit-learn container's decoding ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "shape"),
    [
        (b"5.1,3.5,1.4,0.2", "text/csv", (4,)),  # one row: squeezed flat
        (b"5.1,3.5,1.4,0.2\n", "text/csv", (4,)),  # a line break changes nothing
        (b"1\n2\n3\n", "text/csv", (3,)),  # one column: squeezed flat too
        (b"7", "text/csv", ()),
        (ROW, "text/csv", (2, 4)),
        (b"[5.1, 3.5, 1.4, 0.2]", "application/json", (4,)),  # a flat list stays flat
        (b"[[5.1, 3.5, 1.4, 0.2]]", "application/json", (1, 4)),
        (b"[[1], [2]]", "application/json", (2, 1)),  # JSON is never squeezed
    ],
)
def test_default_input_fn_gives_the_containers_float32_shapes(
    body: bytes, content_type: str, shape: tuple[int, ...]
) -> None:
    data = default_input_fn(body, content_type)
    assert (data.shape, data.dtype) == (shape, np.float32)


def test_quoted_csv_cells_are_numbers() -> None:
    data = default_input_fn('"5.1","3.5",1.4,0.2\n6.7,"3.0",5.2,"2.3"\n', "text/csv")
    np.testing.assert_array_equal(
        data, np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    )


def test_malformed_quoting_is_a_bad_request_naming_the_line() -> None:
    with pytest.raises(BadRequestError, match="CSV line 2"):
        default_input_fn('1,2\n"3"x,4\n', "text/csv")


def test_npy_keeps_its_dtype_and_shape() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4, dtype=np.int64))
    data = default_input_fn(buffer.getvalue(), "application/x-npy")
    assert (data.shape, data.dtype) == ((4,), np.int64)


def test_the_model_sees_float32_rows(iris_model_dir: Path) -> None:
    seen: list[Any] = []
    module = _module(model_fn=lambda model_dir: _Recorder(seen))
    reply = _chain(iris_model_dir, module).invoke(
        b'"5.1",3.5,1.4,0.2\n1,2,3,4\n', "text/csv", None, []
    )
    assert reply.status == 200
    assert [(a.shape, a.dtype) for a in seen] == [((2, 4), np.float32)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"5.1,3.5,1.4,0.2\n", "text/csv"), (b"[5.1, 3.5, 1.4, 0.2]", "application/json")],
)
def test_one_flat_row_fails_in_scikit_learn_with_a_500_as_on_aws(
    iris_model_dir: Path, body: bytes, content_type: str
) -> None:
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array") as caught:
        _chain(iris_model_dir).invoke(body, content_type, None, [])
    reply = error_reply(caught.value)
    assert reply.status == 500
    assert "Expected 2D array" in json.loads(reply.body)["error-message"]


class _Recorder:
    """A model that records what predict was given and answers one 0 per row."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def predict(self, data: Any) -> Any:
        self.seen.append(data)
        return np.zeros(len(data), dtype=np.int64)


# --- pre_model_fn and model_warmup_fn -----------------------------------------------------


def test_pre_model_fn_and_model_warmup_fn_run_around_model_fn(iris_model_dir: Path) -> None:
    calls: list[tuple[Any, ...]] = []

    def pre_model_fn(model_dir: str) -> str:
        calls.append(("pre", model_dir))
        return "ignored"

    def model_fn(model_dir: str) -> Any:
        calls.append(("model", model_dir))
        return joblib.load(Path(model_dir) / "model.joblib")

    def model_warmup_fn(model_dir: str, model: Any) -> None:
        calls.append(("warmup", model_dir, model.predict(np.zeros((1, 4))).shape))

    module = _module(pre_model_fn=pre_model_fn, model_fn=model_fn, model_warmup_fn=model_warmup_fn)
    chain = _chain(iris_model_dir, module)
    where = str(iris_model_dir)
    assert calls == [("pre", where), ("model", where), ("warmup", where, (1,))]
    assert chain.straight  # the hooks leave the request path as it was
    assert "pre_model_fn, model_warmup_fn, model_fn" in chain.describe()


def test_hooks_work_with_the_default_model_fn_and_take_a_context(iris_model_dir: Path) -> None:
    seen: list[Any] = []

    def model_warmup_fn(model_dir: str, model: Any, context: Any) -> None:
        seen.append((context.system_properties["model_dir"], hasattr(model, "predict")))

    _chain(iris_model_dir, _module(model_warmup_fn=model_warmup_fn))
    assert seen == [(str(iris_model_dir), True)]


@pytest.mark.parametrize("hook", ["pre_model_fn", "model_warmup_fn"])
def test_an_error_in_a_hook_fails_the_load(iris_model_dir: Path, hook: str) -> None:
    def failing(*args: Any) -> None:
        raise RuntimeError(f"{hook} cannot run")

    arguments = {"pre_model_fn": "model_dir", "model_warmup_fn": "model_dir, model"}[hook]
    namespace: dict[str, Any] = {"failing": failing}
    exec(f"def {hook}({arguments}):\n    failing()\n", namespace)  # the toolkit's signature
    chain = HandlerChain(
        str(iris_model_dir), "application/json", _module(**{hook: namespace[hook]}), "inference.py"
    )
    with pytest.raises(RuntimeError, match=f"{hook} cannot run"):
        chain.load_model()


def test_a_hook_with_the_wrong_arity_is_refused(iris_model_dir: Path) -> None:
    module = _module(model_warmup_fn=lambda: None)
    with pytest.raises(UserCodeError, match=r"model_warmup_fn in inference.py takes 0"):
        HandlerChain(str(iris_model_dir), "application/json", module, "inference.py")


# --- the chain with user functions ------------------------------------------------------------


def test_user_functions_replace_the_defaults(iris_model_dir: Path) -> None:
    calls: list[str] = []

    def input_fn(input_data: str, content_type: str) -> Any:
        calls.append(f"input {content_type} {type(input_data).__name__}")
        return np.array([[float(v) for v in input_data.split()]])

    def predict_fn(data: Any, model: Any) -> Any:
        calls.append("predict")
        return model.predict_proba(data)

    def output_fn(prediction: Any, accept: str) -> tuple[str, str]:
        calls.append(f"output {accept}")
        return json.dumps({"probabilities": prediction.tolist()}), "application/vnd.probs+json"

    module = _module(input_fn=input_fn, predict_fn=predict_fn, output_fn=output_fn)
    reply = _chain(iris_model_dir, module).invoke(
        b"5.1 3.5 1.4 0.2", "text/plain", "application/vnd.probs+json", []
    )
    assert calls == [
        "input text/plain bytes",
        "predict",
        "output application/vnd.probs+json",
    ]
    assert reply.content_type == b"application/vnd.probs+json"
    assert len(json.loads(reply.body)["probabilities"][0]) == 3


def test_user_model_fn_alone_keeps_the_default_request_path(iris_model_dir: Path) -> None:
    module = _module(model_fn=lambda model_dir: joblib.load(Path(model_dir) / "model.joblib"))
    chain = _chain(iris_model_dir, module)
    assert chain.straight
    assert chain.invoke(ROW, "text/csv", None, []).status == 200


def test_transform_fn_gets_model_body_and_headers(iris_model_dir: Path) -> None:
    seen: dict[str, Any] = {}

    def transform_fn(model: Any, body: Any, content_type: str, accept: str) -> bytes:
        seen.update(model=model, body=body, content_type=content_type, accept=accept)
        return b"done"

    chain = _chain(iris_model_dir, _module(transform_fn=transform_fn))
    reply = chain.invoke(ROW, "text/csv", "text/plain", [])
    assert seen["body"] == ROW.decode()
    assert (seen["content_type"], seen["accept"]) == ("text/csv", "text/plain")
    assert hasattr(seen["model"], "predict")
    assert (reply.body, reply.content_type) == (b"done", b"text/plain")


def test_transform_fn_with_input_fn_is_refused(iris_model_dir: Path) -> None:
    module = _module(transform_fn=lambda m, b, c, a: b, input_fn=lambda b, c: b)
    with pytest.raises(UserCodeError, match="transform_fn together with"):
        HandlerChain(str(iris_model_dir), "application/json", module, "inference.py")


def test_handler_with_wrong_arity_is_refused(iris_model_dir: Path) -> None:
    module = _module(predict_fn=lambda data: data)
    with pytest.raises(UserCodeError, match=r"predict_fn in inference.py takes 1"):
        HandlerChain(str(iris_model_dir), "application/json", module, "inference.py")


def test_context_carries_custom_attributes_both_ways(iris_model_dir: Path) -> None:
    def output_fn(prediction: Any, accept: str, context: Any) -> str:
        attributes = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
        context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", f"echo={attributes}")
        return json.dumps(prediction.tolist())

    chain = _chain(iris_model_dir, _module(output_fn=output_fn))
    headers = [(b"x-amzn-sagemaker-custom-attributes", b"trace=abc")]
    reply = chain.invoke(ROW, "text/csv", None, headers)
    assert (b"x-amzn-sagemaker-custom-attributes", b"echo=trace=abc") in list(reply.headers)


def test_exception_with_status_code_chooses_the_status() -> None:
    class RejectedError(Exception):
        status_code = 422
        message = "the image is too dark"

    assert user_error_status(RejectedError()) == (422, "the image is too dark")
    assert user_error_status(ValueError("boom")) == (500, "ValueError: boom")
