"""A multi-model server as a process: the /models contract and loading on first use."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

if TYPE_CHECKING:
    from conftest import ServerProcess

pytestmark = pytest.mark.unit

PAD_BYTES = 1024 * 1024  # each model directory below takes a little over 1 MB
#: One sample as a one-row matrix (a single CSV line decodes flat, as in the container).
ROW = "[[5.1, 3.5, 1.4, 0.2]]"


def _model_dir(root: Path, name: str, label_shift: int) -> Path:
    """A model directory whose predictions tell the models apart (labels shifted)."""
    features, labels = load_iris(return_X_y=True)
    directory = root / name
    directory.mkdir(parents=True)
    joblib.dump(
        LogisticRegression(max_iter=1000).fit(features, labels + label_shift),
        directory / "model.joblib",
    )
    (directory / "pad.bin").write_bytes(b"\0" * PAD_BYTES)
    return directory


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model prefix holding a/model.tar.gz, b.tar.gz and c.tar.gz (labels +0, +10, +20)."""
    root = tmp_path_factory.mktemp("mme")
    prefix = root / "prefix"
    (prefix / "a").mkdir(parents=True)
    for shift, target in ((0, "a/model.tar.gz"), (10, "b.tar.gz"), (20, "c.tar.gz")):
        directory = _model_dir(root / "dirs", target.replace("/", "_"), shift)
        with tarfile.open(prefix / target, "w:gz") as archive:
            for path in directory.iterdir():
                archive.add(path, path.name)
    (prefix / "broken.tar.gz").write_bytes(b"not an archive")
    return prefix


