"""Which installation of Dockyard a process runs: a fingerprint of its package files.

The daemon outlives the command that started it, so after an upgrade (``pip install
-U``, ``git pull`` on an editable install) it would go on running the code it loaded
at start. It reports the fingerprint it started with in ``/v1/health``; the CLI
compares it with its own and restarts a local daemon whose code is not its own. The
fingerprint covers every file's path, size and modification time, so it costs a few
milliseconds (no file is read) and changes with any reinstall or edit.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import dockyard

PACKAGE = Path(dockyard.__file__).resolve().parent


@functools.cache
def fingerprint() -> str:
    """This process's installation (computed once, at the first call)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{path.relative_to(PACKAGE)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
