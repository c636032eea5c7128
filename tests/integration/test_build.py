"""`dockyard build` against a real engine: framework, extend and BYOC images.

Framework images are shared across sessions (they are rebuilt only when their inputs
change); model images carry the session labels and are removed with the session.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from dockyard import __version__
from dockyard.adapters.artifacts.local import make_model_tarball
from dockyard.package.frameworks import SKLEARN
from dockyard.package.plan import BuildMode
from dockyard.ports.engine import ContainerSpec, Engine
from dockyard.server.builds import BuildResult, build_model_image
from dockyard.settings import Settings

pytestmark = pytest.mark.integration

INFERENCE = """\
import numpy as np


def predict_fn(data, model):
    return model.predict(np.asarray(data, dtype=float)).tolist()
"""

FIND_TRUST_AND_CACHES = """\
import os
for root, dirs, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev")):
        dirs[:] = []
        continue
    for name in files:
        path = os.path.join(root, name)
        if (name.endswith((".crt", ".pem", ".whl")) or "/.cache/pip" in path
                or path.startswith("/etc/ssl/certs/")):
            print(path)
"""


@pytest.fixture(scope="module")
def build_settings() -> Settings:
    """The shared test installation: its wheel cache makes repeated runs fast."""
    return Settings(
        state_dir=Path(os.environ.get("DOCKYARD_STATE_DIR", "/tmp/dockyard-test-state"))
    )


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features, labels = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("iris") / "model.joblib"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    return path


@pytest.fixture
def make_dir(tmp_path: Path, iris_model: Path) -> Callable[..., Path]:
    """``make_dir(**{"inference.py": text})`` → a model dir holding the iris model."""

    def make(with_model: bool = True, **files: str) -> Path:
        directory = tmp_path / "model-dir"
        directory.mkdir(exist_ok=True)
        if with_model:
            (directory / "model.joblib").write_bytes(iris_model.read_bytes())
        for name, text in files.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(textwrap.dedent(text))
        return directory

    return make


@pytest.fixture
def build(
    engine: Engine, build_settings: Settings, base_image: str, session_labels: dict[str, str]
) -> Callable[..., BuildResult]:
    def run(directory: Path, tag: str, **kwargs: object) -> BuildResult:
        return build_model_image(
            engine,
            build_settings,
            directory,
            tag,
            base_image=base_image,
            labels=session_labels,
            **kwargs,  # type: ignore[arg-type]
        )

    return run


def run_once(
    engine: Engine,
    image: str,
    name: str,
    labels: dict[str, str],
    command: list[str],
    **spec: object,
) -> tuple[int, str]:
    """Run ``command`` (replacing the entrypoint) to completion: (exit code, output)."""
    state = engine.run(
        ContainerSpec(name=name, image=image, entrypoint=command, labels=labels, **spec)  # type: ignore[arg-type]
    )
    try:
        code = engine.wait(state.id, timeout=120)
        return code, b"".join(engine.logs(state.id)).decode()
    finally:
        engine.remove(state.id)


def python_in(
    engine: Engine, image: str, name: str, labels: dict[str, str], script: str, **spec: object
) -> str:
    code, output = run_once(engine, image, name, labels, ["python3", "-c", script], **spec)
    assert code == 0, output
    return output


def wait_for_ping(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/ping", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{base_url}/ping never answered 200")


def test_framework_build_serves_predictions_as_non_root(
    build, make_dir, engine, unique_name, session_labels
):
    tag = f"{unique_name('iris')}:1"

    result = build(make_dir(), tag)

    assert result.mode is BuildMode.FRAMEWORK
    assert result.framework_image == SKLEARN.image_ref()
    info = engine.image(tag)
    assert info is not None
    assert info.labels["dockyard.framework"] == "sklearn"
    assert info.labels["dockyard.version"] == __version__
    assert info.labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert info.labels["dockyard.build-mode"] == "framework"
    assert (
        python_in(engine, tag, unique_name("uid"), session_labels, "import os; print(os.getuid())")
        == "1000\n"
    )
    server = engine.run(
        ContainerSpec(
            name=unique_name("serve"),
            image=tag,
            command=["serve"],
            ports=[8080],
            labels=session_labels,
        )
    )
    try:
        base_url = f"http://127.0.0.1:{engine.inspect(server.id).host_ports[8080]}"
        wait_for_ping(base_url)
        answer = httpx.post(
            f"{base_url}/invocations",
            content="5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
            timeout=30.0,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == [0, 2]
    finally:
        engine.stop(server.id, timeout=5)
        engine.remove(server.id)


@pytest.mark.podman
def test_code_only_change_rebuilds_only_the_code_layer(
    build, make_dir, engine, unique_name, session_labels
):
    tag = f"{unique_name('code')}:1"
    directory = make_dir(**{"inference.py": INFERENCE})
    build(directory, tag)
    revision = f"# revision 2 of {tag}"  # unique: no earlier run can have cached it
    (directory / "inference.py").write_text(f"{INFERENCE}\n{revision}\n")

    second = build(directory, tag)

    assert second.layers_rebuilt == ("COPY code/ /opt/ml/code/",)
    shown = python_in(
        engine,
        tag,
        unique_name("cat"),
        session_labels,
        "print(open('/opt/ml/code/inference.py').read())",
    )
    assert revision in shown


@pytest.mark.podman
def test_byoc_dockerfile_is_built_as_is_without_ignored_files(
    build, make_dir, engine, base_image, unique_name, session_labels
):
    directory = make_dir(
        with_model=False,
        Dockerfile=f"""\
            FROM {base_image}
            COPY . /srv/
            CMD ["python3", "-c", "import os; print(sorted(os.listdir('/srv')))"]
            """,
        **{".dockerignore": "secret.txt\n", "secret.txt": "no", "serve.py": "print(1)\n"},
    )
    tag = f"{unique_name('byoc')}:1"

    result = build(directory, tag)

    assert result.mode is BuildMode.BYOC
    assert result.framework_image is None
    code, output = run_once(engine, tag, unique_name("ls"), session_labels, [])
    assert code == 0
    assert output.strip() == "['.dockerignore', 'Dockerfile', 'serve.py']"


def test_extend_builds_on_the_framework_image(build, make_dir, engine, unique_name, session_labels):
    directory = make_dir(
        Dockerfile="""\
            ARG DOCKYARD_FRAMEWORK_IMAGE=dockyard/sklearn
            FROM ${DOCKYARD_FRAMEWORK_IMAGE}
            COPY model.joblib /opt/ml/model/
            """
    )
    tag = f"{unique_name('extend')}:1"

    result = build(directory, tag)

    assert result.mode is BuildMode.EXTEND
    assert result.framework_image == SKLEARN.image_ref()
    info = engine.image(tag)
    assert info is not None and info.labels["dockyard.framework"] == "sklearn"
    script = "import joblib; print(type(joblib.load('/opt/ml/model/model.joblib')).__name__)"
    assert (
        python_in(engine, tag, unique_name("load"), session_labels, script)
        == "LogisticRegression\n"
    )


def test_requirements_txt_packages_go_into_the_image(
    build, make_dir, engine, unique_name, session_labels
):
    directory = make_dir(**{"requirements.txt": "tabulate==0.10.0\nthreadpoolctl\n"})
    tag = f"{unique_name('reqs')}:1"

    build(directory, tag)

    script = (
        "import tabulate, threadpoolctl; print(tabulate.__file__); print(threadpoolctl.__file__)"
    )
    output = python_in(engine, tag, unique_name("import"), session_labels, script)
    assert output.splitlines() == [
        "/opt/dockyard/user-site/tabulate/__init__.py",
        "/opt/dockyard/site/threadpoolctl.py",  # the framework's copy; no duplicate
    ]


def test_model_data_archive_replaces_the_directorys_model(
    build, make_dir, engine, tmp_path, iris_model, unique_name, session_labels
):
    packed = tmp_path / "job-output"
    packed.mkdir()
    (packed / "model.joblib").write_bytes(iris_model.read_bytes())
    archive = make_model_tarball(packed, tmp_path / "model.tar.gz")
    tag = f"{unique_name('modeldata')}:1"

    result = build(
        make_dir(with_model=False, **{"inference.py": INFERENCE}), tag, model_data=archive
    )

    assert result.mode is BuildMode.FRAMEWORK
    listing = python_in(
        engine,
        tag,
        unique_name("ls"),
        session_labels,
        "import os; print(sorted(os.listdir('/opt/ml/model')))",
    )
    assert listing.strip() == "['model.joblib']"


def test_runtime_image_has_no_ca_bundle_or_pip_cache_beyond_the_base(
    build, make_dir, engine, base_image, unique_name, session_labels
):
    directory = make_dir(**{"inference.py": INFERENCE, "requirements.txt": "tabulate==0.10.0\n"})
    tag = f"{unique_name('trust')}:1"
    build(directory, tag)

    def found(image: str) -> set[str]:
        output = python_in(
            engine, image, unique_name("find"), session_labels, FIND_TRUST_AND_CACHES, user="0"
        )
        return set(output.split())

    assert found(tag) - found(base_image) == set()
