"""One resolver for every input a request names: paths, file://, s3:// and training jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.artifacts.local import LocalArtifactStore, parse_uri
from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.ports.artifacts import ArtifactUri
from dockyard.server.inputs import (
    ACCEPTED_FORMS,
    DATA_FORMS,
    InputResolver,
    LocalPath,
    ResolvedInput,
    S3Location,
    TrainingJobModel,
    parse_input,
)

pytestmark = pytest.mark.unit

FIELD = "ModelDataUrl"
MODEL_URI = "s3://models/jobs/done/output/model.tar.gz"


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.put_bytes(parse_uri(MODEL_URI), b"model")
    store.put_bytes(parse_uri("s3://data/train/part-0.csv"), b"1,2\n")
    return store


def job_artifact(name: str) -> str:
    """Training jobs as the server knows them: one completed, one still running."""
    if name == "done":
        return MODEL_URI
    if name == "lost":
        return "s3://models/jobs/lost/output/model.tar.gz"  # completed, artifact deleted
    if name == "running":
        raise Conflict(f"training job {name!r} is InProgress", resource=f"training-job/{name}")
    raise NotFound(f"no training job {name!r}", resource=f"training-job/{name}")


@pytest.fixture
def resolver(store: LocalArtifactStore) -> InputResolver:
    return InputResolver(store, job_artifact)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "my model" / "model.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"model")
    return path


# --- parsing (no I/O) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("/srv/model.tar.gz", LocalPath(Path("/srv/model.tar.gz"))),
        ("file:///srv/model.tar.gz", LocalPath(Path("/srv/model.tar.gz"))),
        ("file:///srv/my%20model", LocalPath(Path("/srv/my model"))),
        ("s3://models/iris/model.tar.gz", S3Location(ArtifactUri("models", "iris/model.tar.gz"))),
        ("s3://data", S3Location(ArtifactUri("data", ""))),
        ("training-job:iris-1", TrainingJobModel("iris-1")),
    ],
)
def test_each_form_parses_without_touching_the_disk(text: str, ref: object) -> None:
    assert parse_input(text, FIELD) == ref


def test_fields_that_take_data_refuse_training_jobs() -> None:
    with pytest.raises(SpecError) as raised:
        parse_input("training-job:iris", "S3Uri", jobs=False)

    assert raised.value.field == "S3Uri"
    assert raised.value.hint is not None
    assert "training-job" not in raised.value.hint
    assert DATA_FORMS in raised.value.hint


# --- every accepted form resolves -----------------------------------------------------


def test_absolute_path_resolves_to_itself(resolver: InputResolver, archive: Path) -> None:
    assert resolver.model_archive(str(archive), FIELD) == ResolvedInput(archive, archive.as_uri())


def test_file_uri_resolves_to_its_path(resolver: InputResolver, archive: Path) -> None:
    resolved = resolver.model_archive(archive.as_uri(), FIELD)

    assert resolved.path == archive
    assert resolved.uri == archive.as_uri()


def test_s3_uri_resolves_through_the_artifact_store(
    resolver: InputResolver, store: LocalArtifactStore
) -> None:
    resolved = resolver.model_archive(MODEL_URI, FIELD)

    assert resolved.path == store.local_path(parse_uri(MODEL_URI))
    assert resolved.uri == MODEL_URI


def test_training_job_resolves_to_its_model_artifact(resolver: InputResolver) -> None:
    resolved = resolver.model_archive("training-job:done", FIELD)

    assert resolved.path.read_bytes() == b"model"
    assert resolved.uri == MODEL_URI


def test_data_may_be_a_stored_object(resolver: InputResolver) -> None:
    resolved = resolver.data("s3://data/train/part-0.csv", "S3Uri")

    assert resolved.path.read_bytes() == b"1,2\n"
    assert resolved.uri == "s3://data/train/part-0.csv"


def test_data_under_an_s3_prefix_resolves_to_its_folder(resolver: InputResolver) -> None:
    resolved = resolver.data("s3://data/train", "S3Uri")

    assert resolved.path.is_dir()
    assert [p.name for p in resolved.path.iterdir()] == ["part-0.csv"]
    assert resolved.uri == "s3://data/train/"


def test_data_may_be_a_local_directory_or_file(resolver: InputResolver, archive: Path) -> None:
    assert resolver.data(str(archive.parent), "S3Uri").path == archive.parent
    assert resolver.data(archive.as_uri(), "S3Uri").path == archive


def test_directory_resolves_a_local_directory_and_a_prefix(
    resolver: InputResolver, archive: Path
) -> None:
    assert resolver.directory(str(archive.parent), "ModelDir").path == archive.parent
    assert resolver.directory("s3://data/train/", "ModelDir").path.is_dir()


# --- bad forms: a SpecError naming the field, a hint listing what it accepts -----------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "model.tar.gz",
        "./model.tar.gz",
        "~/model.tar.gz",
        "file://model.tar.gz",
        "http://example.com/model.tar.gz",
        "https://models.s3.amazonaws.com/model.tar.gz",
        "s3:///no-bucket",
        "gs://models/model.tar.gz",
        "training_job:iris",
    ],
)
def test_bad_forms_name_the_field_and_list_the_accepted_forms(
    resolver: InputResolver, text: str
) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive(text, FIELD)

    assert raised.value.field == FIELD
    assert raised.value.hint is not None
    assert ACCEPTED_FORMS in raised.value.hint


def test_relative_path_asks_for_an_absolute_one(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.data("data/train", "S3Uri")

    assert "relative" in raised.value.message
    assert raised.value.hint is not None
    assert "absolute path" in raised.value.hint
    assert "training-job" not in raised.value.hint


def test_training_job_without_a_name_is_refused(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive("training-job:", FIELD)

    assert raised.value.field == FIELD
    assert raised.value.hint is not None
    assert "training-job:NAME" in raised.value.hint


def test_invalid_bucket_names_the_field(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive("s3://Models/model.tar.gz", FIELD)

    assert raised.value.field == FIELD


# --- what the form names must be there, and be the right kind --------------------------


def test_missing_s3_object_is_a_spec_error(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive("s3://models/none/model.tar.gz", FIELD)

    assert raised.value.field == FIELD
    assert "s3://models/none/model.tar.gz" in raised.value.message


def test_missing_local_path_is_a_spec_error(resolver: InputResolver, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.data(str(tmp_path / "gone"), "S3Uri")

    assert raised.value.field == "S3Uri"


def test_directory_is_not_a_model_archive(resolver: InputResolver, archive: Path) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive(str(archive.parent), FIELD)

    assert raised.value.field == FIELD
    assert "directory" in raised.value.message


def test_s3_prefix_is_not_a_model_archive(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive("s3://models/jobs/done/output", FIELD)

    assert "folder" in raised.value.message


def test_file_is_not_a_directory(resolver: InputResolver, archive: Path) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.directory(str(archive), "ModelDir")

    assert raised.value.field == "ModelDir"
    assert "file" in raised.value.message


def test_s3_object_is_not_a_directory(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.directory("s3://data/train/part-0.csv", "ModelDir")

    assert raised.value.field == "ModelDir"


# --- training jobs ------------------------------------------------------------------


def test_training_job_not_completed_propagates_its_conflict(resolver: InputResolver) -> None:
    with pytest.raises(Conflict):
        resolver.model_archive("training-job:running", FIELD)


def test_unknown_training_job_propagates_not_found(resolver: InputResolver) -> None:
    with pytest.raises(NotFound):
        resolver.model_archive("training-job:nobody", FIELD)


def test_training_job_whose_artifact_is_gone_names_the_job(resolver: InputResolver) -> None:
    with pytest.raises(SpecError) as raised:
        resolver.model_archive("training-job:lost", FIELD)

    assert raised.value.field == FIELD
    assert "'lost'" in raised.value.message
