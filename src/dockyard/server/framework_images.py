"""Framework images (``dockyard/sklearn:<version>-dockyard<version>``): built once, reused.

A framework image is the base image plus the framework's pinned wheels (resolved on
the host) plus the Dockyard runtime source. It carries a ``dockyard.build-digest``
label over everything that went into it — pinned requirements, base image id, target
platform, runtime source — so "is it up to date?" is one inspect, and a change to the
runtime rebuilds only the runtime layer (the dependency layers come from the cache).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import dockyard
from dockyard.adapters.baseimage import ensure_base_image
from dockyard.adapters.buildcontext import place_file, place_tree
from dockyard.adapters.pip import WheelPlatform, host_platform, resolve_site
from dockyard.errors import NotFound
from dockyard.package.dockerfile import (
    CONTEXT_RUNTIME,
    CONTEXT_SITE,
    LABEL_BUILD_DIGEST,
    render_framework_dockerfile,
)
from dockyard.package.frameworks import Framework, get_framework
from dockyard.ports.engine import Engine
from dockyard.server.build_steps import (
    Progress,
    build_lock,
    context_dir,
    quiet,
    run_build,
    write_dockerfile,
)
from dockyard.settings import Settings

#: Bump when the framework Dockerfile's recipe changes in a way the digest cannot see.
FRAMEWORK_RECIPE = 2


def runtime_sources() -> list[tuple[str, Path]]:
    """``dockyard/__init__.py`` and ``dockyard/runtime/**``: what images run, as source."""
    package = Path(dockyard.__file__).resolve().parent
    files = [("dockyard/__init__.py", package / "__init__.py")]
    for path in sorted((package / "runtime").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((path.relative_to(package.parent).as_posix(), path))
    return files


def framework_digest(
    framework: Framework, base_id: str, sources: list[tuple[str, Path]], target: WheelPlatform
) -> str:
    """Changes whenever anything that goes into the framework image changes."""
    digest = hashlib.sha256()
    parts = (str(FRAMEWORK_RECIPE), base_id, *framework.all_requirements, *framework.prune)
    for part in (*parts, *target.tags):
        digest.update(part.encode() + b"\0")
    for rel, path in sources:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def ensure_framework_image(
    engine: Engine,
    settings: Settings,
    framework: str,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    base_image: str | None = None,
) -> str:
    """The ref of an up-to-date framework image, building it when needed.

    Up to date means its ``dockyard.build-digest`` label matches the current inputs.
    ``rebuild`` re-resolves the wheels and runs the build even then (unchanged layers
    still come from the cache). ``base_image`` overrides the base image (default:
    :func:`~dockyard.adapters.baseimage.ensure_base_image`). Also tags
    ``dockyard/<framework>:latest``.
    """
    say = progress or quiet
    fw = get_framework(framework)
    ref = fw.image_ref()
    base = base_image or ensure_base_image(engine, settings, progress=say)
    base_info = engine.image(base)
    if base_info is None:
        raise NotFound(f"the base image {base} is not in the engine", resource=base)
    target = host_platform()
    sources = runtime_sources()
    digest = framework_digest(fw, base_info.id, sources, target)
    if not rebuild and _up_to_date(engine, ref, digest):
        return _tag_latest(engine, fw, ref)
    with build_lock(settings, f"framework-{fw.name}"):
        if not rebuild and _up_to_date(engine, ref, digest):
            return _tag_latest(engine, fw, ref)  # another build made it while we waited
        say(f"==> Building framework image {ref} on {base}")
        began = time.monotonic()
        site = resolve_site(
            fw.all_requirements,
            settings,
            what=f"the {fw.name} framework",
            target=target,
            refresh=rebuild,
            progress=say,
        )
        with context_dir(settings) as ctx:
            place_tree(site, ctx / CONTEXT_SITE)
            for rel, path in sources:
                place_file(path, ctx / CONTEXT_RUNTIME / rel)
            write_dockerfile(ctx, render_framework_dockerfile(fw, base, build_digest=digest))
            run_build(engine, ctx, ref, say)
        say(f"==> Framework image {ref} ready in {time.monotonic() - began:.1f} s")
    return _tag_latest(engine, fw, ref)


def _up_to_date(engine: Engine, ref: str, digest: str) -> bool:
    info = engine.image(ref)
    return info is not None and info.labels.get(LABEL_BUILD_DIGEST) == digest


def _tag_latest(engine: Engine, fw: Framework, ref: str) -> str:
    """Also tag ``dockyard/<framework>:latest``, so plain ``FROM dockyard/sklearn`` works."""
    latest = f"{fw.repository}:latest"
    info = engine.image(ref)
    if info is not None and latest not in info.tags:
        engine.tag(ref, latest)
    return ref
