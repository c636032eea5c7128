"""The namespace holder's image: catatonit in pause mode, and nothing else.

A task whose containers share one network namespace, and a training host whose name
must resolve after its container exits, need something to hold the namespace that
outlives any one container (see :mod:`dockyard.control.task_network`). catatonit, the
small static init Podman uses for the same job, does nothing in ``-P`` mode but wait
for its stop signal. The image is one file, imported from the host's binary, so no
registry is needed and it is made in well under a second, once per engine.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
from pathlib import Path

from dockyard.errors import SetupError
from dockyard.ports.engine import Engine

REPOSITORY = "dockyard/pause"
SEARCH = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit", "/usr/local/bin/catatonit")


def find_catatonit() -> Path | None:
    found = shutil.which("catatonit")
    candidates = [Path(found)] if found else []
    candidates += [Path(p) for p in SEARCH]
    return next((p.resolve() for p in candidates if p.is_file()), None)


def ensure_pause_image(engine: Engine) -> str:
    """The holder image's ref in ``engine`` (imported from the host's catatonit)."""
    binary = find_catatonit()
    if binary is None:
        raise SetupError(
            "catatonit is needed to hold a network namespace (for an awsvpc task of "
            "several containers, or for the host names of a training job of several hosts)",
            resource="catatonit",
            hint="install catatonit (`dockyard setup` does, or `apt-get install catatonit`)",
        )
    data = binary.read_bytes()
    ref = f"{REPOSITORY}:{hashlib.sha256(data).hexdigest()[:12]}"
    if engine.image(ref) is not None:
        return ref
    with tempfile.TemporaryDirectory(prefix="dockyard-pause-") as scratch:
        tar_path = Path(scratch) / "pause.tar"
        with tarfile.open(tar_path, "w") as tar:
            info = tarfile.TarInfo("catatonit")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        engine.import_rootfs(
            str(tar_path),
            ref,
            ['ENTRYPOINT ["/catatonit", "-P"]', "LABEL dockyard.managed=1"],
        )
    return ref
