"""The local artifact store (S3 semantics on a directory) and model tarballs."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.adapters.artifacts.local import (
    LocalArtifactStore,
    extract_model_tarball,
    make_model_tarball,
    parse_uri,
)
from dockyard.errors import NotFound, SpecError
from dockyard.ports.artifacts import ArtifactUri

pytestmark = pytest.mark.unit


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def a_file(tmp_path: Path, content: bytes = b"data", name: str = "src.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- URIs -----------------------------------------------------------------------------


def test_uri_splits_into_bucket_and_key():
    assert parse_uri("s3://models/iris/model.tar.gz") == ArtifactUri("models", "iris/model.tar.gz")


def test_uri_may_name_a_prefix():
    assert parse_uri("s3://models/jobs/").key == "jobs/"
    assert parse_uri("s3://models").key == ""


@pytest.mark.parametrize(
    "text",
    [
        "http://models/x",
        "models/x",
        "s3://Models/x",
        "s3://ab/x",
        "s3://192.168.0.1/x",
        "s3://models/../etc/passwd",
        "s3://models/a/./b",
        "s3://models/a//b",
        "s3://models/a\\b",
        "s3://models/a\x00b",
    ],
)
def test_bad_uris_are_refused_naming_the_field(text: str):
    with pytest.raises(SpecError) as raised:
        parse_uri(text, field="ModelDataUrl")

    assert raised.value.field == "ModelDataUrl"


# --- objects --------------------------------------------------------------------------


def test_stored_file_is_laid_out_as_bucket_slash_key(store, tmp_path):
    uri = parse_uri("s3://models/iris/model.tar.gz")

    store.put_file(uri, a_file(tmp_path))

    assert store.local_path(uri) == store.root / "models" / "iris" / "model.tar.gz"
    assert store.local_path(uri).read_bytes() == b"data"


def test_put_replaces_the_object_and_leaves_no_temporary_files(store, tmp_path):
    uri = parse_uri("s3://models/m")
    store.put_file(uri, a_file(tmp_path, b"one"))

    store.put_file(uri, a_file(tmp_path, b"two"))

    assert store.local_path(uri).read_bytes() == b"two"
    leftovers = [p for p in store.root.rglob("*") if p.is_file() and p.name != "m"]
    assert leftovers == []


def test_stored_objects_are_readable_by_any_uid(store):
    uri = parse_uri("s3://models/m")
    store.put_bytes(uri, b"x")

    assert stat.S_IMODE(store.local_path(uri).stat().st_mode) == 0o644


def test_missing_object_is_not_found(store):
    with pytest.raises(NotFound) as raised:
        store.local_path(parse_uri("s3://models/none"))

    assert raised.value.resource == "s3://models/none"


def test_a_prefix_is_not_an_object(store, tmp_path):
    with pytest.raises(SpecError):
        store.put_file(parse_uri("s3://models/dir/"), a_file(tmp_path))


def test_exists_answers_for_objects_and_prefixes(store):
    store.put_bytes(parse_uri("s3://models/jobs/a/model.tar.gz"), b"x")

    assert store.exists(parse_uri("s3://models/jobs/a/model.tar.gz"))
    assert store.exists(parse_uri("s3://models/jobs/"))
    assert not store.exists(parse_uri("s3://models/jobs/b/model.tar.gz"))
    assert not store.exists(parse_uri("s3://models/other/"))


def test_delete_prefix_deletes_by_string_prefix_like_s3(store):
    for key in ("a/b/1", "a/bc", "a/c"):
        store.put_bytes(parse_uri(f"s3://bkt/{key}"), b"x")

    store.delete_prefix(parse_uri("s3://bkt/a/b"))

    assert [u.key for u in store.iter_keys(parse_uri("s3://bkt/"))] == ["a/c"]


def test_delete_prefix_with_trailing_slash_deletes_the_folder(store):
    store.put_bytes(parse_uri("s3://bkt/jobs/x/out"), b"x")
    store.put_bytes(parse_uri("s3://bkt/jobsx"), b"x")

    store.delete_prefix(parse_uri("s3://bkt/jobs/"))

    assert [u.key for u in store.iter_keys(parse_uri("s3://bkt/"))] == ["jobsx"]


def test_symlink_out_of_the_bucket_is_refused(store, tmp_path):
    (store.root / "bkt").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "bkt" / "link").symlink_to(outside)

    with pytest.raises(SpecError):
        store.put_bytes(ArtifactUri("bkt", "link/x"), b"x")
    assert not (outside / "x").exists()


# --- model tarballs ---------------------------------------------------------------------


def model_dir(tmp_path: Path) -> Path:
    src = tmp_path / "model"
    (src / "code").mkdir(parents=True)
    (src / "model.joblib").write_bytes(b"weights")
    (src / "code" / "inference.py").write_text("def model_fn(d): ...\n")
    (src / "model.joblib").chmod(0o600)
    return src


def test_tarball_holds_paths_relative_to_the_model_dir(tmp_path):
    tar = make_model_tarball(model_dir(tmp_path), tmp_path / "out" / "model.tar.gz")

    with tarfile.open(tar) as archive:
        names = sorted(m.name for m in archive.getmembers())

    assert names == ["code", "code/inference.py", "model.joblib"]


def test_tarball_round_trips_and_unpacks_readable_by_anyone(tmp_path):
    tar = make_model_tarball(model_dir(tmp_path), tmp_path / "model.tar.gz")

    files = extract_model_tarball(tar, tmp_path / "unpacked")

    assert sorted(files) == ["code/inference.py", "model.joblib"]
    unpacked = tmp_path / "unpacked" / "model.joblib"
    assert unpacked.read_bytes() == b"weights"
    assert stat.S_IMODE(unpacked.stat().st_mode) == 0o644


def archive_with(tmp_path: Path, *members: tarfile.TarInfo) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            data = b"x" if member.isfile() else None
            if data is not None:
                member.size = len(data)
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


@pytest.mark.parametrize("name", ["/etc/cron.d/x", "../escape", "a/../../escape"])
def test_entries_outside_the_destination_are_refused(tmp_path, name):
    tar = archive_with(tmp_path, tarfile.TarInfo(name))

    with pytest.raises(SpecError):
        extract_model_tarball(tar, tmp_path / "dest")
    assert not (tmp_path / "escape").exists()


def test_symlink_leaving_the_destination_is_refused(tmp_path):
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc"
    tar = archive_with(tmp_path, link)

    with pytest.raises(SpecError):
        extract_model_tarball(tar, tmp_path / "dest")


def test_writing_through_an_earlier_symlink_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dest").mkdir()
    os.symlink(outside, tmp_path / "dest" / "evil")
    tar = archive_with(tmp_path, tarfile.TarInfo("evil/file"))

    with pytest.raises(SpecError):
        extract_model_tarball(tar, tmp_path / "dest")
    assert not (outside / "file").exists()


def test_device_entries_are_refused(tmp_path):
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    tar = archive_with(tmp_path, device)

    with pytest.raises(SpecError):
        extract_model_tarball(tar, tmp_path / "dest")


def test_a_file_that_is_not_a_tarball_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as raised:
        extract_model_tarball(a_file(tmp_path, b"not a tar"), tmp_path / "d", field="model_data")

    assert raised.value.field == "model_data"
