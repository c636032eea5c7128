"""Where discovery looks for an engine, and which engine it would start."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.engine import daemons, discovery
from dockyard.adapters.engine.discovery import candidates
from dockyard.errors import EngineUnavailable, SetupError, SpecError
from dockyard.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", engine_url=None, engine_kind=None)


def urls(found: list[discovery.Candidate]) -> list[str]:
    return [c.url for c in found]


def test_an_explicit_engine_url_is_the_only_candidate(settings):
    explicit = settings.model_copy(update={"engine_url": "tcp://10.0.0.5:2375"})

    assert urls(candidates(explicit, {"DOCKER_HOST": "unix:///x.sock"})) == ["tcp://10.0.0.5:2375"]


def test_candidates_follow_the_documented_order(settings):
    env = {"DOCKER_HOST": "tcp://127.0.0.1:2375", "XDG_RUNTIME_DIR": "/run/user/1000"}

    assert urls(candidates(settings, env)) == [
        "tcp://127.0.0.1:2375",
        "unix:///var/run/docker.sock",
        "unix:///run/user/1000/podman/podman.sock",
        "unix:///run/podman/podman.sock",
        f"unix://{settings.run_dir}/docker.sock",
        f"unix://{settings.run_dir}/podman.sock",
    ]


def test_without_environment_the_sockets_come_first(settings):
    found = candidates(settings, {})

    assert found[0].url == "unix:///var/run/docker.sock"
    assert "Podman user socket" not in [c.source for c in found]


def test_a_candidate_named_twice_is_tried_once(settings):
    found = candidates(settings, {"DOCKER_HOST": "unix:///var/run/docker.sock"})

    assert urls(found).count("unix:///var/run/docker.sock") == 1
    assert found[0].source == "DOCKER_HOST"


def test_a_missing_socket_does_not_answer(tmp_path):
    assert discovery.answers(f"unix://{tmp_path}/absent.sock") is False


def test_dockerd_is_preferred_when_both_are_installed():
    assert daemons.choose_kind(None, lambda name: f"/usr/bin/{name}") == "docker"


def test_podman_is_started_when_dockerd_is_missing():
    which = {"podman": "/usr/bin/podman"}.get

    assert daemons.choose_kind(None, which) == "podman"


def test_the_configured_kind_wins():
    assert daemons.choose_kind("podman", lambda name: f"/usr/bin/{name}") == "podman"


def test_a_configured_kind_that_is_not_installed_says_how_to_install():
    with pytest.raises(SetupError) as missing:
        daemons.choose_kind("podman", {"dockerd": "/usr/sbin/dockerd"}.get)

    assert "podman" in missing.value.message
    assert "dockyard setup" in (missing.value.hint or "")


def test_an_unknown_kind_is_a_spec_error():
    with pytest.raises(SpecError) as wrong:
        daemons.choose_kind("containerd", lambda name: None)

    assert wrong.value.field == "engine_kind"


def test_started_engines_keep_everything_under_the_state_dir(settings):
    where = daemons.layout(settings, "docker")

    assert where.socket == settings.run_dir / "docker.sock"
    assert where.pidfile == settings.run_dir / "dockerd.pid"
    assert where.log == settings.logs_dir / "dockerd.log"
    assert where.data == settings.state_dir / "docker"


def test_a_pid_file_of_a_dead_process_is_not_a_running_engine(settings):
    where = daemons.layout(settings, "docker")
    where.pidfile.parent.mkdir(parents=True)
    where.pidfile.write_text("999999999\n")

    assert daemons.running_pid(where) is None


def test_a_live_pid_of_another_program_is_not_the_engine(settings):
    where = daemons.layout(settings, "docker")
    where.pidfile.parent.mkdir(parents=True)
    where.pidfile.write_text("1\n")  # pid 1 is never dockerd started by Dockyard

    assert daemons.running_pid(where) is None


def test_without_start_and_no_engine_connect_says_how_to_get_one(settings, monkeypatch):
    monkeypatch.setattr(discovery, "DOCKER_SOCKET", Path("/nonexistent/docker.sock"))
    monkeypatch.setattr(discovery, "SYSTEM_PODMAN_SOCKET", Path("/nonexistent/podman.sock"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)

    with pytest.raises(EngineUnavailable) as none:
        discovery.connect(settings, start=False)

    assert none.value.hint


def test_a_too_deep_state_dir_is_refused_before_starting(tmp_path):
    deep = Settings(state_dir=tmp_path / ("x" * 90))

    with pytest.raises(SetupError) as refused:
        daemons._check_socket_lengths(deep, "docker")

    assert refused.value.field == "state_dir"
