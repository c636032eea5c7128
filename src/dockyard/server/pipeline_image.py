"""The image of a multi-container replica's router: the base image and one script.

The router (:mod:`dockyard.runtime.pipeline.router`) needs only Python's standard
library, so its image is the base image (Python 3.11, made offline by Dockyard) plus
that one file, built once per engine and rebuilt when the script changes (its digest
is in the tag). Building takes a second or two on a cached base.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from dockyard.adapters.baseimage import ensure_base_image
from dockyard.adapters.filelock import file_lock
from dockyard.errors import SetupError
from dockyard.ports.engine import Engine
from dockyard.runtime.pipeline import router
from dockyard.settings import Settings

REPOSITORY = "dockyard/pipeline-router"


def router_ref() -> str:
    """The router image's tag: the script's digest, so a changed script is a new image."""
    digest = hashlib.sha256(Path(router.__file__).read_bytes()).hexdigest()[:16]
    return f"{REPOSITORY}:{digest}"


def ensure_router_image(engine: Engine, settings: Settings) -> str:
    """The router image's ref in ``engine``, built on first use."""
    script = Path(router.__file__)
    ref = router_ref()
    if engine.image(ref) is not None:
        return ref
    base = ensure_base_image(engine, settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(settings.state_dir / "pipeline-router.lock"):
        if engine.image(ref) is not None:
            return ref
        with tempfile.TemporaryDirectory(prefix="dockyard-router-") as context:
            shutil.copy(script, Path(context) / "router.py")
            (Path(context) / "Dockerfile").write_text(
                f'FROM {base}\nCOPY router.py /router.py\nENTRYPOINT ["python3", "/router.py"]\n'
            )
            events = list(engine.build(context, ref))
        if engine.image(ref) is None:
            raise SetupError(
                f"could not build the pipeline router image {ref}: {events[-1:]}",
                resource=ref,
                hint="check that the base image builds (`dockyard setup`)",
            )
    return ref
