"""Adaptive batching: the gathering on the loop, the stacking and splitting, the settings."""

from __future__ import annotations

import asyncio
import json
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from dockyard.runtime.serve.batching import Batcher
from dockyard.runtime.serve.chain import HandlerChain, Reply
from dockyard.runtime.serve.config import ConfigError, ServeConfig
from dockyard.runtime.serve.handlers import Handlers
from dockyard.runtime.serve.stacking import Request, StackedPredictor

if TYPE_CHECKING:
    from conftest import ServerProcess

pytestmark = pytest.mark.unit

ROW_A = [5.1, 3.5, 1.4, 0.2]
ROW_B = [6.7, 3.0, 5.2, 2.3]


class CountingModel:
    """Wraps a model and records the row count of every predict call."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n_features_in_ = model.n_features_in_
        self.calls: list[int] = []

    def predict(self, data: np.ndarray) -> Any:
        self.calls.append(len(data))
        if (data < 0).any():
            raise ValueError("negative measurements")
        return self.model.predict(data)


def _json(rows: Any) -> Request:
    return Request(json.dumps(rows).encode(), "application/json", None, [])


def _chain(model: Any, module: types.ModuleType | None = None) -> HandlerChain:
    """A chain serving ``model`` (loaded through a model_fn) with ``module``'s handlers."""
    module = module or _module()
    module.model_fn = lambda model_dir: model  # type: ignore[attr-defined]
    chain = HandlerChain("/nonexistent", "application/json", module, "inference.py")
    chain.load_model()
    return chain


