"""Decide how a model directory becomes an image: framework, extend, or bring your own.

The three ways AWS's guides describe, decided from a description of the directory
(:class:`ModelDir`) that the caller gathers:

- **framework** — no Dockerfile. Dockyard builds the model image on its framework image:
  the model artifact (``model.tar.gz`` or loose files such as ``model.joblib``) goes to
  ``/opt/ml/model``, an optional ``inference.py`` (or ``code/``) to ``/opt/ml/code``,
  optional ``requirements.txt`` packages next to the framework's.
- **extend** — a Dockerfile whose ``FROM`` is a Dockyard framework image
  (``FROM dockyard/sklearn:…``, or ``ARG DOCKYARD_FRAMEWORK_IMAGE=dockyard/sklearn`` then
  ``FROM ${DOCKYARD_FRAMEWORK_IMAGE}``). That image is built first when missing; an
  untagged reference through an ARG is pinned to this Dockyard's image with a build arg.
- **byoc** — any other Dockerfile, built as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from dockyard.errors import SpecError
from dockyard.package.dockerfile_scan import FromLine, scan_dockerfile
from dockyard.package.frameworks import Framework, frameworks_for_files, get_framework, known_names
from dockyard.package.layout import (
    CODE_DIR,
    CODE_REQUIREMENTS,
    MODEL_ARCHIVE,
    PROGRAM,
    REQUIREMENTS,
    CodeLayout,
    code_layout,
    is_ignored,
    model_files,
    parse_requirements,
)
from dockyard.package.refs import FrameworkImageRef, framework_image_ref

DOCKERFILE = "Dockerfile"
#: The documented build argument for extending "whatever framework image is current".
FRAMEWORK_IMAGE_ARG = "DOCKYARD_FRAMEWORK_IMAGE"
#: Files whose contents the caller must put in :attr:`ModelDir.texts` when they exist.
TEXT_FILES = (DOCKERFILE, REQUIREMENTS, CODE_REQUIREMENTS)
#: Files inside the model archive whose contents go in :attr:`ModelDir.archive_texts`.
ARCHIVE_TEXT_FILES = (CODE_REQUIREMENTS,)
MODEL_DIR = "/opt/ml/model"
CODE_PATH = "/opt/ml/code"


_WHOLE_ARG = re.compile(r"^(?:\$([A-Za-z_]\w*)|\$\{([A-Za-z_]\w*)(?::-[^}]*)?\})$")


class BuildMode(StrEnum):
    FRAMEWORK = "framework"
    EXTEND = "extend"
    BYOC = "byoc"


@dataclass(frozen=True)
class ModelDir:
    """What the caller found in a model directory (after applying ``.dockerignore``).

    ``files`` are relative ``/``-separated paths of regular files. ``archive_members``
    lists the regular files inside the model archive in use (the directory's
    ``model.tar.gz``, or ``model_data`` when one was given instead).
    """

    files: tuple[str, ...]
    texts: Mapping[str, str] = field(default_factory=dict)
    archive_members: tuple[str, ...] = ()
    archive_texts: Mapping[str, str] = field(default_factory=dict)
    model_data: str | None = None  # name of an archive given instead of the directory's


@dataclass(frozen=True)
class BuildPlan:
    """What to build and from what; :mod:`dockyard.package.dockerfile` renders it."""

    mode: BuildMode
    framework: Framework | None = None
    framework_images: tuple[FrameworkImageRef, ...] = ()  # must exist before building
    external_images: tuple[str, ...] = ()  # other FROM images the engine must hold
    buildargs: Mapping[str, str] = field(default_factory=dict)
    model_archive: str | None = None  # archive to unpack into /opt/ml/model
    model_files: tuple[str, ...] = ()  # loose files copied into /opt/ml/model
    code: CodeLayout | None = None  # handler code copied into /opt/ml/code
    program: str | None = None  # SAGEMAKER_PROGRAM
    submit_directory: str | None = None  # SAGEMAKER_SUBMIT_DIRECTORY
    requirements: tuple[str, ...] = ()
    requirements_file: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def framework_image(self) -> str | None:
        """The framework image the final stage builds on (framework and extend modes)."""
        return self.framework_images[-1].ref if self.framework_images else None


def decide_plan(model_dir: ModelDir, *, framework: str | None = None) -> BuildPlan:
    """The build plan for ``model_dir``; :class:`SpecError` for layouts that cannot work."""
    if DOCKERFILE in model_dir.files:
        if model_dir.model_data is not None:
            raise SpecError(
                "a model archive cannot be added to a directory with its own Dockerfile",
                field="model_data",
                hint="COPY the model in the Dockerfile, or remove the Dockerfile to use "
                "framework mode",
            )
        return _dockerfile_plan(model_dir.texts.get(DOCKERFILE, ""), framework)
    return _framework_plan(model_dir, framework)


# --- framework mode -------------------------------------------------------------------


def _artifact(model_dir: ModelDir) -> tuple[str | None, tuple[str, ...], list[str]]:
    """(archive, loose model files, notes) for the directory."""
    loose = model_files(model_dir.files)
    if model_dir.model_data is not None:
        notes = [f"ignoring {f}: the model comes from {model_dir.model_data}" for f in loose]
        return model_dir.model_data, (), notes
    if MODEL_ARCHIVE in loose:
        others = [f for f in loose if f != MODEL_ARCHIVE]
        if others:
            raise SpecError(
                f"both {MODEL_ARCHIVE} and loose model files ({', '.join(others[:3])}) exist",
                field=others[0],
                hint=f"keep one artifact: pack the loose files into {MODEL_ARCHIVE}, or "
                f"remove {MODEL_ARCHIVE}",
            )
        return MODEL_ARCHIVE, (), []
    if not loose:
        raise SpecError(
            f"no model artifact and no Dockerfile: found neither {MODEL_ARCHIVE}, nor a "
            "model file, nor a Dockerfile",
            field="model_dir",
            hint=f"add {MODEL_ARCHIVE} or the saved model (e.g. model.joblib), or a "
            "Dockerfile to build your own container",
        )
    return None, loose, []


def _pick_framework(name: str | None, candidates_from: tuple[str, ...]) -> Framework:
    if name:
        return get_framework(name)
    candidates = frameworks_for_files(candidates_from)
    if len(candidates) == 1:
        return candidates[0]
    shown = ", ".join(candidates_from[:3]) or "the model artifact"
    reason = (
        f"{shown} could be loaded by {', '.join(c.name for c in candidates)}"
        if candidates
        else f"cannot tell which framework loads {shown}"
    )
    raise SpecError(reason, field="framework", hint=f"name it: --framework ({known_names()})")


def _archive_code(model_dir: ModelDir) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Handler code packed inside the archive (SageMaker's ``code/`` convention)."""
    members = model_dir.archive_members
    if f"{CODE_DIR}/{PROGRAM}" not in members:
        return None, None, ()
    text = model_dir.archive_texts.get(CODE_REQUIREMENTS)
    source = f"{CODE_REQUIREMENTS} in the model archive"
    requirements = parse_requirements(text, source=source) if text is not None else ()
    return PROGRAM, f"{MODEL_DIR}/{CODE_DIR}", requirements


