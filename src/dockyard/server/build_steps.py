"""Plumbing shared by image builds: scratch contexts, locks, running the builder.

The builder's output is streamed line by line to the caller's progress callback and
kept, so that the result can say which steps came from the layer cache.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dockyard.adapters.buildcontext import finish_context
from dockyard.adapters.filelock import file_lock
from dockyard.errors import BuildFailed
from dockyard.package.buildlog import BuildSteps, summarize_build_log
from dockyard.package.plan import DOCKERFILE
from dockyard.ports.engine import Engine
from dockyard.settings import Settings

Progress = Callable[[str], None]


def quiet(_line: str) -> None:
    """A progress callback that drops everything."""
    return None


def write_dockerfile(ctx: Path, text: str) -> None:
    path = ctx / DOCKERFILE
    path.write_text(text)
    path.chmod(0o644)


def run_build(
    engine: Engine,
    ctx: Path,
    ref: str,
    say: Progress,
    *,
    labels: Mapping[str, str] | None = None,
    buildargs: Mapping[str, str] | None = None,
) -> tuple[str, BuildSteps | None]:
    """Build ``ctx`` as ``ref``, streaming the builder's lines; (image id, cache summary)."""
    finish_context(ctx)
    output: list[str] = []
    image_id: str | None = None
    events = engine.build(
        str(ctx),
        ref,
        labels=dict(labels) if labels else None,
        buildargs=dict(buildargs) if buildargs else None,
    )
    for event in events:
        if event.stream:
            output.append(event.stream)
            for line in event.stream.splitlines():
                if line.strip():
                    say(line.rstrip())
        if event.image_id:
            image_id = event.image_id
    if image_id is None:
        info = engine.image(ref)
        if info is None:
            tail = "".join(output[-20:]).strip()
            raise BuildFailed(f"the build of {ref} produced no image\n{tail}", resource=ref)
        image_id = info.id
    return image_id, summarize_build_log(output)


@contextmanager
def context_dir(settings: Settings) -> Iterator[Path]:
    """A scratch build context on the cache's file system (so hard links work)."""
    parent = settings.cache_dir / "contexts"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=parent) as scratch:
        yield Path(scratch)


@contextmanager
def build_lock(settings: Settings, name: str) -> Iterator[None]:
    """One builder of a given image at a time, across processes."""
    with file_lock(settings.cache_dir / "locks" / f"{name}.lock"):
        yield
