"""Access keys Dockyard issues for SigV4: ``dockyard credentials create``.

SigV4 proves a request was made with the secret key, so the front needs the secret
itself to recompute a signature, not a hash of it. The keys therefore live in one
file, ``STATE_DIR/run/aws-credentials.json``, readable by the daemon's user only (mode
0600 in the 0700 run directory, like the API socket and the registry's signing key);
whoever can read it can already reach the daemon's socket. Writes go through a lock
file and an atomic rename, so the API and a reader never see half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from dockyard.errors import NotFound

FILE_NAME = "aws-credentials.json"
KEY_PREFIX = "AKDY"  # 20 characters in all, like AWS's AKIA… keys
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    created_at: float  # epoch seconds
    #: the task role this key was issued for (served to that role's tasks); "" for a
    #: key a user asked for with ``dockyard credentials create``
    role_arn: str = ""

    def public(self) -> dict[str, object]:
        """What listing shows: never the secret."""
        shown: dict[str, object] = {
            "AccessKeyId": self.access_key_id,
            "CreateDate": self.created_at,
        }
        if self.role_arn:
            shown["RoleArn"] = self.role_arn
        return shown


class AccessKeys:
    """The issued keys of one installation (``run_dir``)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / FILE_NAME
        self._lock_path = run_dir / f".{FILE_NAME}.lock"

    def issue(self, now: float | None = None, role_arn: str = "") -> AccessKey:
        key = _new_key(now, role_arn)
        with self._locked():
            self._write([*self._read(), key])
        return key

    def for_role(self, role_arn: str, now: float | None = None) -> AccessKey:
        """The key of a task role, issued the first time a task of that role asks.

        One key per role, shared by that role's tasks: revoking it (``dockyard
        credentials delete``) cuts every task of the role off, and the next fetch of
        their credentials gets a new one.
        """
        with self._locked():
            keys = self._read()
            for key in keys:
                if key.role_arn == role_arn:
                    return key
            key = _new_key(now, role_arn)
            self._write([*keys, key])
        return key

    def all(self) -> list[AccessKey]:
        return self._read()

    def delete(self, access_key_id: str) -> None:
        with self._locked():
            keys = self._read()
            kept = [k for k in keys if k.access_key_id != access_key_id]
            if len(kept) == len(keys):
                raise NotFound(
                    f"no access key {access_key_id}",
                    resource=f"access-key/{access_key_id}",
                    hint="list them with `dockyard credentials list`",
                )
            self._write(kept)

    def secret_of(self, access_key_id: str) -> str | None:
        """The secret of an issued key; None for a key Dockyard never issued (or deleted)."""
        for key in self._read():
            if secrets.compare_digest(key.access_key_id, access_key_id):
                return str(key.secret_access_key)
        return None

    # -- the file -----------------------------------------------------------------------

    def _read(self) -> list[AccessKey]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return [AccessKey(**item) for item in doc.get("keys", [])]

    def _write(self, keys: list[AccessKey]) -> None:
        scratch = self.path.with_name(f".{FILE_NAME}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"keys": [asdict(k) for k in keys]}, handle, indent=1)
        os.replace(scratch, self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _new_key(now: float | None, role_arn: str) -> AccessKey:
    return AccessKey(
        access_key_id=KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
        secret_access_key=secrets.token_urlsafe(30),  # 40 characters
        created_at=time.time() if now is None else now,
        role_arn=role_arn,
    )
