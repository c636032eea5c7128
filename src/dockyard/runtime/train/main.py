"""``train``: run one training host's share of a SageMaker-style training job.

Order of work, as in the training toolkit's script mode: read the config files, stage the
code (``sagemaker_submit_directory`` -> ``/opt/ml/code``), install its requirements, wait
until peer hosts resolve, then run ``sagemaker_program`` with the user hyperparameters as
arguments and the ``SM_*`` variables in its environment. Exit status: 0 after success
(``/opt/ml/output/success`` written); otherwise 1, as the training toolkit exits
after any failure of the script or of the job's set-up, with the reason in
``/opt/ml/output/failure`` (left alone if the script wrote one itself; the script's own
exit status is part of the reason, ``ExitCode N``).

Test hook (undocumented for users): ``DOCKYARD_ML_ROOT`` replaces ``/opt/ml``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback

from dockyard.runtime.train import network, source
from dockyard.runtime.train.environment import TrainingEnvironment
from dockyard.runtime.train.errors import (
    ExecuteUserScriptError,
    JobConfigError,
    TrainingError,
    describe_return_code,
)
from dockyard.runtime.train.mapping import JOB_NAME_PARAM, REGION_PARAM
from dockyard.runtime.train.paths import MlPaths
from dockyard.runtime.train.process import SignalForwarder, error_excerpt, run_child

USAGE = "usage: python -m dockyard.runtime train"
NO_PROGRAM = (
    "no entry point to run: set the hyperparameter sagemaker_program to the script to run "
    "(e.g. train.py, relative to the code directory; the SDK's entry_point), or set "
    "SAGEMAKER_PROGRAM in the image, and give the code with sagemaker_submit_directory "
    "(a directory, file:// path or .tar.gz) unless the image holds it in /opt/ml/code"
)


def main(argv: list[str]) -> int:
    """Run training; returns the process exit status."""
    rest = argv[1:] if argv[:1] == ["train"] else list(argv)
    if any(arg in ("-h", "--help") for arg in rest):
        print(f"{USAGE}\n\n{__doc__}")
        return 0
    if rest:
        _log(f"ignoring unexpected arguments {rest}")
    paths = MlPaths.from_environ()
    with SignalForwarder() as forwarder:
        try:
            return _train(paths, forwarder)
        except TrainingError as exc:
            _report_failure(paths, str(exc))
            return exc.exit_code
        except Exception as exc:
            _report_failure(paths, f"Framework Error: \n{traceback.format_exc()}\n{exc}")
            code = getattr(exc, "errno", None)
            return code if isinstance(code, int) and 0 < code < 256 else 1


def _train(paths: MlPaths, forwarder: SignalForwarder) -> int:
    env = TrainingEnvironment.load(paths, os.environ)
    entry = env.user_entry_point
    if entry is None:
        raise JobConfigError(NO_PROGRAM)
    for directory in (paths.model_dir, paths.output_data_dir):
        os.makedirs(directory, exist_ok=True)
    if not source.stage_code(env.module_dir, paths.code_dir) and env.module_dir != paths.code_dir:
        _log(f"{paths.code_dir} already holds code; not staging {env.module_dir} over it")
    source.check_entry_point(paths.code_dir, entry)
    kind = source.entry_point_type(paths.code_dir, entry)
    source.install(paths.code_dir, entry, kind)
    network.wait_for_hosts(env.hosts, env.current_host, os.environ)
    if forwarder.received is not None:
        raise TrainingError(
            f"stopped by signal {forwarder.received} before the entry point started"
        )
    cmd = source.command(paths.code_dir, entry, kind, env.cmd_args())
    _log_invocation(env, cmd)
    result = run_child(cmd, paths.code_dir, _child_environ(env), forwarder)
    if result.return_code != 0:
        raise ExecuteUserScriptError(
            cmd,
            result.return_code,
            error_excerpt(result.stderr_tail),
            describe_return_code(result.return_code),
        )
    _write(paths.success_file, "")
    _log("training finished: success")
    return 0


def _child_environ(env: TrainingEnvironment) -> dict[str, str]:
    """The script's environment: ours plus what the toolkit exports."""
    child = dict(os.environ)
    child.update(env.env_vars())
    search_path = [env.paths.code_dir, *(p for p in sys.path if p and p != env.paths.code_dir)]
    child["PYTHONPATH"] = ":".join(search_path)
    child["CURRENT_HOST"] = env.current_host
    child["SAGEMAKER_JOB_NAME"] = str(env.platform_hyperparameters.get(JOB_NAME_PARAM, ""))
    region = env.platform_hyperparameters.get(REGION_PARAM) or os.environ.get(
        "AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "")
    )
    child["SAGEMAKER_REGION"] = str(region)
    child.setdefault("PYTHONUNBUFFERED", "1")
    return child


def _log_invocation(env: TrainingEnvironment, cmd: list[str]) -> None:
    try:
        verbose = int(env.log_level) <= logging.INFO
    except (TypeError, ValueError):
        verbose = True
    if verbose:
        pretty = json.dumps(env.training_env(), indent=4, sort_keys=True)
        _log(f"training environment:\n{pretty}")
    _log(f"invoking the entry point: {' '.join(cmd)}")


def _report_failure(paths: MlPaths, reason: str) -> None:
    _log(f"training failed:\n{reason}")
    if os.path.exists(paths.failure_file):
        _log(f"{paths.failure_file} exists already (written by the script); keeping it")
        return
    try:
        _write(paths.failure_file, reason)
    except OSError as exc:
        _log(f"could not write {paths.failure_file}: {exc}")


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _log(message: str) -> None:
    print(f"dockyard-train: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
