"""Podman's note that Dockyard's registry speaks plain HTTP: a registries.conf drop-in.

Dockyard's registry answers on ``127.0.0.1:<registry_port>`` without TLS. Docker
treats 127.0.0.0/8 as insecure by default; Podman (and skopeo, buildah: everything on
containers/image) insists on HTTPS unless ``registries.conf`` marks the registry
``insecure``. The drop-in written here does, for that one host and port, so that a
``podman pull``/``push`` by hand works too. Podman's service reads the file when it
starts: Dockyard writes it before starting Podman, and ``dockyard setup --podman``
writes it for a Podman started by others (read at its next start).
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.settings import Settings

SYSTEM_DIR = Path("/etc/containers/registries.conf.d")
DROP_IN = """\
# Written by Dockyard: its image registry answers plain HTTP on the loopback.
[[registry]]
location = "{location}"
insecure = true
"""


def drop_in_dir() -> Path:
    """Where containers/image reads drop-ins: the system's for root, else the user's."""
    if os.geteuid() == 0:
        return SYSTEM_DIR
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "containers" / "registries.conf.d"


def write_registry_drop_in(settings: Settings, directory: Path | None = None) -> Path | None:
    """Mark ``127.0.0.1:<registry_port>`` insecure; the file, or None if it could not be
    written (no permission: pulls through Dockyard still work, see :mod:`libpod`)."""
    location = f"127.0.0.1:{settings.registry_port}"
    path = (directory or drop_in_dir()) / f"50-dockyard-{settings.registry_port}.conf"
    text = DROP_IN.format(location=location)
    try:
        if path.is_file() and path.read_text() == text:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError:
        return None
    return path
