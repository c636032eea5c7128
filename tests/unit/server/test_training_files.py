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


def split(hyperparameters: dict[str, str]) -> ScriptMode:
    """Script mode split with the server's own input resolver."""
    resolver = InputResolver(LocalArtifactStore(Path("/nonexistent-artifacts")), _no_jobs)
    return split_script_mode(hyperparameters, lambda text, field: resolver.data(text, field).path)


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
    assert script.host_code_dir == code


def test_sdk_style_json_quoted_values_are_accepted(code: Path) -> None:
    script = split(
        {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(str(code)),
        }
    )
    assert script.program == "train.py"
    assert script.host_code_dir == code


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


def test_mounts_put_channels_and_code_read_only(tmp_path: Path, code: Path) -> None:
    layout = JobLayout(tmp_path, "job")
    script = split({"sagemaker_program": "train.py", "sagemaker_submit_directory": code.as_uri()})
    mounts = {m.target: m for m in layout.mounts("algo-1", {"train": tmp_path}, script)}
    assert mounts["/opt/ml/input/data/train"].read_only
    assert mounts[CODE_DIR].read_only
    assert not mounts["/opt/ml/model"].read_only


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