@pytest.fixture
def mme(
    start_server: Callable[..., ServerProcess], prefix: Path, tmp_path: Path
) -> Callable[..., ServerProcess]:
    def start(budget_mb: float = 64, workers: int = 1) -> ServerProcess:
        return start_server(
            env={
                "SAGEMAKER_MULTI_MODEL": "true",
                "DOCKYARD_MODEL_PREFIX_DIR": str(prefix),
                "DOCKYARD_MODEL_CACHE_DIR": str(tmp_path / "cache"),
                "DOCKYARD_MODEL_MEMORY_MB": str(budget_mb),
                "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            }
        )

    return start


def _target(server: ServerProcess, target: str) -> httpx.Response:
    return server.invoke(ROW, "application/json", headers={"X-Amzn-SageMaker-Target-Model": target})


def _loaded(server: ServerProcess) -> list[str]:
    body = server.client.get("/models").json()
    return [m["modelName"] for m in body["models"]]


def test_each_target_model_is_loaded_on_first_use_and_answers_itself(
    mme: Callable[..., ServerProcess],
) -> None:
    server = mme()
    answers = {t: _target(server, t) for t in ("a/model.tar.gz", "b.tar.gz", "c.tar.gz")}
    assert {t: r.json() for t, r in answers.items()} == {
        "a/model.tar.gz": [0],
        "b.tar.gz": [10],
        "c.tar.gz": [20],
    }
    assert _loaded(server) == ["a/model.tar.gz", "b.tar.gz", "c.tar.gz"]


def test_post_models_loads_409_when_loaded_and_delete_unloads_then_404(
    mme: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = mme()
    url = str(_model_dir(tmp_path, "direct", 0))
    body = {"model_name": "direct", "url": url}
    assert server.client.post("/models", json=body).status_code == 200
    assert server.client.post("/models", json=body).status_code == 409
    described = server.client.get("/models/direct")
    assert described.json() == {"modelName": "direct", "modelUrl": url}
    invoked = server.client.post(
        "/models/direct/invoke", content=ROW, headers={"Content-Type": "application/json"}
    )
    assert invoked.json() == [0]
    assert server.client.delete("/models/direct").status_code == 200
    assert server.client.delete("/models/direct").status_code == 404
    assert server.client.get("/models/direct").status_code == 404
    assert server.client.post("/models/direct/invoke", content=ROW).status_code == 404


def test_a_name_with_a_slash_is_reached_percent_encoded(mme: Callable[..., ServerProcess]) -> None:
    server = mme()
    _target(server, "a/model.tar.gz")
    assert server.client.get("/models/a%2Fmodel.tar.gz").json()["modelName"] == "a/model.tar.gz"
    assert server.client.delete("/models/a%2Fmodel.tar.gz").status_code == 200


def test_post_models_past_the_budget_is_507_and_loads_nothing(
    mme: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = mme(budget_mb=1.5)
    first = {"model_name": "one", "url": str(_model_dir(tmp_path, "one", 0))}
    second = {"model_name": "two", "url": str(_model_dir(tmp_path, "two", 0))}
    assert server.client.post("/models", json=first).status_code == 200
    refused = server.client.post("/models", json=second)
    assert refused.status_code == 507, refused.text
    assert "DOCKYARD_MODEL_MEMORY_MB" in refused.json()["message"]
    assert _loaded(server) == ["one"]


def test_a_target_past_the_budget_unloads_the_least_recently_used(
    mme: Callable[..., ServerProcess],
) -> None:
    server = mme(budget_mb=2.5)  # two models fit
    _target(server, "a/model.tar.gz")
    _target(server, "b.tar.gz")
    _target(server, "a/model.tar.gz")  # b is now the least recently used
    assert _target(server, "c.tar.gz").json() == [20]
    assert _loaded(server) == ["a/model.tar.gz", "c.tar.gz"]
    assert _target(server, "b.tar.gz").json() == [10]  # reloaded, a goes now
    assert _loaded(server) == ["b.tar.gz", "c.tar.gz"]


def test_a_target_larger_than_the_whole_budget_is_507(mme: Callable[..., ServerProcess]) -> None:
    server = mme(budget_mb=0.5)
    assert _target(server, "b.tar.gz").status_code == 507
    assert _loaded(server) == []


def test_unknown_or_bad_target_models_are_validation_errors_and_serving_goes_on(
    mme: Callable[..., ServerProcess],
) -> None:
    server = mme()
    for target in ("missing.tar.gz", "../b.tar.gz", "broken.tar.gz"):
        refused = _target(server, target)
        assert refused.status_code == 400, target
        assert refused.json()["error"] == "ValidationError"
    assert server.invoke(ROW).json()["error"] == "ValidationError"  # no header at all
    assert _target(server, "b.tar.gz").json() == [10]


def test_pages_of_models_follow_next_page_token(mme: Callable[..., ServerProcess]) -> None:
    server = mme()
    for target in ("a/model.tar.gz", "b.tar.gz", "c.tar.gz"):
        _target(server, target)
    first = server.client.get("/models", params={"limit": 2}).json()
    assert [m["modelName"] for m in first["models"]] == ["a/model.tar.gz", "b.tar.gz"]
    rest = server.client.get(
        "/models", params={"limit": 2, "next_page_token": first["nextPageToken"]}
    ).json()
    assert [m["modelName"] for m in rest["models"]] == ["c.tar.gz"]
    assert "nextPageToken" not in rest
    assert server.client.get("/models", params={"next_page_token": "@@"}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"url": "/x"}', b'{"model_name": "m"}', b'{"model_name": 3, "url": "/x"}'],
)
def test_a_load_request_without_model_name_and_url_is_400_naming_them(
    mme: Callable[..., ServerProcess], body: bytes
) -> None:
    refused = mme().client.post("/models", content=body)
    assert refused.status_code == 400
    assert "model_name" in refused.json()["message"]


def test_a_single_model_server_has_no_models_routes(
    start_server: Callable[..., ServerProcess],
) -> None:
    assert start_server().client.get("/models").status_code == 404


def _on_fresh_connections(server: ServerProcess, count: int, method: str, path: str) -> set[int]:
    """Statuses of ``count`` requests, each on a new connection (so both workers answer)."""
    return {
        server.client.request(method, path, headers={"Connection": "close"}).status_code
        for _ in range(count)
    }


def test_every_worker_sees_the_same_loaded_models(
    mme: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = mme(workers=2)
    body = {"model_name": "shared", "url": str(_model_dir(tmp_path, "shared", 0))}
    assert server.client.post("/models", json=body).status_code == 200
    assert _on_fresh_connections(server, 20, "GET", "/models/shared") == {200}
    for _ in range(10):
        again = server.client.post("/models", json=body, headers={"Connection": "close"})
        assert again.status_code == 409
        answer = server.client.post(
            "/models/shared/invoke",
            content=ROW,
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        assert answer.json() == [0]
    assert server.client.delete("/models/shared").status_code == 200
    assert _on_fresh_connections(server, 20, "GET", "/models/shared") == {404}
    assert _on_fresh_connections(server, 20, "DELETE", "/models/shared") == {404}


def test_a_model_is_charged_once_per_worker(
    mme: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = mme(budget_mb=3, workers=2)  # one model of ~1 MB in 2 workers: ~2 MB
    assert _target(server, "b.tar.gz").json() == [10]
    assert _target(server, "c.tar.gz").json() == [20]  # b made room
    assert _loaded(server) == ["c.tar.gz"]


def test_with_caching_disabled_a_target_model_is_unloaded_after_its_request(
    start_server: Callable[..., ServerProcess], prefix: Path, tmp_path: Path
) -> None:
    server = start_server(
        env={
            "SAGEMAKER_MULTI_MODEL": "true",
            "DOCKYARD_MODEL_PREFIX_DIR": str(prefix),
            "DOCKYARD_MODEL_CACHE_DIR": str(tmp_path / "cache"),
            "DOCKYARD_MODEL_CACHING": "Disabled",
        }
    )
    assert _target(server, "b.tar.gz").json() == [10]
    assert _target(server, "b.tar.gz").json() == [10]
    assert _loaded(server) == []
