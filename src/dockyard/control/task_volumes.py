"""Where each of a task's volumes lives on the host, and what each container mounts.

ECS's volume kinds, mapped onto directories so that Docker and Podman behave alike and
many tasks can share one at once (the EFS pattern):

* ``host.sourcePath``: that host path, bound as is (it must exist);
* a volume with no source (just a name, ``host`` without ``sourcePath``, or a
  ``dockerVolumeConfiguration`` of scope ``task``): a scratch directory of the task,
  shared by its containers and removed when the task is reaped;
* ``dockerVolumeConfiguration`` of scope ``shared``: ``<volumes>/shared/<name>``, kept
  after the task and shared by every task naming the volume; ``autoprovision`` creates
  it, without it a missing one fails the task (ECS's rule);
* ``efsVolumeConfiguration``: ``<volumes>/efs/<fileSystemId>/<rootDirectory>``, a
  Dockyard-managed directory standing in for the file system, made on first use.

``mountPoints[].readOnly`` is kept, and ``volumesFrom`` copies another container's
mounts (read-only when it says so), as Docker's ``--volumes-from`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from dockyard.spec.container import ContainerDefinition
from dockyard.spec.task_definition import TaskDefinition, Volume

SHARED_DIR = "shared"
EFS_DIR = "efs"


class VolumeKind(StrEnum):
    HOST = "host"  # a user's host path: never created or removed by Dockyard
    TASK = "task"  # the task's scratch directory
    SHARED = "shared"  # a shared Docker volume
    EFS = "efs"  # a stand-in for an EFS file system


@dataclass(frozen=True)
class PlannedMount:
    """One mount of one container: ``source`` on the host at ``target`` inside."""

    volume: str
    kind: VolumeKind
    source: str
    target: str
    read_only: bool
    #: may Dockyard create ``source`` when it is missing (False: missing fails the task)
    create: bool


class VolumeError(ValueError):
    """A volume that cannot be mounted as declared (the task fails to start)."""


def volume_source(
    volume: Volume, task_id: str, root: PurePosixPath
) -> tuple[VolumeKind, str, bool]:
    """(kind, host path, may create it) of ``volume`` for task ``task_id``."""
    if volume.host is not None and volume.host.source_path is not None:
        return VolumeKind.HOST, volume.host.source_path, False
    efs = volume.efs_volume_configuration
    if efs is not None:
        inner = _relative(efs.root_directory or "/", f"volume {volume.name} rootDirectory")
        fs = _relative(efs.file_system_id, f"volume {volume.name} fileSystemId")
        return VolumeKind.EFS, str(root / EFS_DIR / fs / inner), True
    docker = volume.docker_volume_configuration
    if docker is not None and docker.scope == "shared":
        return VolumeKind.SHARED, str(root / SHARED_DIR / volume.name), bool(docker.autoprovision)
    return VolumeKind.TASK, str(root / task_id / volume.name), True


def _relative(path: str, what: str) -> PurePosixPath:
    """``path`` below a directory of Dockyard's: no ``..`` may climb out of it."""
    parts = [part for part in PurePosixPath(path).parts if part not in ("/", ".")]
    if ".." in parts:
        raise VolumeError(f"{what} {path!r} may not contain '..'")
    return PurePosixPath(*parts) if parts else PurePosixPath()


def container_mounts(
    definition: TaskDefinition, container: ContainerDefinition, task_id: str, root: PurePosixPath
) -> tuple[PlannedMount, ...]:
    """The container's mount points, then those it takes with ``volumesFrom``."""
    volumes = {volume.name: volume for volume in definition.volumes}
    planned = _mounts(definition, container, task_id, root, volumes, (), force_ro=False)
    taken: set[str] = set()
    unique = []
    for mount in planned:  # a path mounted twice: the container's own mount wins
        if mount.target not in taken:
            taken.add(mount.target)
            unique.append(mount)
    return tuple(unique)


def _mounts(
    definition: TaskDefinition,
    container: ContainerDefinition,
    task_id: str,
    root: PurePosixPath,
    volumes: dict[str, Volume],
    seen: tuple[str, ...],
    *,
    force_ro: bool,
) -> list[PlannedMount]:
    if container.name in seen:
        return []  # a volumesFrom cycle: each container's own mounts once
    planned = []
    for point in container.mount_points:
        kind, source, create = volume_source(volumes[point.source_volume], task_id, root)
        read_only = point.read_only or force_ro
        planned.append(
            PlannedMount(point.source_volume, kind, source, point.container_path, read_only, create)
        )
    for ref in container.volumes_from:
        planned.extend(
            _mounts(
                definition,
                definition.container(ref.source_container),
                task_id,
                root,
                volumes,
                (*seen, container.name),
                force_ro=force_ro or ref.read_only,
            )
        )
    return planned
