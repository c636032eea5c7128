"""Podman and Dockyard's plain-HTTP registry: the registries.conf drop-in, and which
registries are reached through Podman's own API."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dockyard.adapters.engine.libpod import on_loopback
from dockyard.adapters.engine.registries_conf import write_registry_drop_in
from dockyard.settings import Settings

pytestmark = pytest.mark.unit


def test_the_drop_in_marks_exactly_the_registry_port_insecure(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", registry_port=5123)

    path = write_registry_drop_in(settings, tmp_path / "registries.conf.d")

    assert path is not None
    assert path.parent == tmp_path / "registries.conf.d"
    assert tomllib.loads(path.read_text()) == {
        "registry": [{"location": "127.0.0.1:5123", "insecure": True}]
    }


def test_writing_the_drop_in_again_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", registry_port=5123)
    first = write_registry_drop_in(settings, tmp_path)
    assert first is not None
    written_at = first.stat().st_mtime_ns

    assert write_registry_drop_in(settings, tmp_path) == first
    assert first.stat().st_mtime_ns == written_at


def test_a_directory_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = Settings(state_dir=tmp_path / "state", registry_port=5123)

    assert write_registry_drop_in(settings, blocker / "registries.conf.d") is None


@pytest.mark.parametrize(
    ("ref", "loopback"),
    [
        ("127.0.0.1:5000/models/iris:v1", True),
        ("127.0.0.1:5000/models/iris@sha256:" + "a" * 64, True),
        ("127.9.9.9:5000/models/iris", True),
        ("localhost:5000/models/iris:v1", True),
        ("registry.example.com:5000/models/iris:v1", False),
        ("10.0.0.5:5000/models/iris:v1", False),
        ("python:3.11-slim", False),
        ("models/iris:v1", False),
    ],
)
def test_only_loopback_registries_skip_tls_on_podman(ref: str, loopback: bool) -> None:
    assert on_loopback(ref) is loopback
