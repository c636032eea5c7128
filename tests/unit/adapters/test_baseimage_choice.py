"""Which base image ensure_base_image hands out, and when it pays for debootstrap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.adapters import baseimage, rootfs
from dockyard.adapters.baseimage import BASE_REF, cached_tarball, ensure_base_image
from dockyard.errors import SetupError
from dockyard.ports.engine import ContainerSpec, ContainerState, ImageInfo
from dockyard.settings import Settings

pytestmark = pytest.mark.unit


class FakeEngine:
    """Just enough of an engine: images by ref, pulls that may work, one-shot containers."""

    kind = "fake"

    def __init__(self, images: set[str] = frozenset(), pullable: set[str] = frozenset()):
        self.images = set(images)
        self.pullable = set(pullable)
        self.imports: list[str] = []
        self.check_exit = 0

    def image(self, ref: str) -> ImageInfo | None:
        return (
            ImageInfo(id=f"sha256:{ref}", tags=[ref], size_bytes=1, labels={})
            if (ref in self.images)
            else None
        )

    def pull(self, ref: str) -> bool:
        if ref in self.pullable:
            self.images.add(ref)
        return ref in self.pullable

    def import_rootfs(self, tar_path: str, ref: str, changes: list[str]) -> None:
        assert Path(tar_path).is_file()
        self.imports.append(ref)
        self.images.add(ref)

    def tag(self, source: str, target: str) -> None:
        self.images.add(target)

    def run(self, spec: ContainerSpec) -> ContainerState:
        return ContainerState(id="c1", name=spec.name, image=spec.image, status="exited", labels={})

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        return self.check_exit

    def logs(self, container_id: str, follow: bool = False) -> Iterator[bytes]:
        yield b"3.11.2\n"

    def remove(self, container_id: str) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, base_image="python:3.11-slim")


@pytest.fixture
def debootstraps(monkeypatch) -> list[Path]:
    """Records debootstrap runs instead of running them (writes a dummy tarball)."""
    runs: list[Path] = []

    def fake_build(tarball: Path, progress) -> float:
        runs.append(tarball)
        tarball.parent.mkdir(parents=True, exist_ok=True)
        tarball.write_bytes(b"tar")
        return 0.0

    monkeypatch.setattr(rootfs, "build_rootfs_tarball", fake_build)
    return runs


def test_the_configured_image_is_used_when_present(settings, debootstraps):
    engine = FakeEngine(images={"python:3.11-slim"})

    assert ensure_base_image(engine, settings) == "python:3.11-slim"
    assert debootstraps == []


def test_the_configured_image_is_pulled_when_it_can_be(settings, debootstraps):
    engine = FakeEngine(pullable={"python:3.11-slim"})

    assert ensure_base_image(engine, settings) == "python:3.11-slim"


def test_an_existing_dockyard_base_is_returned_at_once(settings, debootstraps):
    engine = FakeEngine(images={BASE_REF})

    assert ensure_base_image(engine, settings) == BASE_REF
    assert engine.imports == [] and debootstraps == []


def test_a_cached_rootfs_is_imported_without_debootstrap(settings, debootstraps):
    tarball = cached_tarball(settings)
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(b"tar")
    engine = FakeEngine()

    assert ensure_base_image(engine, settings) == BASE_REF
    assert debootstraps == []
    assert engine.imports == [baseimage.CANDIDATE_REF]


def test_nothing_available_runs_debootstrap_once_then_caches(settings, debootstraps):
    engine = FakeEngine()

    ensure_base_image(engine, settings)
    engine.images.clear()  # as after `docker system prune -a`
    ensure_base_image(engine, settings)

    assert debootstraps == [cached_tarball(settings)]
    assert len(engine.imports) == 2


def test_rebuild_runs_debootstrap_again(settings, debootstraps):
    engine = FakeEngine(images={BASE_REF})

    ensure_base_image(engine, settings, rebuild=True)

    assert debootstraps == [cached_tarball(settings)]


def test_an_image_that_fails_its_check_never_gets_the_real_name(settings, debootstraps):
    engine = FakeEngine()
    engine.check_exit = 1

    with pytest.raises(SetupError):
        ensure_base_image(engine, settings)

    assert BASE_REF not in engine.images


def test_the_cache_key_changes_with_the_package_list(settings, monkeypatch):
    before = cached_tarball(settings)
    monkeypatch.setattr(rootfs, "INCLUDE", (*rootfs.INCLUDE, "curl"))

    assert cached_tarball(settings) != before
