"""The training runner, run as a process against a host directory standing in for /opt/ml.

Each test lays out a job with the platform's own renderer
(``dockyard.control.training_contract``), starts the runner in a subprocess with
``DOCKYARD_ML_ROOT`` pointing at it, and checks what the script saw and what the runner
reported (exit status, ``output/failure``, ``output/success``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from dockyard.control.training_contract import (
    ChannelInfo,
    TrainingHostConfig,
    hyperparameters_json,
    render_config_files,
)

pytestmark = pytest.mark.unit

RUNNER = "import sys; from dockyard.runtime.train.main import main; sys.exit(main(['train']))"
WAIT_S = 60.0

DUMP_SCRIPT = """
import json, os, sys
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "seen.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
               "env": {k: v for k, v in os.environ.items()
                       if k.startswith(("SM_", "PYTHON", "CURRENT_HOST", "SAGEMAKER_"))}}, f)
"""

# Every SM_* variable the toolkit exports for a job with channels "train" and "test".
EXPECTED_SM_VARIABLES = {
    "SM_HOSTS", "SM_NETWORK_INTERFACE_NAME", "SM_HPS", "SM_USER_ENTRY_POINT",
    "SM_FRAMEWORK_PARAMS", "SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG",
    "SM_OUTPUT_DATA_DIR", "SM_CHANNELS", "SM_CURRENT_HOST", "SM_CURRENT_INSTANCE_TYPE",
    "SM_CURRENT_INSTANCE_GROUP", "SM_CURRENT_INSTANCE_GROUP_HOSTS", "SM_INSTANCE_GROUPS",
    "SM_INSTANCE_GROUPS_DICT", "SM_DISTRIBUTION_INSTANCE_GROUPS", "SM_IS_HETERO",
    "SM_MODULE_NAME", "SM_LOG_LEVEL", "SM_FRAMEWORK_MODULE", "SM_INPUT_DIR",
    "SM_INPUT_CONFIG_DIR", "SM_OUTPUT_DIR", "SM_NUM_CPUS", "SM_NUM_GPUS", "SM_NUM_NEURONS",
    "SM_MODEL_DIR", "SM_MODULE_DIR", "SM_TRAINING_ENV", "SM_USER_ARGS",
    "SM_OUTPUT_INTERMEDIATE_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST",
}  # fmt: skip

# The keys of the toolkit's Environment, which SM_TRAINING_ENV serialises.
TRAINING_ENV_KEYS = {
    "additional_framework_parameters", "channel_input_dirs", "current_host",
    "current_instance_group", "current_instance_group_hosts", "current_instance_type",
    "distribution_hosts", "distribution_instance_groups", "framework_module", "hosts",
    "hyperparameters", "input_config_dir", "input_data_config", "input_dir",
    "instance_groups", "instance_groups_dict", "is_hetero", "is_master",
    "is_modelparallel_enabled", "is_smddpmprun_installed", "is_smddprun_installed",
    "job_name", "log_level", "master_hostname", "model_dir", "module_dir", "module_name",
    "network_interface_name", "num_cpus", "num_gpus", "num_neurons", "output_data_dir",
    "output_dir", "output_intermediate_dir", "resource_config", "topology",
    "user_entry_point",
}  # fmt: skip


# --- fixtures ------------------------------------------------------------------------


def lay_out_job(
    root: Path,
    *,
    hps: Mapping[str, str] | None = None,
    program: str | None = "train.py",
    submit_dir: str | None = None,
    channels: Mapping[str, ChannelInfo] | None = None,
) -> Path:
    """Write the job's config files and channel directories under ``root``."""
    if channels is None:
        channels = {"train": ChannelInfo(content_type="text/csv"), "test": ChannelInfo()}
    host = TrainingHostConfig(
        current_host="algo-1",
        hosts=("algo-1",),
        instance_type="ml.m5.large",
        hyperparameters=hyperparameters_json(hps or {}, program, submit_dir),
        channels=channels,
    )
    config_dir = root / "input" / "config"
    config_dir.mkdir(parents=True)
    for name, text in render_config_files(host).items():
        (config_dir / name).write_text(text)
    for name in channels:
        (root / "input" / "data" / name).mkdir(parents=True)
    return root


