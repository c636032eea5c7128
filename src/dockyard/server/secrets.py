"""Secrets, encrypted at rest: put, list, delete, and resolve for a task's start.

Values are sealed with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``)
under a key kept in ``STATE_DIR/run/secrets.key`` (mode 0600 in the 0700 run
directory, beside the API socket and the access keys), while the sealed values live in
the store. The database alone (a backup, a copy attached to a bug report) therefore
reveals nothing; whoever can read the run directory can already drive the daemon.

Nothing here returns a value to the API: :meth:`SecretVault.resolve` is called only
when a container starts (:mod:`dockyard.server.task_env`), and the value goes straight
into the engine's container environment.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dockyard.errors import DockyardError, NotFound
from dockyard.ports.store import Store
from dockyard.records.secret import SecretRecord
from dockyard.spec.secret_refs import SecretRef, check_secret_name, secret_arn

KEY_FILE = "secrets.key"
MAX_VALUE_BYTES = 65536  # Secrets Manager's limit for a SecretString


class SecretUnavailable(DockyardError):
    """A secret a task needs cannot be had (missing, unreadable, no such JSON key)."""

    status_code = 400


class SecretBox:
    """Seals and opens values with this installation's key (made on first use)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / KEY_FILE
        self._fernet: Fernet | None = None

    def seal(self, value: str) -> str:
        return self._key().encrypt(value.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._key().decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUnavailable(
                "the secret cannot be decrypted with this installation's key",
                hint=f"was {self.path} replaced? put the secret again",
            ) from None

    def _key(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._load_or_create())
        return self._fernet

    def _load_or_create(self) -> bytes:
        if self.path.is_file():
            return self.path.read_bytes().strip()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Fernet.generate_key()
        scratch = self.path.with_name(f".{KEY_FILE}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        try:
            os.link(scratch, self.path)  # first writer wins; a racing one reads its key
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
        return self.path.read_bytes().strip()


def described(record: SecretRecord) -> dict[str, object]:
    """Secrets Manager's DescribeSecret/ListSecrets entry: everything but the value."""
    return {
        "Name": record.name,
        "ARN": secret_arn(record.name),
        "CreatedDate": record.created_at,
        "LastChangedDate": record.updated_at,
    }


class SecretVault:
    """The installation's secrets: the store's sealed records and the key that opens them."""

    def __init__(
        self, store: Store, box: SecretBox, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.box = box
        self.clock = clock

    def put(self, name: str, value: str) -> tuple[SecretRecord, bool]:
        """Create or replace ``name``; the record and whether it was new."""
        name = check_secret_name(name)
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise SecretUnavailable(
                f"secret {name!r} is larger than {MAX_VALUE_BYTES} bytes",
                field="SecretString",
                hint="store a smaller value (a file path or a key, not the file itself)",
            )
        sealed = self.box.seal(value)  # the key file is made outside the transaction
        now = self.clock()
        with self.store.transaction():
            old = self.store.secrets.get(name)
            created = old.created_at if old else now
            record = SecretRecord(name, sealed, created_at=created, updated_at=now)
            self.store.secrets.put(record)
        return record, old is None

    def list(self) -> list[SecretRecord]:
        return self.store.secrets.list()

    def describe(self, name: str) -> SecretRecord:
        return self.store.secrets.require(check_secret_name(name))

    def delete(self, name: str) -> None:
        name = check_secret_name(name)
        if not self.store.secrets.delete(name):
            raise NotFound(
                f"no secret named {name!r}",
                resource=f"secret/{name}",
                hint="list them with `dockyard secret list`",
            )

    def resolve(self, ref: SecretRef) -> str:
        """The value ``ref`` names (one key of it for a JSON key); SecretUnavailable if none."""
        record = next(
            (found for name in ref.candidates if (found := self.store.secrets.get(name))), None
        )
        if record is None:
            raise SecretUnavailable(
                f"secret {ref.name!r} does not exist",
                resource=f"secret/{ref.name}",
                hint=f"store it with `dockyard secret put {ref.name}`",
            )
        value = self.box.open(record.ciphertext)
        if ref.json_key is None:
            return value
        return _json_member(record.name, value, ref.json_key)


def _json_member(name: str, value: str, key: str) -> str:
    """ECS's ``:json-key:`` form: one top-level member of a JSON secret, as text."""
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if not isinstance(document, dict) or key not in document:
        raise SecretUnavailable(
            f"secret {name!r} is not a JSON object with the key {key!r}",
            resource=f"secret/{name}",
            hint="store a JSON object holding that key, or drop the key from valueFrom",
        )
    member = document[key]
    return member if isinstance(member, str) else json.dumps(member)