def _module(**functions: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType("inference")
    for name, fn in functions.items():
        setattr(module, name, fn)
    return module


# -- stacking: one predict call, split back, per-request outcomes ------------------------
def test_requests_are_stacked_into_one_predict_and_split_back(iris_model: Any) -> None:
    model = CountingModel(iris_model)
    batch = [_json([ROW_A]), _json([ROW_B, ROW_A, ROW_B]), _json([ROW_B])]
    replies = StackedPredictor(_chain(model))(batch)
    assert model.calls == [5]
    expected = [
        iris_model.predict(np.array(rows)).tolist()
        for rows in ([ROW_A], [ROW_B, ROW_A, ROW_B], [ROW_B])
    ]
    assert [json.loads(reply.body) for reply in replies] == expected
    assert {reply.status for reply in replies} == {200}


def test_a_bad_request_fails_alone(iris_model: Any) -> None:
    model = CountingModel(iris_model)
    batch = [
        _json([ROW_A]),
        Request(b"not json", "application/json", None, []),
        _json([[1.0, 2.0]]),  # wrong width: 400 naming it
        Request(b"1,2,3,4", "text/csv", "application/x-nope", []),  # 406
        _json([ROW_B]),
    ]
    replies = StackedPredictor(_chain(model))(batch)
    assert [reply.status for reply in replies] == [200, 400, 400, 406, 200]
    assert model.calls == [2]
    assert b"4 values" in replies[2].body


def test_when_the_stacked_predict_fails_each_request_keeps_its_own_error(
    iris_model: Any,
) -> None:
    model = CountingModel(iris_model)
    batch = [_json([ROW_A]), _json([[-1.0, 1.0, 1.0, 1.0]]), _json([ROW_B])]
    replies = StackedPredictor(_chain(model))(batch)
    assert [reply.status for reply in replies] == [200, 500, 200]
    assert b"negative measurements" in replies[1].body
    assert model.calls == [3, 1, 1, 1]  # the batch, then each on its own


def test_shapes_that_cannot_be_stacked_are_served_unbatched() -> None:
    seen: list[tuple[int, ...]] = []

    def input_fn(input_data: str, content_type: str) -> np.ndarray:
        return np.array(json.loads(input_data), dtype=float)

    def predict_fn(data: np.ndarray, model: Any) -> np.ndarray:
        seen.append(data.shape)
        return data.reshape(len(data), -1).sum(axis=1) if data.ndim > 1 else data.sum()

    predict_fn.accepts_batches = True  # type: ignore[attr-defined]
    chain = _chain(object(), _module(input_fn=input_fn, predict_fn=predict_fn))
    assert chain.batch_refusal() is None
    batch = [
        _json([[1, 2]]),
        _json([[1, 2, 3]]),  # another width
        _json([[[1, 2], [3, 4]]]),  # 3-D
        _json([[3, 4], [5, 6]]),
        _json([7, 8]),  # 1-D: not rows
    ]
    replies = StackedPredictor(chain)(batch)
    assert [json.loads(reply.body) for reply in replies] == [[3], [6], [10], [7, 11], 15]
    assert sorted(seen) == sorted([(3, 2), (1, 3), (1, 2, 2), (2,)])


def test_a_batch_predict_fn_answering_the_wrong_row_count_falls_back_to_one_by_one() -> None:
    def predict_fn(data: np.ndarray, model: Any) -> list[float]:
        return [float(data.sum())]  # one answer per call, not per row

    predict_fn.accepts_batches = True  # type: ignore[attr-defined]
    chain = _chain(object(), _module(predict_fn=predict_fn))
    replies = StackedPredictor(chain)([_json([[1, 2]]), _json([[3, 4]])])
    assert [json.loads(reply.body) for reply in replies] == [[3.0], [7.0]]


def test_which_handlers_are_vectorisable(iris_model: Any) -> None:
    def predict_fn(data: Any, model: Any) -> Any:
        return data

    def transform_fn(model: Any, data: Any, content_type: str, accept: str) -> str:
        return ""

    assert _chain(iris_model).batch_refusal() is None
    assert "predict" in str(_chain(object()).batch_refusal())
    assert "accepts_batches" in str(
        _chain(iris_model, _module(predict_fn=predict_fn)).batch_refusal()
    )
    assert "transform_fn" in str(
        _chain(iris_model, _module(transform_fn=transform_fn)).batch_refusal()
    )


# -- gathering on the loop: size and wait flushes ----------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, requests: Sequence[Request]) -> list[Reply]:
        self.batches.append(len(requests))
        return [Reply(200, b"text/plain", request.body) for request in requests]


def _gather(size: int, wait_s: float, bodies: list[bytes], recorder: Recorder) -> list[bytes]:
    async def run() -> list[bytes]:
        batcher = Batcher(size, wait_s, Handlers(), recorder)
        replies = await asyncio.gather(
            *(batcher.submit(Request(body, None, None, [])) for body in bodies)
        )
        return [reply.body for reply in replies]

    return asyncio.run(run())


def test_a_full_batch_is_handed_over_without_waiting() -> None:
    recorder = Recorder()
    bodies = [str(n).encode() for n in range(7)]
    # The wait is far longer than any test: only the size can have flushed these.
    assert _gather(3, 3600.0, bodies[:6], recorder) == bodies[:6]
    assert recorder.batches == [3, 3]


def test_a_partial_batch_is_handed_over_when_the_wait_ends() -> None:
    recorder = Recorder()
    bodies = [b"a", b"b"]
    assert _gather(100, 0.01, bodies, recorder) == bodies
    assert recorder.batches == [2]


# -- the settings ---------------------------------------------------------------------------
def test_batching_is_off_unless_asked() -> None:
    config = ServeConfig.from_env({})
    assert not config.batching
    config = ServeConfig.from_env({"DOCKYARD_BATCH_SIZE": "16", "DOCKYARD_BATCH_WAIT_MS": "2"})
    assert config.batching and (config.batch_size, config.batch_wait_ms) == (16, 2.0)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DOCKYARD_BATCH_SIZE": "lots"}, "DOCKYARD_BATCH_SIZE"),
        ({"DOCKYARD_BATCH_SIZE": "-2"}, "DOCKYARD_BATCH_SIZE"),
        ({"DOCKYARD_BATCH_SIZE": "8", "DOCKYARD_BATCH_WAIT_MS": "soon"}, "DOCKYARD_BATCH_WAIT_MS"),
        ({"DOCKYARD_BATCH_SIZE": "8", "DOCKYARD_BATCH_WAIT_MS": "-1"}, "DOCKYARD_BATCH_WAIT_MS"),
        ({"DOCKYARD_BATCH_WAIT_MS": "5"}, "DOCKYARD_BATCH_SIZE to 2 or more"),
        (
            {
                "DOCKYARD_BATCH_SIZE": "8",
                "DOCKYARD_BATCH_WAIT_MS": "3000",
                "SAGEMAKER_MODEL_SERVER_TIMEOUT": "2",
            },
            "shorter than the invocation timeout",
        ),
    ],
)
def test_bad_batching_settings_are_refused_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        ServeConfig.from_env(env)


# -- end to end in a real server process ----------------------------------------------------
def test_a_server_with_batching_answers_concurrent_requests_each_with_its_own_result(
    start_server: Callable[..., ServerProcess], iris_model: Any
) -> None:
    server = start_server(env={"DOCKYARD_BATCH_SIZE": "8", "DOCKYARD_BATCH_WAIT_MS": "20"})
    assert "batching: up to 8 requests" in server.log()
    bodies = [json.dumps([ROW_A if n % 2 else ROW_B] * (n % 3 + 1)) for n in range(24)]
    bodies[5] = "[[1, 2]]"

    async def send_all() -> list[tuple[int, Any]]:
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/invocations", content=b, headers={"Content-Type": "application/json"}
                    )
                    for b in bodies
                )
            )
        return [(r.status_code, r.json()) for r in responses]

    answers = asyncio.run(send_all())
    for n, (status, answer) in enumerate(answers):
        if n == 5:
            assert status == 400 and "4 values" in answer["message"]
        else:
            assert status == 200
            assert answer == iris_model.predict(np.array(json.loads(bodies[n]))).tolist()


def test_batching_asked_for_a_handler_that_cannot_batch_is_off_with_a_warning(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    code = "def transform_fn(model, data, content_type, accept):\n    return 'ok', 'text/plain'\n"
    server = start_server(code=code, env={"DOCKYARD_BATCH_SIZE": "4"})
    assert server.invoke("x", "text/plain").text == "ok"
    assert "batching is off: transform_fn" in server.log()
