"""The training runner's pure rules: hyperparameter decoding, argument and variable
formats, failure excerpts, peer-host waiting, code staging, cluster facts."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from dockyard.runtime.train import mapping, network, source
from dockyard.runtime.train.environment import Hardware, TrainingEnvironment
from dockyard.runtime.train.errors import ExecuteUserScriptError, JobConfigError
from dockyard.runtime.train.paths import MlPaths
from dockyard.runtime.train.process import error_excerpt

pytestmark = pytest.mark.unit


def test_hyperparameter_values_are_json_decoded_when_they_parse() -> None:
    raw = {"a": "1.0", "b": "abc", "c": '"quoted"', "d": "true", "e": "[1, 2]", "f": 5}
    assert mapping.decode_hyperparameters(raw) == {
        "a": 1.0,
        "b": "abc",
        "c": "quoted",
        "d": True,
        "e": [1, 2],
        "f": 5,
    }


def test_sagemaker_and_reserved_names_are_split_from_user_hyperparameters() -> None:
    platform, user = mapping.split_hyperparameters(
        {"sagemaker_program": "t.py", "_tuning_objective_metric": "m", "lr": 0.1}
    )
    assert user == {"lr": 0.1}
    assert set(platform) == {"sagemaker_program", "_tuning_objective_metric"}
    assert mapping.framework_parameters({**platform, "sagemaker_mpi_enabled": True}) == {
        "sagemaker_mpi_enabled": True
    }


def test_cmd_args_follow_the_toolkit_rules() -> None:
    args = mapping.to_cmd_args({"x": 1, "batch-size": None, "flag": False, "d": {"k": [1]}})
    assert args == ["--batch-size", "", "-d", "k=[1]", "--flag", "False", "-x", "1"]


def test_env_vars_pass_strings_raw_and_the_rest_as_compact_json() -> None:
    assert mapping.to_env_vars(
        {"a": "text", "b": None, "c": True, "d": {"z": 1, "y": [1, 2]}, "e": 2.5}
    ) == {
        "SM_A": "text",
        "SM_B": "",
        "SM_C": "true",
        "SM_D": '{"y":[1,2],"z":1}',
        "SM_E": "2.5",
    }


def test_error_excerpt_starts_at_the_first_error_line() -> None:
    stderr = (
        "loading data\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "    fit()\n"
        "KeyError: 'label'\n"
    )
    assert error_excerpt(stderr) == "KeyError: 'label'"


def test_error_excerpt_without_an_error_name_keeps_the_last_lines() -> None:
    stderr = "\n".join(f"line {i}" for i in range(50))
    excerpt = error_excerpt(stderr)
    assert excerpt.splitlines() == [f"line {i}" for i in range(30, 50)]


def test_failed_script_is_reported_in_the_toolkit_format() -> None:
    error = ExecuteUserScriptError(["python3", "train.py", "-C", "1"], -9, "", "OutOfMemory")
    assert str(error) == (
        "ExecuteUserScriptError:\n"
        "ExitCode 137\n"
        'ErrorMessage ""\n'
        'ExtraInfo "OutOfMemory"\n'
        'Command "python3 train.py -C 1"'
    )
    assert error.exit_code == 1  # the runner exits 1 after any client error


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_peer_hosts_are_waited_for_until_they_resolve() -> None:
    attempts: list[str] = []

    def resolve(host: str) -> str:
        attempts.append(host)
        if attempts.count(host) < 3:
            raise OSError("not yet")
        return "10.0.0.2"

    clock = FakeClock()
    network.wait_for_hosts(
        ["algo-1", "algo-2"], "algo-1", {}, resolve=resolve, clock=clock, sleep=clock.sleep
    )
    assert attempts == ["algo-2", "algo-2", "algo-2"]


def test_a_peer_that_never_resolves_fails_after_the_deadline() -> None:
    def resolve(host: str) -> str:
        raise OSError("unknown host")

    clock = FakeClock()
    with pytest.raises(JobConfigError, match="algo-2 did not resolve"):
        network.wait_for_hosts(
            ["algo-1", "algo-2"],
            "algo-1",
            {},
            timeout_s=60,
            resolve=resolve,
            clock=clock,
            sleep=clock.sleep,
        )


def test_studio_local_mode_skips_the_host_wait() -> None:
    def resolve(host: str) -> str:
        raise AssertionError("must not resolve")

    network.wait_for_hosts(["algo-2"], "algo-1", {"SM_STUDIO_LOCAL_MODE": "true"}, resolve=resolve)


def test_archive_escaping_the_code_directory_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(JobConfigError):
        source.stage_code(str(archive), str(tmp_path / "code"))
    assert not (tmp_path / "escaped.py").exists()


def test_non_empty_code_directory_is_left_alone(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "baked.py").write_text("")
    other = tmp_path / "src"
    other.mkdir()
    (other / "train.py").write_text("")
    assert source.stage_code(str(other), str(code)) is False
    assert sorted(p.name for p in code.iterdir()) == ["baked.py"]


def test_entry_point_types_follow_the_toolkit(tmp_path: Path) -> None:
    assert source.entry_point_type(str(tmp_path), "run.sh") is source.EntryPointType.COMMAND
    assert source.entry_point_type(str(tmp_path), "t.py") is source.EntryPointType.PYTHON_PROGRAM
    assert source.entry_point_type(str(tmp_path), "run") is source.EntryPointType.COMMAND
    (tmp_path / "setup.py").write_text("")
    assert source.entry_point_type(str(tmp_path), "t.py") is source.EntryPointType.PYTHON_PACKAGE


def _environment(
    tmp_path: Path, resource: dict[str, object], hps: dict[str, str]
) -> TrainingEnvironment:
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    (config / "inputdataconfig.json").write_text("{}")
    env = TrainingEnvironment.load(MlPaths(str(tmp_path)), {})
    return TrainingEnvironment(
        paths=env.paths,
        resource_config=env.resource_config,
        input_data_config=env.input_data_config,
        hyperparameters=env.hyperparameters,
        platform_hyperparameters=env.platform_hyperparameters,
        environ={},
        hardware=Hardware(2, 0, 0, False, False),
    )


def test_heterogeneous_cluster_facts(tmp_path: Path) -> None:
    resource = {
        "current_host": "algo-3",
        "hosts": ["algo-1", "algo-2", "algo-3"],
        "current_group_name": "workers",
        "instance_groups": [
            {"instance_group_name": "data", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
            {
                "instance_group_name": "workers",
                "instance_type": "ml.p3.2xlarge",
                "hosts": ["algo-3", "algo-2"],
            },
        ],
    }
    hps = {"sagemaker_distribution_instance_groups": '["workers"]'}
    facts = _environment(tmp_path, resource, hps).training_env()
    assert facts["is_hetero"] is True
    assert facts["current_instance_group_hosts"] == ["algo-3", "algo-2"]
    assert facts["distribution_hosts"] == ["algo-3", "algo-2"]
    assert facts["master_hostname"] == "algo-3"
    assert facts["is_master"] is True
    assert facts["current_instance_type"] == "local"
    assert facts["network_interface_name"] == "eth0"


def test_distribution_flag_puts_the_current_group_into_distribution(tmp_path: Path) -> None:
    resource = {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    facts = _environment(tmp_path, resource, {"sagemaker_mpi_enabled": "true"}).training_env()
    assert facts["distribution_instance_groups"] == ["homogeneousCluster"]
    assert facts["distribution_hosts"] == ["algo-1", "algo-2"]
    assert facts["is_master"] is False


def test_missing_resource_config_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(JobConfigError, match=r"resourceconfig\.json does not exist"):
        TrainingEnvironment.load(MlPaths(str(tmp_path)), {})
