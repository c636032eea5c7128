"""Task roles: the credentials a task with ``taskRoleArn`` gets, and who may fetch them.

ECS hands a task's containers two variables, and the AWS SDKs (boto3, the AWS CLI)
read them on their own:

* ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` — where the task's credentials are served:
  ``http://169.254.170.2:PORT/v1/credentials/TASK_ID`` (see
  :mod:`dockyard.server.credentials_endpoint` for how containers reach that address);
* ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` — sent back as the ``Authorization`` header.

The token is ``HMAC-SHA256(installation key, task id)``: it is bound to one task, so a
task's token fetches that task's credentials and nothing else, and nothing needs
storing (the key lives in ``STATE_DIR/run/task-credentials.key``, 0600). Neither the
token nor the credentials go into a task record, an event or a log.

The credentials are the role's access key in the AWS front's key store (one per role,
issued on first use, listed by ``dockyard credentials list`` with its role), so boto3
in a task can sign requests the AWS front accepts. A role locally *names* credentials;
there is no IAM policy engine to scope what they may do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.server.aws.credentials import AccessKeys

KEY_FILE = "task-credentials.key"
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
AUTHORIZATION_TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
#: how long served credentials say they last; the SDKs fetch again before then
CREDENTIALS_TTL_S = 6 * 3600


class RoleUnavailable(DockyardError):
    """The task has a role but its credentials cannot be served (no endpoint)."""

    status_code = 503


class TaskRoles:
    """Tokens and credentials of tasks with a role, for one installation (``run_dir``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.keys = AccessKeys(run_dir)
        #: ``http://ADDRESS:PORT`` once the credentials endpoint listens; None before
        #: (or where it cannot listen), and tasks with a role then fail to start
        self.base_url: str | None = None
        self._secret: bytes | None = None

    def token_for(self, task_id: str) -> str:
        return hmac.new(self._key(), f"task:{task_id}".encode(), hashlib.sha256).hexdigest()

    def verify(self, task_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token_for(task_id), token)

    def env_for(self, task_id: str) -> dict[str, str]:
        """The variables that point a task's SDKs at its credentials."""
        if self.base_url is None:
            raise RoleUnavailable(
                "the task role credentials endpoint is not running",
                hint="see the daemon's log: it says why 169.254.170.2 could not be served",
            )
        return {
            FULL_URI: f"{self.base_url}/v1/credentials/{task_id}",
            AUTHORIZATION_TOKEN: self.token_for(task_id),
        }

    def credentials(self, task_id: str, role_arn: str, now: float) -> dict[str, str]:
        """ECS's credentials document for a task of ``role_arn``."""
        key = self.keys.for_role(role_arn)
        expires = dt.datetime.fromtimestamp(now + CREDENTIALS_TTL_S, dt.UTC)
        session = hmac.new(self._key(), f"session:{task_id}".encode(), hashlib.sha256)
        return {
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": key.secret_access_key,
            "Token": session.hexdigest(),
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RoleArn": role_arn,
        }

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = _load_or_create(self.run_dir / KEY_FILE)
        return self._secret


def _load_or_create(path: Path) -> bytes:
    """The installation's token key (32 random bytes, hex), made once, mode 0600."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(scratch, path)  # first writer wins
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text().strip().encode()
