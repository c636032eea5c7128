"""``dockyard build``: a model directory into an image, through the engine port.

The pure decisions live in :mod:`dockyard.package`; this module does the I/O around
them: list the model directory (honouring ``.dockerignore``), unpack the model archive,
resolve extra wheels on the host (:mod:`dockyard.adapters.pip`), assemble a minimal,
reproducible build context in a scratch directory, and run the engine's builder.

Fast rebuilds come from three things together: the framework image is built once
(:mod:`dockyard.server.framework_images`); wheels are resolved once per requirement set;
and every build context is stable in content and modes
(:mod:`dockyard.adapters.buildcontext`), so the builder's layer cache hits for everything
that did not change. Editing ``inference.py`` rebuilds only the last layer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.artifacts.tarball import extract_model_tarball
from dockyard.adapters.baseimage import BASE_REF, ensure_base_image
from dockyard.adapters.buildcontext import (
    DirListing,
    normalize_tree,
    place_file,
    place_listing,
    place_tree,
    scan_dir,
)
from dockyard.adapters.pip import installed_versions, resolve_site
from dockyard.errors import NotFound, SpecError
from dockyard.package.dockerfile import (
    CONTEXT_CODE,
    CONTEXT_MODEL,
    CONTEXT_USER_SITE,
    LABEL_MODE,
    render_model_dockerfile,
)
from dockyard.package.frameworks import IMAGE_NAMESPACE
from dockyard.package.layout import MODEL_ARCHIVE
from dockyard.package.plan import (
    ARCHIVE_TEXT_FILES,
    DOCKERFILE,
    TEXT_FILES,
    BuildMode,
    BuildPlan,
    ModelDir,
    decide_plan,
)
from dockyard.package.refs import FrameworkImageRef, parse_image_ref
from dockyard.ports.engine import Engine
from dockyard.server.build_steps import Progress, context_dir, quiet, run_build, write_dockerfile
from dockyard.server.framework_images import ensure_framework_image
from dockyard.settings import Settings

__all__ = ["BuildResult", "build_model_image", "ensure_framework_image"]

_MAX_TEXT_BYTES = 1 << 20


@dataclass(frozen=True)
class BuildResult:
    """What a build produced, and how much of it the layer cache saved."""

    image: str
    image_id: str
    size_bytes: int
    mode: BuildMode
    seconds: float
    layers_rebuilt: tuple[str, ...] | None = None  # None: the builder's output was unreadable
    steps_cached: int | None = None
    steps_total: int | None = None
    framework_image: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Job:
    """What every step of one model build needs."""

    engine: Engine
    settings: Settings
    say: Progress
    base_image: str | None

    def framework_image(self, name: str) -> str:
        return ensure_framework_image(
            self.engine, self.settings, name, progress=self.say, base_image=self.base_image
        )


def build_model_image(
    engine: Engine,
    settings: Settings,
    model_dir: Path,
    tag: str,
    *,
    framework: str | None = None,
    model_data: Path | None = None,
    progress: Progress | None = None,
    base_image: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> BuildResult:
    """Build ``model_dir`` into the image ``tag`` (framework, extend or BYOC mode).

    ``model_data`` is a ``model.tar.gz`` (e.g. a training job's output) used instead of
    the directory's artifact. ``base_image`` overrides the framework images' base.
    ``labels`` are added to the image (with ``dockyard.build-mode``).
    """
    began = time.monotonic()
    say = progress or quiet
    ref = _model_ref(tag)
    model_dir = _check_inputs(model_dir, model_data)
    job = _Job(engine, settings, say, base_image)
    listing = scan_dir(model_dir)
    with context_dir(settings) as ctx:
        described = _describe(listing, ctx, model_data)
        plan = decide_plan(described, framework=framework)
        for note in plan.notes:
            say(f"==> Note: {note}")
        say(f"==> {plan.mode.value} build of {model_dir} as {ref}")
        if plan.mode is BuildMode.FRAMEWORK:
            plan = _assemble_framework_mode(job, plan, listing, ctx)
        else:
            _ensure_bases(job, plan)
            place_listing(listing, ctx)
        image_labels = {**(labels or {}), LABEL_MODE: plan.mode.value}
        image_id, steps = run_build(
            engine, ctx, ref, say, labels=image_labels, buildargs=plan.buildargs
        )
    info = engine.image(ref)
    seconds = time.monotonic() - began
    say(f"==> Built {ref} in {seconds:.1f} s")
    return BuildResult(
        image=ref,
        image_id=image_id,
        size_bytes=info.size_bytes if info else 0,
        mode=plan.mode,
        seconds=round(seconds, 3),
        layers_rebuilt=steps.layers_rebuilt if steps else None,
        steps_cached=len(steps.cached) if steps else None,
        steps_total=steps.total if steps else None,
        framework_image=plan.framework_image,
        notes=plan.notes,
    )


def _model_ref(tag: str) -> str:
    ref = parse_image_ref(tag, field="tag")
    if ref.repository.startswith(f"{IMAGE_NAMESPACE}/"):
        raise SpecError(
            f"'{tag}' is in the {IMAGE_NAMESPACE}/ namespace, which Dockyard's own images use",
            field="tag",
            hint="choose another name, e.g. 'iris:1' or 'team/iris:1'",
        )
    return ref.with_default_tag


def _check_inputs(model_dir: Path, model_data: Path | None) -> Path:
    if not model_dir.is_dir():
        raise SpecError(
            f"{model_dir} is not a directory",
            field="model_dir",
            hint="give the directory that holds the model (and optionally a Dockerfile)",
        )
    if model_data is not None and not model_data.is_file():
        raise SpecError(
            f"{model_data} is not a file",
            field="model_data",
            hint="give the path of a model.tar.gz",
        )
    return model_dir.resolve()


def _read_text(path: Path, field: str) -> str:
    if path.stat().st_size > _MAX_TEXT_BYTES:
        raise SpecError(f"{path.name} is larger than 1 MiB", field=field)
    return path.read_text(errors="replace")


def _describe(listing: DirListing, ctx: Path, model_data: Path | None) -> ModelDir:
    """What :func:`decide_plan` needs; unpacks the model archive into the context."""
    texts = {
        name: _read_text(listing.root / name, name) for name in TEXT_FILES if name in listing.files
    }
    archive = model_data
    if archive is None and DOCKERFILE not in listing.files and MODEL_ARCHIVE in listing.files:
        archive = listing.root / MODEL_ARCHIVE
    members: tuple[str, ...] = ()
    archive_texts: dict[str, str] = {}
    if archive is not None and DOCKERFILE not in listing.files:
        field = "model_data" if model_data is not None else MODEL_ARCHIVE
        unpacked = ctx / CONTEXT_MODEL
        members = tuple(extract_model_tarball(archive, unpacked, field=field))
        normalize_tree(unpacked)
        for name in ARCHIVE_TEXT_FILES:
            if name in members:
                archive_texts[name] = _read_text(unpacked / name, f"{archive.name}:{name}")
    return ModelDir(
        files=listing.files,
        texts=texts,
        archive_members=members,
        archive_texts=archive_texts,
        model_data=model_data.name if model_data is not None else None,
    )


def _assemble_framework_mode(
    job: _Job, plan: BuildPlan, listing: DirListing, ctx: Path
) -> BuildPlan:
    """Framework image + model + code + extra wheels in the context; returns the plan used."""
    assert plan.framework is not None
    job.framework_image(plan.framework.name)
    for rel in plan.model_files:
        place_file(listing.root / rel, ctx / CONTEXT_MODEL / rel)
    for source, dest in plan.code.files if plan.code else ():
        place_file(listing.root / source, ctx / CONTEXT_CODE / dest)
    if plan.requirements:
        user_site = _resolve_user_requirements(job.settings, plan, job.say)
        if any(user_site.iterdir()):
            place_tree(user_site, ctx / CONTEXT_USER_SITE)
        else:
            job.say("==> Note: requirements.txt adds nothing the framework image lacks")
            plan = dataclasses.replace(plan, requirements=())
    write_dockerfile(ctx, render_model_dockerfile(plan))
    return plan


def _resolve_user_requirements(settings: Settings, plan: BuildPlan, say: Progress) -> Path:
    """Extra wheels, pinned to the framework image's versions and without duplicates."""
    assert plan.framework is not None
    framework_site = resolve_site(
        plan.framework.all_requirements, settings, what=f"the {plan.framework.name} framework"
    )
    present = installed_versions(framework_site)
    return resolve_site(
        plan.requirements,
        settings,
        what=plan.requirements_file or "requirements.txt",
        constraints=[f"{name}=={version}" for name, version in sorted(present.items())],
        exclude=set(present),
        progress=say,
    )


def _ensure_bases(job: _Job, plan: BuildPlan) -> None:
    """Every image the Dockerfile starts FROM must be in the engine before building."""
    for fw_image in plan.framework_images:
        _ensure_framework_ref(job, fw_image)
    for image in plan.external_images:
        if job.engine.image(image) is not None:
            continue
        if image == BASE_REF:
            ensure_base_image(job.engine, job.settings, progress=job.say)
        elif not job.engine.pull(image):
            raise NotFound(
                f"the Dockerfile starts FROM {image}, which the engine does not have and "
                "cannot pull",
                resource=image,
                hint=f"load that image into the engine first, or start FROM {BASE_REF} or "
                "a Dockyard framework image (dockyard/sklearn)",
            )


def _ensure_framework_ref(job: _Job, fw_image: FrameworkImageRef) -> None:
    if fw_image.current:
        job.framework_image(fw_image.framework.name)
    elif job.engine.image(fw_image.ref) is None:
        raise NotFound(
            f"the Dockerfile starts FROM {fw_image.ref}, which this engine does not have",
            resource=fw_image.ref,
            hint=f"this Dockyard builds {fw_image.framework.image_ref()}: use FROM "
            f"{fw_image.framework.repository} (or ARG DOCKYARD_FRAMEWORK_IMAGE="
            f"{fw_image.framework.repository}) to follow it",
        )
