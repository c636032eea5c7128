"""What a training host sees on disk, and what the job leaves behind.

Each host of a job gets ``<state>/jobs/<job>/<host>/`` with the contract's
directories (``input/config``, ``input/data/<channel>``, ``code``, ``model``,
``output``, ``checkpoints``), all bound writable into its container: ``input`` at
``/opt/ml/input``, ``model`` and ``output`` under ``/opt/ml``, ``code`` at
``/opt/ml/code`` (only when the job submits code, so an image's own ``/opt/ml/code``
stays visible otherwise) and ``checkpoints`` at CheckpointConfig's ``LocalPath``. The
code and channel data there are the host's own copies
(:mod:`dockyard.server.training_inputs`), so nothing a container writes reaches the
user's files. When the job ends, the platform — never the container — packs ``model/``
into ``model.tar.gz`` and ``output/data`` into ``output.tar.gz`` in the artifact store,
at the keys SageMaker uses: ``<S3OutputPath>/<job>/output/model.tar.gz``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from dockyard.adapters.artifacts.local import make_model_tarball, parse_uri
from dockyard.control.training_contract import (
    PROGRAM_HYPERPARAMETER,
    SUBMIT_DIRECTORY_HYPERPARAMETER,
    TrainingHostConfig,
    render_config_files,
)
from dockyard.ports.artifacts import ArtifactStore, ArtifactUri
from dockyard.ports.engine import Mount
from dockyard.records.training import ScriptMode
from dockyard.server.training_inputs import check_code_source, stage_channel, stage_code

ML = "/opt/ml"
CODE_DIR = f"{ML}/code"
FAILURE_LIMIT = 1024
WRITABLE = ("input", "input/config", "input/data", "model", "output", "output/data")
STAGED = ("code", "input/data")  # the hosts' copies of the user's code and data


def _unquote_json(value: str) -> str:
    """The SageMaker SDK JSON-encodes every hyperparameter value; the toolkit decodes
    them, so ``"\\"train.py\\""`` and ``train.py`` name the same script."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def split_script_mode(
    hyperparameters: Mapping[str, str], resolve: Callable[[str, str], Path]
) -> ScriptMode:
    """Split off the script-mode settings; ``resolve(text, field)`` finds the code.

    The code may be a directory, an archive (the SDK's ``sourcedir.tar.gz``) or one
    file, named by an absolute path, ``file://`` or ``s3://`` (the artifact store); it
    must hold the entry point. The container is told the ``s3://`` URI as the SDK gave
    it (what SageMaker passes on) and ``/opt/ml/code`` for local code (what the SDK's
    local mode passes on); either way the code is already in ``/opt/ml/code``, and the
    toolkit runs a code directory that holds files without fetching anything.
    """
    user = dict(hyperparameters)
    program = user.pop(PROGRAM_HYPERPARAMETER, None)
    submit = user.pop(SUBMIT_DIRECTORY_HYPERPARAMETER, None)
    program = _unquote_json(program) if program is not None else None
    if submit is None:
        return ScriptMode(user, program, None, None)
    submit = _unquote_json(submit)
    source = resolve(submit, f"HyperParameters.{SUBMIT_DIRECTORY_HYPERPARAMETER}")
    check_code_source(source, program)
    told = submit if submit.startswith("s3://") else CODE_DIR
    return ScriptMode(user, program, told, source)


class JobLayout:
    """The directories of one training job on the daemon's machine."""

    def __init__(self, jobs_root: Path, job_name: str) -> None:
        self.root = jobs_root / job_name

    def host_dir(self, host: str) -> Path:
        return self.root / host

    def code_dir(self, host: str) -> Path:
        return self.host_dir(host) / "code"

    def channel_dir(self, host: str, channel: str) -> Path:
        return self.host_dir(host) / "input" / "data" / channel

    def checkpoint_dir(self, host: str) -> Path:
        return self.host_dir(host) / "checkpoints"

    def prepare_host(self, config: TrainingHostConfig) -> None:
        """Create a host's directories and write its three config files."""
        base = self.host_dir(config.current_host)
        config_dir = base / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        for name, text in render_config_files(config).items():
            (config_dir / name).write_text(text)
            os.chmod(config_dir / name, 0o666)
        for name in (*WRITABLE, "checkpoints"):
            directory = base / name
            directory.mkdir(parents=True, exist_ok=True)
            # images run as any uid (framework images as a non-root user)
            os.chmod(directory, 0o777)

    def stage_inputs(
        self,
        host: str,
        hosts: Sequence[str],
        script: ScriptMode,
        channels: Mapping[str, tuple[Path, str]],
    ) -> None:
        """Copy in the code and each channel's share (``{name: (source, distribution)}``)."""
        if script.code_source is not None:
            stage_code(script.code_source, self.code_dir(host), script.program)
        for name, (source, distribution) in channels.items():
            stage_channel(source, self.channel_dir(host, name), distribution, host, hosts)

    def discard_inputs(self, hosts: Sequence[str]) -> None:
        """Remove the hosts' copies of code and data once the job is done."""
        for host in hosts:
            for name in STAGED:
                shutil.rmtree(self.host_dir(host) / name, ignore_errors=True)

    def mounts(self, host: str, script: ScriptMode, checkpoint_path: str) -> list[Mount]:
        """The host's directories, all writable, where the contract puts them."""
        base = self.host_dir(host)
        mounts = [Mount(str(base / name), f"{ML}/{name}") for name in ("input", "model", "output")]
        mounts.append(Mount(str(self.checkpoint_dir(host)), checkpoint_path))
        if script.code_source is not None:
            mounts.append(Mount(str(self.code_dir(host)), CODE_DIR))
        return mounts

    def failure_reason(self, host: str) -> str | None:
        failure = self.host_dir(host) / "output" / "failure"
        if not failure.is_file():
            return None
        text = failure.read_text(errors="replace").strip()
        return text[:FAILURE_LIMIT] or None

    def upload(
        self, hosts: list[str], output_path: str, job_name: str, artifacts: ArtifactStore
    ) -> tuple[ArtifactUri, ArtifactUri | None]:
        """Pack the hosts' model (first host wins on clashes) and output data."""
        prefix = parse_uri(output_path.rstrip("/") + f"/{job_name}/output")
        model_uri = ArtifactUri(prefix.bucket, f"{prefix.key}/model.tar.gz")
        output_uri = ArtifactUri(prefix.bucket, f"{prefix.key}/output.tar.gz")
        with tempfile.TemporaryDirectory(prefix="dockyard-pack-") as scratch:
            merged = Path(scratch) / "model"
            merged.mkdir()
            for host in reversed(hosts):
                shutil.copytree(self.host_dir(host) / "model", merged, dirs_exist_ok=True)
            tarball = Path(scratch) / "model.tar.gz"
            make_model_tarball(merged, tarball)
            artifacts.put_file(model_uri, tarball)
            data = self.host_dir(hosts[0]) / "output" / "data"
            if data.is_dir() and any(data.iterdir()):
                packed = Path(scratch) / "output.tar.gz"
                make_model_tarball(data, packed)
                artifacts.put_file(output_uri, packed)
                return model_uri, output_uri
        return model_uri, None