def write_source(directory: Path, files: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def start_runner(root: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SAGEMAKER_PROGRAM"}
    environ.update({"DOCKYARD_ML_ROOT": str(root), **(env or {})})
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_runner(
    root: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = start_runner(root, env)
    out, err = proc.communicate(timeout=WAIT_S)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_job(
    tmp_path: Path, script: str, hps: Mapping[str, str] | None = None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Lay out a job whose code is ``script`` as train.py, and run it to completion."""
    src = write_source(tmp_path / "src", {"train.py": script})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src), hps=hps)
    return root, run_runner(root)


def seen(root: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads((root / "output" / "data" / "seen.json").read_text())
    return result


def wait_for_path(path: Path, proc: subprocess.Popen[str]) -> None:
    """Poll until ``path`` exists, failing early if the runner ends first."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"runner ended ({proc.returncode}) before {path.name}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.02)


# --- arguments and environment --------------------------------------------------------


HPS = {
    "C": "1.0",
    "max_iter": "100",
    "fit_intercept": "true",
    "layers": "[64, 32]",
    "solver": '"lbfgs"',
    "penalty": "l2",
    "opts": '{"b": 2, "a": "x"}',
    "sagemaker_job_name": '"job-1"',
    "sagemaker_region": '"us-west-2"',
    "sagemaker_mpi_enabled": "false",
}


def test_hyperparameters_become_toolkit_style_arguments(tmp_path: Path) -> None:
    """Sorted keys; ``-C`` for a one-letter name; values JSON-decoded then ``str()``-ed."""
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    assert seen(root)["argv"] == [
        "-C", "1.0",
        "--fit_intercept", "True",
        "--layers", "[64, 32]",
        "--max_iter", "100",
        "--opts", "a=x,b=2",
        "--penalty", "l2",
        "--solver", "lbfgs",
    ]  # fmt: skip


def test_script_runs_in_the_code_directory(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert seen(root)["cwd"] == str(root / "code")


def test_every_sm_variable_is_exported(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    hp_vars = {f"SM_HP_{key.upper()}" for key in HPS if not key.startswith("sagemaker_")}
    assert EXPECTED_SM_VARIABLES | hp_vars <= set(env)
    assert not {name for name in env if name.startswith("SM_HP_SAGEMAKER")}


def test_sm_variables_use_the_toolkit_formats(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    ml = str(root)
    assert env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert env["SM_CURRENT_INSTANCE_GROUP"] == "homogeneousCluster"
    assert env["SM_CHANNELS"] == '["test","train"]'
    assert env["SM_CHANNEL_TRAIN"] == f"{ml}/input/data/train"
    assert env["SM_MODEL_DIR"] == f"{ml}/model"
    assert env["SM_OUTPUT_DATA_DIR"] == f"{ml}/output/data"
    assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == f"{ml}/output/intermediate"
    assert env["SM_INPUT_CONFIG_DIR"] == f"{ml}/input/config"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_MODULE_DIR"] == str(tmp_path / "src")
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["SM_IS_HETERO"] == "false"
    assert env["SM_FRAMEWORK_MODULE"] == ""
    assert env["SM_NUM_CPUS"] == str(os.cpu_count())
    assert env["SM_HP_C"] == "1.0"
    assert env["SM_HP_PENALTY"] == "l2"
    assert env["SM_HP_SOLVER"] == "lbfgs"
    assert env["SM_HP_FIT_INTERCEPT"] == "true"
    assert env["SM_HP_LAYERS"] == "[64,32]"
    assert env["SM_HP_OPTS"] == '{"a":"x","b":2}'
    assert env["SM_FRAMEWORK_PARAMS"] == '{"sagemaker_mpi_enabled":false}'
    assert json.loads(str(env["SM_USER_ARGS"]))[:2] == ["-C", "1.0"]
    assert json.loads(str(env["SM_HPS"]))["layers"] == [64, 32]
    assert json.loads(str(env["SM_INPUT_DATA_CONFIG"]))["train"]["ContentType"] == "text/csv"
    assert json.loads(str(env["SM_RESOURCE_CONFIG"]))["current_group_name"] == "homogeneousCluster"


def test_json_variables_are_compact_and_sorted(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    for name in ("SM_HPS", "SM_RESOURCE_CONFIG", "SM_INPUT_DATA_CONFIG", "SM_TRAINING_ENV"):
        value = str(env[name])
        assert value == json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))


def test_training_env_holds_every_toolkit_key(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    training_env = json.loads(str(env["SM_TRAINING_ENV"]))
    assert set(training_env) == TRAINING_ENV_KEYS
    assert training_env["hyperparameters"]["C"] == 1.0
    assert training_env["additional_framework_parameters"] == {"sagemaker_mpi_enabled": False}
    assert training_env["master_hostname"] == "algo-1"
    assert training_env["is_master"] is True
    assert training_env["is_modelparallel_enabled"] is None


def test_job_name_and_region_come_from_reserved_hyperparameters(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, DUMP_SCRIPT, hps=HPS)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    assert env["SAGEMAKER_JOB_NAME"] == "job-1"
    assert env["SAGEMAKER_REGION"] == "us-west-2"
    assert env["CURRENT_HOST"] == "algo-1"
    assert str(env["PYTHONPATH"]).split(":")[0] == str(root / "code")


# --- outcomes ----------------------------------------------------------------------------


def test_successful_script_exits_zero_and_writes_success(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, "print('fine')")
    assert result.returncode == 0, result.stderr
    assert "fine" in result.stdout
    assert (root / "output" / "success").exists()
    assert not (root / "output" / "failure").exists()


def test_model_written_by_script_is_in_the_model_dir(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.txt'), 'w').write('weights')\n"
    )
    root, result = run_job(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert (root / "model" / "model.txt").read_text() == "weights"


def test_raising_script_fails_with_the_exception_in_the_failure_file(tmp_path: Path) -> None:
    script = "def fit():\n    raise ValueError('C must be positive, got -1')\nfit()\n"
    root, result = run_job(tmp_path, script)
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("ExecuteUserScriptError:\nExitCode 1\nErrorMessage ")
    assert "ValueError: C must be positive, got -1" in failure
    assert 'Command "' in failure and "train.py" in failure
    assert "ValueError: C must be positive, got -1" in result.stderr  # streamed as well
    assert not (root / "output" / "success").exists()


def test_a_failing_script_makes_the_runner_exit_1_as_the_toolkit_does(tmp_path: Path) -> None:
    root, result = run_job(tmp_path, "import sys; sys.exit(7)")
    assert result.returncode == 1
    assert "ExitCode 7" in (root / "output" / "failure").read_text()


def test_failure_file_written_by_the_script_is_kept(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "out = os.path.join(os.path.dirname(os.environ['SM_OUTPUT_DATA_DIR']), 'failure')\n"
        "open(out, 'w').write('my own reason')\n"
        "sys.exit(2)\n"
    )
    root, result = run_job(tmp_path, script)
    assert result.returncode == 1
    assert (root / "output" / "failure").read_text() == "my own reason"


def test_output_is_streamed_while_the_script_runs(tmp_path: Path) -> None:
    """The script waits for a file the test creates only after reading the script's output."""
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "print('stdout-line')\n"
        "print('stderr-line', file=sys.stderr)\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.02)\n"
    )
    src = write_source(tmp_path / "src", {"train.py": script})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src))
    proc = start_runner(root)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == "stdout-line"
    assert any(proc.stderr.readline().strip() == "stderr-line" for _ in range(500))
    go.touch()
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0


# --- signals ---------------------------------------------------------------------------


def test_sigterm_reaches_the_script_and_its_exit_status_is_reported(tmp_path: Path) -> None:
    marker = tmp_path / "got-sigterm"
    started = tmp_path / "started"
    script = (
        "import signal, sys, time, pathlib\n"
        "def stop(signum, frame):\n"
        f"    pathlib.Path({str(marker)!r}).write_text(str(signum))\n"
        "    sys.exit(42)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "while True:\n"
        "    time.sleep(0.05)\n"
    )
    src = write_source(tmp_path / "src", {"train.py": script})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src))
    proc = start_runner(root)
    wait_for_path(started, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=WAIT_S)
    assert marker.read_text() == str(int(signal.SIGTERM))
    assert proc.returncode == 1
    assert "ExitCode 42" in (root / "output" / "failure").read_text()


def test_script_ended_by_sigterm_is_reported_as_128_plus_signal(tmp_path: Path) -> None:
    started = tmp_path / "started"
    script = (
        "import time, pathlib\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "while True:\n"
        "    time.sleep(0.05)\n"
    )
    src = write_source(tmp_path / "src", {"train.py": script})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src))
    proc = start_runner(root)
    wait_for_path(started, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert f"ExitCode {128 + signal.SIGTERM}" in failure and "SIGTERM" in failure


# --- where the code comes from -------------------------------------------------------------


def test_tar_gz_submit_directory_is_extracted_and_used(tmp_path: Path) -> None:
    helper = (
        "import json, os, sys\n"
        "def dump():\n"
        "    path = os.path.join(os.environ['SM_OUTPUT_DATA_DIR'], 'seen.json')\n"
        "    json.dump({'argv': sys.argv[1:]}, open(path, 'w'))\n"
    )
    src = write_source(
        tmp_path / "src", {"train.py": "import helper\nhelper.dump()\n", "helper.py": helper}
    )
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train.py", "helper.py"):
            tar.add(src / name, arcname=name)
    root = lay_out_job(tmp_path / "ml", submit_dir=str(archive), hps={"epochs": "2"})
    result = run_runner(root)
    assert result.returncode == 0, result.stderr
    assert (root / "code" / "helper.py").exists()
    assert seen(root)["argv"] == ["--epochs", "2"]


def test_file_uri_submit_directory_is_copied(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", {"train.py": DUMP_SCRIPT})
    root = lay_out_job(tmp_path / "ml", submit_dir=f"file://{src}")
    result = run_runner(root)
    assert result.returncode == 0, result.stderr
    assert (root / "code" / "train.py").exists()


def test_code_already_in_the_code_directory_is_used_without_submit_directory(
    tmp_path: Path,
) -> None:
    root = lay_out_job(tmp_path / "ml")
    write_source(root / "code", {"train.py": DUMP_SCRIPT})
    result = run_runner(root)
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    assert env["SM_MODULE_DIR"] == str(root / "code")


def test_s3_submit_directory_fails_clearly(tmp_path: Path) -> None:
    root = lay_out_job(tmp_path / "ml", submit_dir="s3://bucket/job/source/sourcedir.tar.gz")
    result = run_runner(root)
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert "remote sources are not supported" in failure
    assert "s3://bucket/job/source/sourcedir.tar.gz" in failure


def test_missing_program_fails_saying_how_to_set_it(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", {"train.py": DUMP_SCRIPT})
    root = lay_out_job(tmp_path / "ml", program=None, submit_dir=str(src))
    result = run_runner(root)
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("no entry point to run: set the hyperparameter sagemaker_program")
    assert "SAGEMAKER_PROGRAM" in failure
    assert "Traceback" not in failure


def test_program_from_the_image_environment_is_used(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", {"fit.py": DUMP_SCRIPT})
    root = lay_out_job(tmp_path / "ml", program=None, submit_dir=str(src))
    result = run_runner(root, env={"SAGEMAKER_PROGRAM": "fit.py"})
    assert result.returncode == 0, result.stderr
    env = seen(root)["env"]
    assert isinstance(env, dict)
    assert env["SM_USER_ENTRY_POINT"] == "fit.py"
    assert env["SM_MODULE_NAME"] == "fit"


def test_entry_point_missing_from_the_code_fails_clearly(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", {"other.py": ""})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src))
    result = run_runner(root)
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert "entry point 'train.py'" in failure
    assert "other.py" in failure


def test_shell_entry_point_gets_the_arguments(tmp_path: Path) -> None:
    script = 'echo "$@" > "$SM_OUTPUT_DATA_DIR/args.txt"\n'
    src = write_source(tmp_path / "src", {"train.sh": script})
    root = lay_out_job(tmp_path / "ml", program="train.sh", submit_dir=str(src),
                       hps={"lr": "0.1", "name": '"a b"'})  # fmt: skip
    result = run_runner(root)
    assert result.returncode == 0, result.stderr
    assert (root / "output" / "data" / "args.txt").read_text() == "--lr 0.1 --name a b\n"


def test_requirements_are_installed_first_and_a_bad_one_fails_the_job(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", {"train.py": DUMP_SCRIPT, "requirements.txt": "!!bad\n"})
    root = lay_out_job(tmp_path / "ml", submit_dir=str(src))
    result = run_runner(root)
    assert result.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("InstallRequirementsError:\nExitCode 1\n")
    assert "Invalid requirement" in failure
    assert not (root / "output" / "data" / "seen.json").exists()


def test_runner_help_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.runtime.train.main", "--help"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert result.returncode == 0
    assert "usage" in result.stdout
