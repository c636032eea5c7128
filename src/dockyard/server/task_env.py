"""What a container gets at start beyond its task definition: secrets and role credentials.

Resolved when the container starts and handed straight to the engine, never stored in
a task record (records are described by the API and kept in the database), so a
value reaches only the container's environment. That environment is visible to
whoever can inspect the container on the engine; the engine host is trusted, as with
ECS on EC2.

When a secret cannot be had, the start is refused with ECS's words
(``ResourceInitializationError: unable to pull secrets or registry auth: ...``): the
task stops with stopCode TaskFailedToStart and that stoppedReason. A secret is checked
at start rather than at RunTask/CreateService because, as on ECS, it may be deleted
or put at any time between the two.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.control.task_state import RESOURCE_INIT
from dockyard.errors import DockyardError
from dockyard.ports.engine import RegistryAuth
from dockyard.records.task import TaskRecord
from dockyard.server.secrets import SecretVault
from dockyard.server.task_roles import TaskRoles
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.secret_refs import parse_value_from


class StartRefused(DockyardError):
    """A container cannot start: what it needs from the platform is not there."""

    status_code = 400


class TaskInjections:
    """The environment the platform adds to a task's containers at start."""

    def __init__(
        self,
        vault: SecretVault,
        roles: TaskRoles,
        pull_auth: Callable[[str], RegistryAuth | None] | None = None,
    ) -> None:
        self.vault = vault
        self.roles = roles
        self._pull_auth = pull_auth

    def pull_auth(self, image: str) -> RegistryAuth | None:
        """A pull-only credential for the image, where it is in Dockyard's registry: a
        swarm node pulls the image itself, as an ECS agent pulls with the execution role."""
        return self._pull_auth(image) if self._pull_auth is not None else None

    def env_for(self, record: TaskRecord, container: ContainerDefinition) -> dict[str, str]:
        """Secrets by their variable names, then the role's variables (if any)."""
        env: dict[str, str] = {}
        for secret in container.secrets:
            try:
                env[secret.name] = self.vault.resolve(parse_value_from(secret.value_from))
            except DockyardError as error:
                raise StartRefused(
                    f"{RESOURCE_INIT}: unable to pull secrets or registry auth: "
                    f"retrieving secret {secret.name} from {secret.value_from}: "
                    f"{error.message}"
                ) from None
        if record.definition.task_role_arn:
            try:
                env.update(self.roles.env_for(record.task.task_id))
            except DockyardError as error:
                raise StartRefused(
                    f"{RESOURCE_INIT}: unable to serve task role credentials: {error.message}"
                ) from None
        return env
