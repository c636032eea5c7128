"""A transform job as stored: the request, the model it runs, its status and progress.

Progress is the job's checkpoint: per input file, how many records have their output
in the file's part file and how long that part file was then. A driver that starts
again (a restarted daemon, a replaced replica) truncates the part file to that length
and goes on from that record, so every record is written exactly once and in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from dockyard.control.transform import TransformJobState
from dockyard.spec.endpoint import Model
from dockyard.spec.transform_job import TransformJobSpec


class FileStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"  # X.out is at the output path
    FAILED = "Failed"  # a record failed: no X.out


@dataclass(frozen=True)
class FileProgress:
    """One input file: ``key`` is its path under the input prefix (``a/b.csv``)."""

    key: str
    records: int  # how many records it splits into
    status: FileStatus = FileStatus.PENDING
    records_done: int = 0  # records whose output is in the part file
    bytes_written: int = 0  # the part file's length when records_done was stored
    failure: str | None = None  # which record failed and how

    @property
    def finished(self) -> bool:
        return self.status in (FileStatus.COMPLETED, FileStatus.FAILED)


@dataclass(frozen=True)
class TransformJobRecord:
    """CreateTransformJob's request, the model as it was at creation, and progress.

    ``model_dir`` is the model artifact extracted on this machine (None without one);
    ``input_path`` is the input resolved to this machine (a directory, or one file).
    ``files`` is empty until the driver has listed the input; ``parameters`` holds the
    values the job runs with once resolved (``MaxPayloadInMB``…) and where each came
    from. ``done`` is set once every replica is reaped.
    """

    KIND: ClassVar[str] = "transform_job"

    spec: TransformJobSpec
    model: Model
    state: TransformJobState
    input_path: str
    model_dir: str | None = None
    files: tuple[FileProgress, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    stop_requested: bool = False
    driver_error: str | None = None
    done: bool = False

    @property
    def key(self) -> str:
        return self.spec.transform_job_name

    @property
    def name(self) -> str:
        return self.spec.transform_job_name

    @property
    def owner(self) -> None:
        return None

    @property
    def as_owner(self) -> str:
        """The ``owner`` of the job's replica tasks."""
        return transform_owner(self.spec.transform_job_name)

    @property
    def driver_finished(self) -> bool:
        return bool(self.files) and all(f.finished for f in self.files)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(f.failure or f.key for f in self.files if f.status is FileStatus.FAILED)

    @property
    def records_total(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def records_done(self) -> int:
        return sum(
            f.records if f.status is FileStatus.COMPLETED else f.records_done for f in self.files
        )


def transform_owner(name: str) -> str:
    return f"transform-job/{name}"