def _framework_plan(model_dir: ModelDir, framework: str | None) -> BuildPlan:
    archive, loose, notes = _artifact(model_dir)
    code = code_layout(model_dir.files)
    if archive is not None:
        members = tuple(
            m for m in model_dir.archive_members if not is_ignored(m) and not m.startswith("code/")
        )
        fw = _pick_framework(framework, members)
    else:
        fw = _pick_framework(framework, loose)
    requirements: tuple[str, ...] = ()
    if code.requirements_file is not None:
        text = model_dir.texts.get(code.requirements_file, "")
        requirements = parse_requirements(text, source=code.requirements_file)
    program = code.program
    submit = CODE_PATH if code.program else None
    archive_program, archive_submit, archive_requirements = _archive_code(model_dir)
    if archive_program and not code.files:
        program, submit = archive_program, archive_submit
        if not requirements:
            requirements = archive_requirements
    elif archive_program:
        notes.append(f"the model archive also holds {CODE_DIR}/; the directory's code is used")
    return BuildPlan(
        mode=BuildMode.FRAMEWORK,
        framework=fw,
        framework_images=(FrameworkImageRef(fw, fw.image_ref(), current=True, floating=False),),
        model_archive=archive,
        model_files=loose,
        code=code if code.files else None,
        program=program,
        submit_directory=submit,
        requirements=requirements,
        requirements_file=code.requirements_file,
        notes=tuple(notes),
    )


# --- extend and bring-your-own-container ----------------------------------------------


def _framework_from(line: FromLine, framework: str | None) -> str:
    """The image a FROM names, supplying ``--framework`` for an ARG without a default."""
    if line.image:
        return line.image
    if framework and line.args:
        return get_framework(framework).repository
    names = ", ".join(line.args) or line.raw
    raise SpecError(
        f"line {line.line}: FROM {line.raw} names no image ({names} has no default)",
        field=DOCKERFILE,
        hint=f"give the ARG a default (ARG {FRAMEWORK_IMAGE_ARG}=dockyard/sklearn) or pass "
        "--framework",
    )


def _whole_arg(line: FromLine) -> str | None:
    """The ARG when the FROM is nothing but one (``$X``, ``${X}``, ``${X:-default}``)."""
    match = _WHOLE_ARG.match(line.raw)
    return match.group(1) or match.group(2) if match else None


def _framework_ref(line: FromLine, image: str) -> FrameworkImageRef | None:
    try:
        return framework_image_ref(image)
    except SpecError as exc:
        raise SpecError(
            f"line {line.line}: FROM {image}: {exc.message}", field=DOCKERFILE, hint=exc.hint
        ) from exc


def _dockerfile_plan(text: str, framework: str | None) -> BuildPlan:
    scan = scan_dockerfile(text)
    stages: set[str] = set()
    fw_images: list[FrameworkImageRef] = []
    external: list[str] = []
    buildargs: dict[str, str] = {}
    for line in scan.froms:
        image = _framework_from(line, framework)
        if image.lower() in stages or image.lower() == "scratch":
            pass
        elif (fw_ref := _framework_ref(line, image)) is not None:
            fw_images.append(fw_ref)
            if fw_ref.floating and (arg := _whole_arg(line)):
                buildargs[arg] = fw_ref.ref
        elif image not in external:
            external.append(image)
        if line.stage:
            stages.add(line.stage)
    if not fw_images:
        if framework:
            raise SpecError(
                "--framework applies to directories without a Dockerfile, or to a "
                "Dockerfile that extends a Dockyard framework image",
                field="framework",
                hint="drop --framework to build this Dockerfile as it is, or start it with "
                "FROM dockyard/<framework>",
            )
        return BuildPlan(mode=BuildMode.BYOC, external_images=tuple(external))
    final = fw_images[-1].framework
    if framework and get_framework(framework) != final:
        raise SpecError(
            f"--framework {framework} does not match the Dockerfile's FROM {final.repository}",
            field="framework",
            hint="drop --framework, or change the FROM line",
        )
    return BuildPlan(
        mode=BuildMode.EXTEND,
        framework=final,
        framework_images=tuple(dict.fromkeys(fw_images)),
        external_images=tuple(external),
        buildargs=buildargs,
    )
