"""A task's containers as the engine sees them: names, labels, limits, mounts.

Every container carries its task's id, its owner (``dockyard.owner``) and its
installation as labels, so one engine query per owner and pass observes all of an
owner's tasks, a restarted daemon finds them again, and each daemon sweeps away only
its own leftovers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from dockyard.control.task import ContainerObservation, HealthStatus, engine_state
from dockyard.control.task_limits import container_limits
from dockyard.control.task_volumes import VolumeError, VolumeKind, container_mounts
from dockyard.errors import SpecError
from dockyard.ports.engine import ContainerSpec, ContainerState, HealthCheck, Mount
from dockyard.records.placement import Placement
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.task_definition import TaskDefinition

MANAGED = "dockyard.managed"
TASK_LABEL = "dockyard.task"
CONTAINER_LABEL = "dockyard.container"
OWNER_LABEL = "dockyard.owner"
#: which Dockyard installation (state directory) started a container: one engine may
#: serve several daemons, and each may only sweep away its own containers
INSTALLATION_LABEL = "dockyard.installation"
DEFAULT_STOP_TIMEOUT = 30


def new_task_id() -> str:
    """ECS-style task id: 32 hex characters."""
    return uuid.uuid4().hex


def installation_id(state_dir: Path) -> str:
    """This state directory's id (made once, kept in ``<state_dir>/installation-id``)."""
    path = state_dir / "installation-id"
    if path.is_file() and (saved := path.read_text().strip()):
        return saved
    state_dir.mkdir(parents=True, exist_ok=True)
    ident = uuid.uuid4().hex[:16]
    scratch = path.with_name(f".installation-id.{ident}")
    scratch.write_text(ident + "\n")
    scratch.replace(path)
    return ident


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-") or "task"


def container_spec(
    task_id: str,
    owner: str,
    definition: TaskDefinition,
    container: ContainerDefinition,
    placement: Placement,
    volumes_root: Path,
    *,
    publish: bool = True,
    cgroup_parent: str | None = None,
    injected_env: Mapping[str, str] | None = None,
) -> ContainerSpec:
    """The engine's spec of one container of a task.

    ``publish``: whether its ports are published on the loopback, or reached on the
    container's own address (where the engine routes there, see
    :attr:`~dockyard.ports.engine.Engine.routes_to_containers`). ``injected_env``: what
    the platform resolved for this start (secrets, role credentials; see
    :mod:`dockyard.server.task_env`); never stored with the task.
    """
    injected = dict(injected_env or {})
    missing = [secret.name for secret in container.secrets if secret.name not in injected]
    if missing:
        raise SpecError(  # never start a container without the secrets it was promised
            f"secrets {', '.join(missing)} were not resolved",
            field=f"containerDefinitions[{container.name}].secrets",
            hint="store them with `dockyard secret put NAME`",
        )
    limits = container_limits(definition, container, task_cgroup=cgroup_parent is not None)
    env = {pair.name: pair.value for pair in container.environment}
    env.update(placement.extra_env)
    env.update(injected)
    labels = {
        **placement.labels,
        MANAGED: "1",
        TASK_LABEL: task_id,
        OWNER_LABEL: owner,
        CONTAINER_LABEL: container.name,
    }
    hostname = placement.hostnames.get(container.name)
    init = placement.init or bool(
        container.linux_parameters and container.linux_parameters.init_process_enabled
    )
    return ContainerSpec(
        name=f"{_safe(placement.name_prefix)}-{task_id[:8]}-{_safe(container.name)}",
        image=container.image,
        command=list(container.command) if container.command is not None else None,
        entrypoint=list(container.entry_point) if container.entry_point is not None else None,
        env=env,
        labels=labels,
        mounts=_mounts(task_id, definition, container, placement, volumes_root),
        ports=[mapping.container_port for mapping in container.port_mappings],
        publish=publish,
        network=placement.network,
        hostname=hostname,
        network_aliases=[hostname] if hostname and placement.network else [],
        cpus=limits.cpus,
        cpu_shares=limits.cpu_shares,
        memory_mib=limits.memory_mib,
        memory_reservation_mib=limits.memory_reservation_mib,
        cgroup_parent=cgroup_parent,
        health_check=_health_check(container),
        user=container.user,
        working_dir=container.working_directory,
        stop_timeout=container.stop_timeout or DEFAULT_STOP_TIMEOUT,
        init=init,
    )


def _mounts(
    task_id: str,
    definition: TaskDefinition,
    container: ContainerDefinition,
    placement: Placement,
    volumes_root: Path,
) -> list[Mount]:
    """Mount points (and ``volumesFrom``) resolved to host paths, as
    :mod:`dockyard.control.task_volumes` decides; the directories Dockyard manages are
    made here, open to any user (the container's user is the image's)."""
    field = f"containerDefinitions[{container.name}].mountPoints"
    try:
        planned = container_mounts(definition, container, task_id, PurePosixPath(volumes_root))
    except VolumeError as error:
        raise SpecError(str(error), field=field) from None
    mounts: list[Mount] = []
    for mount in planned:
        source = Path(mount.source)
        if mount.create and not source.is_dir():
            source.mkdir(parents=True, exist_ok=True)
            source.chmod(0o777)
        elif not mount.create and not source.exists():
            raise SpecError(
                f"volume {mount.volume} does not exist ({source})",
                field=field,
                hint="a host.sourcePath must exist before the task starts"
                if mount.kind is VolumeKind.HOST
                else "create it, or set dockerVolumeConfiguration.autoprovision to true",
            )
        mounts.append(Mount(str(source), mount.target, mount.read_only))
    mounts.extend(placement.extra_mounts.get(container.name, ()))
    return mounts


def _health_check(container: ContainerDefinition) -> HealthCheck | None:
    check = container.health_check
    if check is None:
        return None
    return HealthCheck(
        list(check.command), check.interval, check.timeout, check.retries, check.start_period
    )


_HEALTH = {"healthy": HealthStatus.HEALTHY, "unhealthy": HealthStatus.UNHEALTHY}


def observation(state: ContainerState) -> ContainerObservation:
    return ContainerObservation(
        state=engine_state(state.status),
        container_id=state.id,
        exit_code=state.exit_code,
        oom_killed=state.oom_killed,
        health=_HEALTH.get(state.health or "", HealthStatus.UNKNOWN) if state.health else None,
        error=state.error if state.status in ("created", "dead") and state.error else "",
    )
