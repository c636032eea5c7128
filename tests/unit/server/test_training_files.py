"""What a training host sees on disk, decided before any container starts."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.control.training_contract import TrainingHostConfig
from dockyard.errors import SpecError
from dockyard.records.training import ScriptMode
from dockyard.server.inputs import InputResolver
from dockyard.server.training_files import CODE_DIR, JobLayout, split_script_mode

pytestmark = pytest.mark.unit


def _no_jobs(name: str) -> str:
    raise AssertionError(f"no training job should be looked up ({name})")


def split(hyperparameters: dict[str, str], artifacts: Path | None = None) -> ScriptMode:
    """Script mode split with the server's own input resolver."""
    store = LocalArtifactStore(artifacts or Path("/nonexistent-artifacts"))
    resolver = InputResolver(store, _no_jobs)
    return split_script_mode(hyperparameters, lambda text, field: resolver.data(text, field).path)


def sourcedir(code: Path, dest: Path) -> Path:
    """``sourcedir.tar.gz`` as the SageMaker SDK packs it: the files at the top."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as archive:
        for path in sorted(code.rglob("*")):
            archive.add(path, arcname=path.relative_to(code).as_posix())
    return dest


@pytest.fixture
def code(tmp_path: Path) -> Path:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "train.py").write_text("print('hi')\n")
    return directory


def test_script_mode_settings_are_split_from_user_hyperparameters(code: Path) -> None:
    script = split(
        {"C": "1.0", "sagemaker_program": "train.py", "sagemaker_submit_directory": code.as_uri()}
    )
    assert script.user_hyperparameters == {"C": "1.0"}
    assert script.program == "train.py"
    assert script.container_submit_dir == CODE_DIR
    assert script.code_source == code


def test_sdk_style_json_quoted_values_are_accepted(code: Path) -> None:
    script = split(
        {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(str(code)),
        }
    )
    assert script.program == "train.py"
    assert script.code_source == code


def test_missing_entry_point_names_the_hyperparameter(code: Path) -> None:
    with pytest.raises(SpecError) as raised:
        split({"sagemaker_program": "nope.py", "sagemaker_submit_directory": code.as_uri()})
    assert raised.value.field == "HyperParameters.sagemaker_program"


def test_missing_source_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        split({"sagemaker_submit_directory": (tmp_path / "gone").as_uri()})
    assert raised.value.field == "HyperParameters.sagemaker_submit_directory"


def test_host_directories_hold_the_config_files_and_are_writable(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path, "job")
    layout.prepare_host(TrainingHostConfig("algo-2", ("algo-1", "algo-2"), "local", {"a": "1"}))
    config = layout.host_dir("algo-2") / "input" / "config"
    resource = json.loads((config / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-2"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"a": "1"}
    assert (layout.host_dir("algo-2") / "model").stat().st_mode & 0o777 == 0o777


def test_mounts_are_the_host_s_own_writable_directories(tmp_path: Path, code: Path) -> None:
    layout = JobLayout(tmp_path / "jobs", "job")
    script = split({"sagemaker_program": "train.py", "sagemaker_submit_directory": code.as_uri()})
    mounts = {m.target: m for m in layout.mounts("algo-1", script, "/opt/ml/ckpt")}
    assert set(mounts) == {
        "/opt/ml/input",
        "/opt/ml/model",
        "/opt/ml/output",
        "/opt/ml/ckpt",
        CODE_DIR,
    }
    assert not any(m.read_only for m in mounts.values())
    host = layout.host_dir("algo-1")
    assert all(Path(m.source).is_relative_to(host) for m in mounts.values())


def test_without_submitted_code_the_image_s_own_code_directory_stays(tmp_path: Path) -> None:
    script = split({"sagemaker_program": "train.py"})
    targets = {m.target for m in JobLayout(tmp_path, "job").mounts("algo-1", script, "/c")}
    assert CODE_DIR not in targets


def test_a_local_sourcedir_archive_is_the_code_source(tmp_path: Path, code: Path) -> None:
    archive = sourcedir(code, tmp_path / "up" / "sourcedir.tar.gz")
    for given in (str(archive), archive.as_uri(), json.dumps(archive.as_uri())):
        script = split({"sagemaker_program": '"train.py"', "sagemaker_submit_directory": given})
        assert (script.code_source, script.container_submit_dir) == (archive, CODE_DIR)


def test_an_s3_sourcedir_is_read_from_the_artifact_store(tmp_path: Path, code: Path) -> None:
    uri = "s3://sagemaker-bucket/job-1/source/sourcedir.tar.gz"
    stored = tmp_path / "artifacts" / "sagemaker-bucket" / "job-1" / "source" / "sourcedir.tar.gz"
    sourcedir(code, stored)
    script = split(
        {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(uri)},
        artifacts=tmp_path / "artifacts",
    )
    assert script.code_source == stored
    assert script.container_submit_dir == uri  # passed on as SageMaker does


def test_an_s3_sourcedir_missing_from_the_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        split(
            {"sagemaker_submit_directory": "s3://sagemaker-bucket/nope/sourcedir.tar.gz"},
            artifacts=tmp_path,
        )
    assert raised.value.field == "HyperParameters.sagemaker_submit_directory"


def test_an_archive_without_the_entry_point_is_refused(tmp_path: Path, code: Path) -> None:
    archive = sourcedir(code, tmp_path / "sourcedir.tar.gz")
    with pytest.raises(SpecError) as raised:
        split({"sagemaker_program": "other.py", "sagemaker_submit_directory": str(archive)})
    assert raised.value.field == "HyperParameters.sagemaker_program"


def test_staged_code_is_a_writable_copy(tmp_path: Path, code: Path) -> None:
    (code / "run.sh").write_text("#!/bin/sh\n")
    archive = sourcedir(code, tmp_path / "sourcedir.tar.gz")
    layout = JobLayout(tmp_path / "jobs", "job")
    for source in (code, archive):
        script = split({"sagemaker_program": "run.sh", "sagemaker_submit_directory": str(source)})
        layout.stage_inputs("algo-1", ("algo-1",), script, {})
        staged = layout.code_dir("algo-1")
        assert sorted(p.name for p in staged.iterdir()) == ["run.sh", "train.py"]
        assert staged.stat().st_mode & 0o777 == 0o777
        (staged / "train.py").write_text("changed")  # writable, and only the copy changes
        assert (code / "train.py").read_text() == "print('hi')\n"


def test_channels_are_copied_whole_or_sharded_by_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("a.csv", "b.csv", "c.csv", "sub/d.csv"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(name)
    layout = JobLayout(tmp_path / "jobs", "job")
    script = split({})
    hosts = ("algo-1", "algo-2")
    channels = {"all": (data, "FullyReplicated"), "part": (data, "ShardedByS3Key")}

    def files(host: str, channel: str) -> list[str]:
        root = layout.channel_dir(host, channel)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    for host in hosts:
        layout.stage_inputs(host, hosts, script, channels)
    assert (
        files("algo-1", "all") == files("algo-2", "all") == ["a.csv", "b.csv", "c.csv", "sub/d.csv"]
    )
    assert files("algo-1", "part") == ["a.csv", "c.csv"]
    assert files("algo-2", "part") == ["b.csv", "sub/d.csv"]
    layout.discard_inputs(hosts)
    assert not layout.channel_dir("algo-1", "all").exists()
    assert (data / "a.csv").is_file()


def test_a_channel_that_is_one_object_holds_that_file(tmp_path: Path) -> None:
    single = tmp_path / "train.csv"
    single.write_text("1,2\n")
    layout = JobLayout(tmp_path / "jobs", "job")
    layout.stage_inputs("algo-1", ("algo-1",), split({}), {"train": (single, "FullyReplicated")})
    assert (layout.channel_dir("algo-1", "train") / "train.csv").read_text() == "1,2\n"


def test_upload_packs_the_model_at_sagemakers_key(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "jobs", "job")
    layout.prepare_host(TrainingHostConfig("algo-1", ("algo-1",), "local"))
    (layout.host_dir("algo-1") / "model" / "model.joblib").write_bytes(b"weights")
    store = LocalArtifactStore(tmp_path / "artifacts")
    model_uri, output_uri = layout.upload(["algo-1"], "s3://bucket/prefix", "job", store)
    assert str(model_uri) == "s3://bucket/prefix/job/output/model.tar.gz"
    assert output_uri is None  # nothing in output/data
    with tarfile.open(store.local_path(model_uri)) as archive:
        assert "model.joblib" in archive.getnames()


def test_a_shell_entry_point_is_made_executable_when_staged(tmp_path: Path, code: Path) -> None:
    (code / "run.sh").write_text("#!/bin/sh\n")
    (code / "run.sh").chmod(0o644)
    layout = JobLayout(tmp_path / "jobs", "job")
    script = split({"sagemaker_program": "run.sh", "sagemaker_submit_directory": str(code)})
    layout.stage_inputs("algo-1", ("algo-1",), script, {})
    assert (layout.code_dir("algo-1") / "run.sh").stat().st_mode & 0o777 == 0o777
    assert (layout.code_dir("algo-1") / "train.py").stat().st_mode & 0o111 == 0
