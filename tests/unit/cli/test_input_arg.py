"""The CLI passes inputs to the daemon as given, except that plain paths become absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.context import input_arg
from dockyard.cli.train_cmd import _channel_uri

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "training-job:iris",
        "s3://models/iris/model.tar.gz",
        "file:///srv/model.tar.gz",
        "https://models.s3.amazonaws.com/model.tar.gz",
        "",
    ],
)
def test_forms_the_daemon_resolves_pass_through_unchanged(text: str) -> None:
    assert input_arg(text) == text


def test_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert input_arg("model.tar.gz") == str(tmp_path.resolve() / "model.tar.gz")


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert input_arg("~/model.tar.gz") == str(tmp_path.resolve() / "model.tar.gz")


def test_absolute_path_stays_a_path() -> None:
    assert input_arg("/srv/model.tar.gz") == "/srv/model.tar.gz"


def test_channel_paths_are_sent_as_file_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert _channel_uri("data") == (tmp_path.resolve() / "data").as_uri()
    assert _channel_uri("s3://data/train") == "s3://data/train"
