"""One process at a time: an exclusive ``flock`` on a file.

Several Dockyard processes share a machine (the CLI, the daemon, tests): starting an
engine, building the base image, building a framework image or changing HAProxy
must each happen once, not once per process. The lock is released when the block
ends or the process dies, so a crash never leaves it held.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its parents) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
