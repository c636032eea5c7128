"""CheckpointConfig.S3Uri: restored into a host's directory, saved back when changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.errors import SpecError
from dockyard.server.training_checkpoints import CheckpointLocation

pytestmark = pytest.mark.unit


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("scheme", ["s3", "file"])
def test_saved_checkpoints_are_restored_into_a_new_host(
    tmp_path: Path, store: LocalArtifactStore, scheme: str
) -> None:
    uri = "s3://ckpt-bucket/run/a" if scheme == "s3" else (tmp_path / "kept").as_uri()
    location = CheckpointLocation(uri, store)
    host = tmp_path / "algo-1"
    write(host / "epoch-1.pt", "one")
    write(host / "nested" / "state.json", "{}")
    assert location.save([host]) == 2
    assert location.save([host]) == 0  # unchanged files are not copied again
    fresh = tmp_path / "next-job"
    assert CheckpointLocation(uri, store).restore(fresh) == 2
    assert (fresh / "epoch-1.pt").read_text() == "one"
    assert (fresh / "nested" / "state.json").read_text() == "{}"
    assert fresh.stat().st_mode & 0o777 == 0o777
    assert location.save([fresh]) == 0  # what was restored is not saved back


def test_a_changed_checkpoint_is_saved_again(tmp_path: Path, store: LocalArtifactStore) -> None:
    location = CheckpointLocation("s3://ckpt-bucket/run", store)
    checkpoint = write(tmp_path / "host" / "model.pt", "v1")
    location.save([tmp_path / "host"])
    checkpoint.write_text("v2-longer")
    assert location.save([tmp_path / "host"]) == 1
    restored = tmp_path / "back"
    location.restore(restored)
    assert (restored / "model.pt").read_text() == "v2-longer"


def test_with_several_hosts_the_last_source_wins(tmp_path: Path, store: LocalArtifactStore) -> None:
    location = CheckpointLocation("s3://ckpt-bucket/run", store)
    two = write(tmp_path / "algo-2" / "model.pt", "from algo-2").parent
    one = write(tmp_path / "algo-1" / "model.pt", "from algo-1").parent
    os.utime(one / "model.pt", (1, 1))  # older than algo-2's copy: still written over it
    location.save([two, one])
    restored = tmp_path / "back"
    location.restore(restored)
    assert (restored / "model.pt").read_text() == "from algo-1"


def test_nothing_stored_yet_restores_nothing(tmp_path: Path, store: LocalArtifactStore) -> None:
    assert CheckpointLocation("s3://ckpt-bucket/empty", store).restore(tmp_path / "d") == 0
    assert CheckpointLocation((tmp_path / "none").as_uri(), store).restore(tmp_path / "e") == 0


def test_a_bad_location_is_refused_naming_the_field(
    tmp_path: Path, store: LocalArtifactStore
) -> None:
    for bad in ("s3://No_Such_Bucket!/x", "ftp://host/x", write(tmp_path / "f", "").as_uri()):
        with pytest.raises(SpecError) as raised:
            CheckpointLocation(bad, store)
        assert raised.value.field == "CheckpointConfig.S3Uri"
