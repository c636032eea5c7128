"""The image registry: a CNCF Distribution that Dockyard starts, keeps up and cleans.

Life cycle, and why it is shaped this way:

- **Start.** :meth:`Registry.ensure_running` reuses a live registry that runs the
  configuration Dockyard would write now, else (re)writes it and starts one, detached
  (see :mod:`.process`), on a private loopback port picked once and recorded in
  ``<state_dir>/registry/port``: image references name ``host:port``, so the port
  must not change between restarts. Blobs and manifests live under
  ``<state_dir>/registry/data`` and survive any restart.
- **Auth.** Every request needs a bearer token signed by the installation's key (see
  :mod:`.tokens`); the caller names the token endpoint (``token_realm``) where
  ``docker``/``skopeo`` trade credentials for one.
- **Garbage collection.** Distribution's collector deletes blobs no manifest refers
  to, and a push running meanwhile can lose blobs it already uploaded. So
  :meth:`Registry.garbage_collect` restarts the registry read-only
  (:meth:`Registry.maintenance`) for its duration: pulls go on, writes are refused
  with a retryable error (see :class:`.client.RegistryReadOnly`); the read-write
  registry comes back afterwards, which also empties Distribution's in-memory blob
  cache, which would otherwise still claim deleted blobs exist.

Every start and stop runs under a file lock, so the CLI and the daemon may both use
this class; a maintenance holds the lock throughout, and a registry found read-only
outside one (a collection that was interrupted) is restarted read-write.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.adapters.filelock import file_lock
from dockyard.adapters.processes import read_pid, write_atomic, write_pid
from dockyard.adapters.registry import process
from dockyard.adapters.registry.config import Notifications, RegistryConfig, render_config
from dockyard.adapters.registry.tokens import TokenIssuer
from dockyard.errors import DockyardError, SetupError
from dockyard.settings import Settings, get_settings

_GC_COUNTS = re.compile(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible")


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection removed, measured on disk."""

    bytes_before: int
    bytes_after: int
    blobs_deleted: int
    manifests_deleted: int
    seconds: float  # the whole call: how long writes were refused (restarts included)

    @property
    def freed_bytes(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


class Registry:
    """A Distribution registry on 127.0.0.1, owned by this installation."""

    def __init__(
        self,
        state_dir: Path,
        *,
        token_realm: str,
        notifications: Notifications | None = None,
        run_dir: Path | None = None,
        logs_dir: Path | None = None,
        binary: str | None = None,
    ) -> None:
        state_dir = state_dir.resolve()
        self.paths = process.RegistryPaths.under(
            state_dir,
            (run_dir or state_dir / "run").resolve(),
            (logs_dir or state_dir / "logs").resolve(),
        )
        self.issuer = TokenIssuer(state_dir)
        self.token_realm = token_realm
        self.notifications = notifications
        self._binary = binary
        self._thread_lock = threading.RLock()  # one thread at a time, maintenance included
        self._maintenance_depth = 0

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, token_realm: str, **kwargs: Any
    ) -> Registry:
        """The registry of the installation that ``settings`` describe."""
        s = settings or get_settings()
        return cls(
            s.state_dir, token_realm=token_realm, run_dir=s.run_dir, logs_dir=s.logs_dir, **kwargs
        )

    # -- where it is --------------------------------------------------------------------

    @property
    def port(self) -> int | None:
        """The private port recorded for this installation (None before the first start)."""
        return process.recorded_port(self.paths.port)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what image references into this registry start with."""
        if self.port is None:
            raise SetupError("the registry has never been started", hint="start it first")
        return f"127.0.0.1:{self.port}"

    def base_url(self) -> str:
        """Base URL of the registry's HTTP API (``GET {base_url}/v2/``)."""
        return f"http://{self.host}"

    # -- life cycle ---------------------------------------------------------------------

    def ensure_running(self) -> bool:
        """Reuse the running registry, or start one on the same data; True if started."""
        with self._locked() as in_maintenance:
            if in_maintenance:
                return False  # this very object holds it read-only on purpose
            return self._ensure_locked(read_only=False)

    def stop(self) -> None:
        """Stop the registry (its data stays)."""
        with self._locked():
            pid = read_pid(self.paths.pidfile)
            if pid is not None:
                process.terminate(pid)
                self.paths.pidfile.unlink(missing_ok=True)

    def pid(self) -> int | None:
        """Pid of the registry serving now, or None if none answers."""
        pid = read_pid(self.paths.pidfile)
        if pid is None or process.running_config(pid) is None or self.port is None:
            return None
        return pid if process.answers(self.port, self.issuer.service) else None

    def read_only(self) -> bool:
        """True while the running registry refuses writes (a maintenance is under way)."""
        pid = self.pid()
        return pid is not None and process.running_config(pid) == self.paths.read_only_config

    @contextlib.contextmanager
    def maintenance(self) -> Iterator[None]:
        """Hold the registry read-only for the block: pulls work, writes are refused.

        Re-entrant within one :class:`Registry` object (so a collection may run inside
        one); other processes wait on the lock instead of restarting it read-write.
        """
        with self._locked() as nested:
            if not nested:
                self._ensure_locked(read_only=True)
            self._maintenance_depth += 1
            try:
                yield
            finally:
                self._maintenance_depth -= 1
                if not nested:
                    self._ensure_locked(read_only=False)

    def garbage_collect(self, delete_untagged: bool = False) -> GcReport:
        """Delete blobs no manifest refers to (and untagged manifests, if asked).

        Runs Distribution's own collector while the registry is read-only; the bytes
        freed are the data directory's disk usage before minus after.
        """
        binary = process.find_binary(self._binary)
        started = time.monotonic()
        with self.maintenance():
            before = disk_usage(self.paths.data)
            command = [binary, "garbage-collect"]
            if delete_untagged:
                command.append("--delete-untagged")
            result = subprocess.run(
                [*command, str(self.paths.config)],
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
            if result.returncode != 0:
                words = (result.stderr or result.stdout).strip().splitlines()[-5:]
                raise DockyardError(
                    f"garbage collection failed: {' | '.join(words)}",
                    resource=str(self.paths.data),
                    hint="the registry's data is unchanged where the collector stopped; "
                    "run it again",
                )
            after = disk_usage(self.paths.data)
        counts = _GC_COUNTS.search(result.stdout + result.stderr)
        blobs, manifests = (int(counts.group(2)), int(counts.group(3))) if counts else (0, 0)
        return GcReport(before, after, blobs, manifests, time.monotonic() - started)

    # -- internals (caller holds the lock) ----------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        """Hold the installation's registry lock; yield True if this object already holds
        it for a maintenance (``flock`` is not re-entrant, so it is not taken twice)."""
        with self._thread_lock:
            if self._maintenance_depth:
                yield True
                return
            with file_lock(self.paths.lock):
                yield False

    def _ensure_locked(self, *, read_only: bool) -> bool:
        binary = process.find_binary(self._binary)
        self.paths.make_dirs()
        self.issuer.ensure_keys()
        wanted = self.paths.read_only_config if read_only else self.paths.config
        port = self.port or process.pick_port()
        texts = self._render(port)
        pid = read_pid(self.paths.pidfile)
        if (
            pid is not None
            and process.running_config(pid) == wanted
            and _same_text(wanted, texts[read_only])
            and process.answers(port, self.issuer.service)
        ):
            return False
        if pid is not None:
            process.terminate(pid)  # hung, stale config, or the other mode
        for attempt in range(2):
            self._write_configs(port, texts)
            pid = process.launch(binary, wanted, self.paths.log)
            if process.wait_ready(pid, port, self.issuer.service):
                write_pid(self.paths.pidfile, pid)
                return True
            process.terminate(pid)
            if attempt == 0 and "address already in use" in _log_end(self.paths.log):
                port = process.pick_port()  # someone took the port while we were down
                texts = self._render(port)
                continue
            break
        raise process.start_failure(self.paths.log, port)

    def _render(self, port: int) -> Mapping[bool, str]:
        """Both configurations for ``port``: ``{False: normal, True: read-only}``."""
        secret = process.http_secret(self.paths.secret)
        base = RegistryConfig(
            data_dir=self.paths.data,
            port=port,
            http_secret=secret,
            token_realm=self.token_realm,
            root_cert_bundle=self.issuer.cert_path,
            service=self.issuer.service,
            issuer=self.issuer.issuer,
            notifications=self.notifications,
        )
        return {False: render_config(base), True: render_config(replace(base, read_only=True))}

    def _write_configs(self, port: int, texts: Mapping[bool, str]) -> None:
        process.write_private(self.paths.config, texts[False])  # it holds the http secret
        process.write_private(self.paths.read_only_config, texts[True])
        write_atomic(self.paths.port, f"{port}\n")


def disk_usage(directory: Path) -> int:
    """Bytes the files below ``directory`` take on disk (allocated blocks, like ``du``)."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except OSError:
        return False


def _log_end(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""
