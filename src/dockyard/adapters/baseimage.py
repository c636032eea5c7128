"""The Python 3.11 image every framework image starts from.

Resolution order: the configured ``settings.base_image`` when the engine has it or
can pull it; otherwise Dockyard's own ``dockyard/base:py3.11``, made offline from a
debootstrap root filesystem (see :mod:`rootfs`). That is also the air-gapped
workflow: no registry is needed at any point.

Costs are paid once: the root filesystem tarball is cached under
``settings.cache_dir`` (keyed by the recipe), so re-creating the image after an
engine prune is an import of a few seconds; only ``rebuild=True`` runs debootstrap
again. A freshly imported image is checked before it is handed out.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from dockyard import __version__
from dockyard.adapters import rootfs
from dockyard.adapters.filelock import file_lock
from dockyard.errors import SetupError
from dockyard.ports.engine import ContainerSpec, Engine
from dockyard.settings import Settings

BASE_REF = "dockyard/base:py3.11"
CANDIDATE_REF = "dockyard/base:py3.11-rootfs"
RECIPE_VERSION = 1
CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
    f"LABEL dockyard.version={__version__}",
    f"LABEL dockyard.base=debootstrap-{rootfs.SUITE}",
]
CACHE_HINT = "the tarball under <state dir>/cache/base"
CHECK_SCRIPT = "import ssl, sqlite3, json, multiprocessing, sys; print(sys.version)"


def recipe_key() -> str:
    """Changes whenever what goes into the root filesystem changes."""
    recipe = f"{rootfs.SUITE}|{rootfs.VARIANT}|{','.join(rootfs.INCLUDE)}|{RECIPE_VERSION}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def cached_tarball(settings: Settings) -> Path:
    """Where the root filesystem tarball for the current recipe is kept."""
    return settings.cache_dir / "base" / f"{rootfs.SUITE}-py3.11-{recipe_key()}.tar"


def ensure_base_image(
    engine: Engine,
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The ref of a usable Python 3.11 base image, making one when needed.

    ``rebuild`` re-runs debootstrap for Dockyard's own base; it does not apply when
    the configured ``settings.base_image`` is present or pullable.
    """
    say = progress or (lambda _line: None)
    configured = settings.base_image
    if configured != BASE_REF:
        if engine.image(configured) is not None:
            return configured
        if engine.pull(configured):
            say(f"pulled {configured}")
            return configured
        say(f"{configured} is not available and cannot be pulled; using {BASE_REF}")
    if not rebuild and engine.image(BASE_REF) is not None:
        return BASE_REF
    tarball = cached_tarball(settings)
    with file_lock(tarball.parent / ".lock"):  # one builder per cache directory
        if not rebuild and engine.image(BASE_REF) is not None:
            return BASE_REF  # another process made it while we waited
        if rebuild or not tarball.is_file():
            seconds = rootfs.build_rootfs_tarball(tarball, say)
            say(f"root filesystem ready in {seconds:.0f} s ({tarball})")
        began = time.monotonic()
        engine.import_rootfs(str(tarball), CANDIDATE_REF, CHANGES)
        say(f"imported {CANDIDATE_REF} in {time.monotonic() - began:.1f} s")
        check_base_image(engine, CANDIDATE_REF)
        engine.tag(CANDIDATE_REF, BASE_REF)  # only a checked image gets the real name
    return BASE_REF


def check_base_image(engine: Engine, ref: str) -> None:
    """Run the image once: Python starts and its stdlib's native modules load."""
    name = f"dockyard-base-check-{uuid.uuid4().hex[:8]}"
    state = engine.run(
        ContainerSpec(
            name=name,
            image=ref,
            command=["python3", "-c", CHECK_SCRIPT],
            labels={"dockyard.check": "base-image"},
        )
    )
    try:
        code = engine.wait(state.id, timeout=120)
        output = b"".join(engine.logs(state.id)).decode(errors="replace").strip()
    finally:
        engine.remove(state.id)
    if code != 0:
        raise SetupError(
            f"the base image {ref} does not work (exit {code}): {output}",
            resource=ref,
            hint=f"the cached root filesystem may be damaged: delete {CACHE_HINT} and retry",
        )
