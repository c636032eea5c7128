"""The offline base image: Python's stdlib works, and host-resolved cp311 wheels load."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dockyard.adapters.baseimage import BASE_REF, cached_tarball, ensure_base_image
from dockyard.ports.engine import ContainerSpec

pytestmark = pytest.mark.integration


def run_to_completion(engine, name: str, image: str, script: str, labels) -> tuple[int, str]:
    state = engine.run(
        ContainerSpec(
            name=name,
            image=image,
            command=["python3", "-c", textwrap.dedent(script)],
            labels=labels,
        )
    )
    code = engine.wait(state.id, timeout=120)
    return code, b"".join(engine.logs(state.id)).decode()


@pytest.mark.podman
def test_base_image_has_a_working_python_stdlib(engine, base_image, unique_name, session_labels):
    script = """
        import ssl, sqlite3, json, multiprocessing, ctypes, lzma, zoneinfo, sys
        print(sys.version_info[:2], sqlite3.sqlite_version, multiprocessing.cpu_count() > 0)
    """
    code, out = run_to_completion(engine, unique_name("stdlib"), base_image, script, session_labels)

    assert code == 0, out
    assert out.startswith("(3, 11)")


def test_a_second_ensure_returns_the_cached_image_at_once(engine, base_image, shared_settings):
    assert ensure_base_image(engine, shared_settings) == base_image


def test_dockyard_base_is_kept_small_and_its_rootfs_cached(engine, base_image, shared_settings):
    if base_image != BASE_REF:
        pytest.skip(f"the configured base image {base_image} is in use")
    info = engine.image(BASE_REF)

    assert info is not None and info.size_bytes < 200_000_000
    assert cached_tarball(shared_settings).is_file()


@pytest.fixture(scope="session")
def numpy_site(tmp_path_factory, shared_settings) -> Path:
    """numpy's cp311 manylinux wheel installed on the host with ``pip --target``."""
    cache = shared_settings.cache_dir / "test-wheels" / "numpy"
    if not (cache / "numpy").is_dir():
        staging = tmp_path_factory.mktemp("numpy-site")
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
        subprocess.run([*pip, "--target", str(staging), "numpy"], check=True)
        shutil.rmtree(cache, ignore_errors=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, cache, symlinks=True)
    return cache


@pytest.mark.podman
def test_a_host_resolved_numpy_wheel_imports_in_the_base_image(
    engine, base_image, unique_name, session_labels, numpy_site, tmp_path
):
    shutil.copytree(numpy_site, tmp_path / "site", symlinks=True)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY site /opt/site\nENV PYTHONPATH=/opt/site\n"
    )
    tag = f"dockyard-test/numpy:{unique_name('np')}"
    list(engine.build(str(tmp_path), tag, labels=session_labels))

    script = "import numpy; print(numpy.arange(6).reshape(2, 3).sum(axis=0).tolist())"
    code, out = run_to_completion(engine, unique_name("np"), tag, script, session_labels)

    assert code == 0, out
    assert out.strip() == "[3, 5, 7]"
