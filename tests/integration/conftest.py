"""Fixtures for tests against a real container engine.

One engine serves the whole session: the installation's own, named like everywhere
else by ``DOCKYARD_STATE_DIR`` (default ``~/.local/state/dockyard``), so the tests
share the engine, base image and caches that ``dockyard setup`` and the quickstart
use. One engine per machine, as with Docker itself: two engines started side by
side would fight over the host's default bridge. Tests stay out of the user's way
by naming everything uniquely and running their daemons on private state dirs.
Choose the engine with ``DOCKYARD_TEST_ENGINE=docker|podman``; Podman gets its own
state directory
(``<state dir>-podman``) and shares the base image's cached root filesystem.

Every container, network and image a test makes should carry
:data:`SESSION_LABELS` (the ``session_labels`` fixture) or a name from
``unique_name``; both are removed when the session ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from dockyard_daemon import Daemon, free_port

from dockyard.adapters.baseimage import ensure_base_image
from dockyard.adapters.engine import DockerEngine, connect
from dockyard.errors import DockyardError
from dockyard.server.builds import ensure_framework_image
from dockyard.settings import Settings

SESSION = uuid.uuid4().hex[:8]
SESSION_LABEL = "dockyard.test-session"
SESSION_LABELS = {SESSION_LABEL: SESSION}


def _progress(line: str) -> None:
    print(f"[engine fixture] {line}", file=sys.stderr, flush=True)


def _shared_settings() -> Settings:
    """Settings of the installation the tests run on (engine, base image cache)."""
    return Settings()


def _engine_settings() -> Settings:
    """Settings naming the engine this session runs on (``DOCKYARD_TEST_ENGINE``)."""
    shared = _shared_settings()
    wanted = os.environ.get("DOCKYARD_TEST_ENGINE", "").strip().lower() or None
    if wanted not in (None, "docker", "podman"):
        raise pytest.UsageError("DOCKYARD_TEST_ENGINE must be 'docker' or 'podman'")
    if wanted == "podman":
        return shared.model_copy(
            update={"state_dir": Path(f"{shared.state_dir}-podman"), "engine_kind": "podman"}
        )
    return shared.model_copy(update={"engine_kind": wanted or shared.engine_kind})


@pytest.fixture(scope="session")
def session_labels() -> dict[str, str]:
    """Labels that mark a resource as this test session's (removed at the end)."""
    return dict(SESSION_LABELS)


@pytest.fixture(scope="session")
def unique_name() -> Callable[..., str]:
    """``unique_name("web")`` → ``dy-web-<session>-<n>``: a fresh engine-safe name."""
    counter = itertools.count(1)

    def make(prefix: str = "t") -> str:
        return f"dy-{prefix}-{SESSION}-{next(counter)}"

    return make


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    """A connected engine (started if none runs); session resources removed afterwards."""
    connected = connect(_engine_settings(), progress=_progress)
    yield connected
    _cleanup(connected)
    connected.close()


@pytest.fixture(scope="session")
def shared_settings() -> Settings:
    """Settings of the shared test installation: its cache holds the base rootfs."""
    return _shared_settings()


@pytest.fixture(scope="session")
def base_image(engine: DockerEngine, shared_settings: Settings) -> str:
    """Ref of a Python 3.11 base image in ``engine`` (built offline when needed)."""
    return ensure_base_image(engine, shared_settings, progress=_progress)


def _cleanup(engine: DockerEngine) -> None:
    """Remove this session's containers, networks and images, whatever the test did."""
    client = docker.APIClient(base_url=engine.base_url, version="auto", timeout=60)
    label = {"label": [f"{SESSION_LABEL}={SESSION}"]}
    by_label = client.containers(all=True, filters=label)
    by_name = client.containers(all=True, filters={"name": [SESSION]})
    for container_id in {c["Id"] for c in [*by_label, *by_name]}:
        with contextlib.suppress(DockyardError):
            engine.remove(container_id)
    networks = client.networks(filters=label) + client.networks(filters={"name": [SESSION]})
    for network in networks:
        _quietly(client.remove_network, network["Id"])
    for image in client.images(filters=label):
        _quietly(client.remove_image, image["Id"], force=True)
    client.close()


def _quietly(action: Callable[..., object], *args: object, **kwargs: object) -> None:
    with contextlib.suppress(docker.errors.APIError):
        action(*args, **kwargs)


@pytest.fixture(scope="session")
def framework_image(engine: DockerEngine, shared_settings: Settings) -> str:
    """Ref of the scikit-learn framework image in ``engine`` (built once, then cached)."""
    return ensure_framework_image(engine, shared_settings, "sklearn", progress=_progress)


@pytest.fixture(scope="session")
def framework_image_of(engine: DockerEngine, shared_settings: Settings) -> Callable[[str], str]:
    """``framework_image_of("xgboost")``: that framework's image, built once per session
    (then cached across sessions by its build digest), shared by every module."""
    built: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in built:
            built[name] = ensure_framework_image(engine, shared_settings, name, progress=_progress)
        return built[name]

    return get


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A real ``dockyard server`` on a fresh state directory, on the session's engine.

    One per test module. Teardown deletes its endpoints, stops it and its HAProxy and
    removes every container it left. ``daemon.restart()`` restarts it in place.
    """
    running = Daemon(
        tmp_path_factory.mktemp("daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="session")
def script_image(
    engine: DockerEngine,
    base_image: str,
    session_labels: dict[str, str],
    unique_name: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., str]:
    """Build an image that runs one Python script on the base image; returns its tag.

    ``inference=True``: the script is the ENTRYPOINT, so the image starts as ``IMAGE
    serve`` like SageMaker's, and it carries the label that says it listens on
    ``SAGEMAKER_BIND_TO_PORT``.
    """

    def build(name: str, script: str, *, inference: bool = False) -> str:
        context = tmp_path_factory.mktemp(name)
        (context / "server.py").write_text(script)
        start = (
            'LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port="true"\n'
            'ENTRYPOINT ["python3", "/server.py"]\n'
            if inference
            else 'CMD ["python3", "/server.py"]\n'
        )
        (context / "Dockerfile").write_text(
            f"FROM {base_image}\nCOPY server.py /server.py\n{start}"
        )
        tag = f"dockyard-test/{name}:{unique_name(name)}"
        list(engine.build(str(context), tag, labels=session_labels))
        return tag

    return build
