"""What a training host sees on disk, and what the job leaves behind.

Each host of a job gets ``<state>/jobs/<job>/<host>/`` with the contract's
directories (``input/config``, ``model``, ``output``, ``checkpoints``), bound into its
container under ``/opt/ml``. Channels are bound read-only straight from where the
data lies (SageMaker local mode does the same for ``file://`` channels), and a local
source directory is bound read-only at ``/opt/ml/code``. When the job ends, the
platform — never the container — packs ``model/`` into ``model.tar.gz`` and
``output/data`` into ``output.tar.gz`` in the artifact store, at the keys SageMaker
uses: ``<S3OutputPath>/<job>/output/model.tar.gz``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from dockyard.adapters.artifacts.local import make_model_tarball, parse_uri
from dockyard.control.training_contract import (
    PROGRAM_HYPERPARAMETER,
    SUBMIT_DIRECTORY_HYPERPARAMETER,
    TrainingHostConfig,
    render_config_files,
)
from dockyard.errors import SpecError
from dockyard.ports.artifacts import ArtifactStore, ArtifactUri
from dockyard.ports.engine import Mount
from dockyard.records.training import ScriptMode

ML = "/opt/ml"
CODE_DIR = f"{ML}/code"
FAILURE_LIMIT = 1024
WRITABLE = ("model", "output", "output/data", "checkpoints")


def _unquote_json(value: str) -> str:
    """The SageMaker SDK JSON-encodes script-mode settings; accept them either way."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def split_script_mode(
    hyperparameters: Mapping[str, str], resolve: Callable[[str, str], Path]
) -> ScriptMode:
    """Split off the script-mode settings; ``resolve(text, field)`` finds local code."""
    user = dict(hyperparameters)
    program = user.pop(PROGRAM_HYPERPARAMETER, None)
    submit = user.pop(SUBMIT_DIRECTORY_HYPERPARAMETER, None)
    program = _unquote_json(program) if program is not None else None
    if submit is None:
        return ScriptMode(user, program, None, None)
    submit = _unquote_json(submit)
    if submit.startswith("s3://"):
        return ScriptMode(user, program, submit, None)
    field = f"HyperParameters.{SUBMIT_DIRECTORY_HYPERPARAMETER}"
    path = resolve(submit, field)
    if path.is_dir():
        if program and not (path / program).is_file():
            raise SpecError(
                f"entry point {program!r} is not in {path}",
                field=f"HyperParameters.{PROGRAM_HYPERPARAMETER}",
                hint=f"name a file inside {path}",
            )
        return ScriptMode(user, program, CODE_DIR, path)
    # a source archive: bind its directory, point the runner at the file inside
    return ScriptMode(user, program, f"{CODE_DIR}/{path.name}", path.parent)


class JobLayout:
    """The directories of one training job on the daemon's machine."""

    def __init__(self, jobs_root: Path, job_name: str) -> None:
        self.root = jobs_root / job_name

    def host_dir(self, host: str) -> Path:
        return self.root / host

    def prepare_host(self, config: TrainingHostConfig) -> None:
        """Create a host's directories and write its three config files."""
        base = self.host_dir(config.current_host)
        config_dir = base / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        for name, text in render_config_files(config).items():
            (config_dir / name).write_text(text)
            os.chmod(config_dir / name, 0o644)
        for name in WRITABLE:
            directory = base / name
            directory.mkdir(parents=True, exist_ok=True)
            # images run as any uid (framework images as a non-root user)
            os.chmod(directory, 0o777)

    def mounts(self, host: str, channels: Mapping[str, Path], script: ScriptMode) -> list[Mount]:
        base = self.host_dir(host)
        mounts = [Mount(str(base / "input" / "config"), f"{ML}/input/config", read_only=True)]
        mounts += [
            Mount(str(path), f"{ML}/input/data/{name}", read_only=True)
            for name, path in channels.items()
        ]
        mounts += [
            Mount(str(base / name), f"{ML}/{name}") for name in ("model", "output", "checkpoints")
        ]
        if script.host_code_dir is not None:
            mounts.append(Mount(str(script.host_code_dir), CODE_DIR, read_only=True))
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
