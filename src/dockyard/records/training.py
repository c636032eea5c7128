"""A training job as stored: the request, its status machine and what the server did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from dockyard.control.training_status import TrainingJobState
from dockyard.records.cluster import ClusterState
from dockyard.spec.training_job import TrainingJobSpec


@dataclass(frozen=True)
class ScriptMode:
    """The reserved script-mode hyperparameters split off from the user's.

    ``code_source`` is where ``sagemaker_submit_directory`` was found on this machine
    (a directory, an archive such as ``sourcedir.tar.gz``, or one file; an ``s3://``
    source is the artifact store's object), copied into each host's ``/opt/ml/code``;
    ``container_submit_dir`` is what ``hyperparameters.json`` tells the container.
    """

    #: what earlier versions called a field (their records still read)
    RENAMED_FIELDS: ClassVar[Mapping[str, str]] = {"host_code_dir": "code_source"}

    user_hyperparameters: Mapping[str, str]
    program: str | None
    container_submit_dir: str | None
    code_source: Path | None


@dataclass(frozen=True)
class TrainingJobRecord:
    """CreateTrainingJob's request and where the job stands.

    ``channels`` are the input channels resolved to directories on this machine at
    creation (the request's URIs stay in ``spec``). The flags record what the server
    has done for the job (inputs staged, artifacts uploaded) so that a restarted
    daemon neither repeats nor skips a step; ``done`` is set once every host is reaped.
    ``checkpoints_saved_at`` / ``checkpoints_final``: when the hosts' checkpoints were
    last saved to CheckpointConfig.S3Uri, and whether the save after the end is done.
    """

    KIND: ClassVar[str] = "training_job"

    spec: TrainingJobSpec
    state: TrainingJobState
    script: ScriptMode
    channels: Mapping[str, Path] = field(default_factory=dict)
    inputs_ready: bool = False
    artifacts_uploaded: bool = False
    stop_requested: bool = False
    platform_error: str | None = None
    model_artifact: str | None = None
    output_artifact: str | None = None
    checkpoints_saved_at: float | None = None
    checkpoints_final: bool = False
    done: bool = False
    cluster: ClusterState | None = None  # set once applied to a cluster (not local)
    #: what the hosts run, when not the training image as named: where the engine's
    #: nodes pull images themselves (swarm), its name and digest in Dockyard's registry;
    #: for one of AWS's framework images, Dockyard's framework image that stands in
    image_ref: str | None = None

    @property
    def key(self) -> str:
        return self.spec.training_job_name

    @property
    def name(self) -> str:
        return self.spec.training_job_name

    @property
    def owner(self) -> None:
        return None

    @property
    def as_owner(self) -> str:
        """The ``owner`` of the job's host tasks."""
        return training_owner(self.spec.training_job_name)


def training_owner(name: str) -> str:
    return f"training-job/{name}"
