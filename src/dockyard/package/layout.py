"""The model-directory layout of framework mode, as SageMaker's framework containers use it.

A directory without a Dockerfile holds::

    model.tar.gz            the model artifact, as a training job writes it
      or model.joblib …     loose model files (anything that is not code or docs)
    inference.py            optional handler: model_fn / input_fn / predict_fn / output_fn
      or code/              optional: inference.py plus its helper modules
    requirements.txt        optional extra pip packages (or code/requirements.txt)

Loose model files land in ``/opt/ml/model``, code in ``/opt/ml/code``. Dot-files,
``__pycache__`` and top-level docs (README, LICENSE, ``*.md``) are ignored.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import SpecError

MODEL_ARCHIVE = "model.tar.gz"
PROGRAM = "inference.py"
REQUIREMENTS = "requirements.txt"
CODE_DIR = "code"
CODE_REQUIREMENTS = f"{CODE_DIR}/{REQUIREMENTS}"
_DOC_PREFIXES = ("readme", "license", "licence", "notice", "changelog")
_COMMENT = re.compile(r"(^|\s)#.*$")
_NOT_MODEL = frozenset({"Dockerfile", ".dockerignore", REQUIREMENTS})


@dataclass(frozen=True)
class CodeLayout:
    """Where the handler code comes from and how it is installed."""

    files: tuple[tuple[str, str], ...]  # (path in the model dir, path under /opt/ml/code)
    program: str | None  # entry script name, relative to the code directory
    requirements_file: str | None  # which file listed extra packages


def is_ignored(path: str) -> bool:
    """Dot-files, byte-code caches and top-level docs never go into an image."""
    parts = path.split("/")
    if any(p.startswith(".") or p == "__pycache__" for p in parts) or path.endswith(".pyc"):
        return True
    return len(parts) == 1 and (parts[0].lower().startswith(_DOC_PREFIXES) or path.endswith(".md"))


def _is_code(path: str) -> bool:
    return path.startswith(f"{CODE_DIR}/") or ("/" not in path and path.endswith(".py"))


def model_files(files: Iterable[str]) -> tuple[str, ...]:
    """Everything that is neither code, packaging, nor ignored: the model itself."""
    return tuple(
        sorted(f for f in files if not is_ignored(f) and not _is_code(f) and f not in _NOT_MODEL)
    )


def code_layout(files: Iterable[str]) -> CodeLayout:
    """Find the handler code; :class:`SpecError` for layouts that would not run."""
    files = [f for f in files if not is_ignored(f)]
    in_code_dir = sorted(f for f in files if f.startswith(f"{CODE_DIR}/"))
    top_level_py = sorted(f for f in files if "/" not in f and f.endswith(".py"))
    requirements = [r for r in (REQUIREMENTS, CODE_REQUIREMENTS) if r in files]
    if len(requirements) > 1:
        raise SpecError(
            "both requirements.txt and code/requirements.txt exist",
            field=REQUIREMENTS,
            hint="keep one of them (code/requirements.txt when the code lives in code/)",
        )
    requirements_file = requirements[0] if requirements else None
    if in_code_dir:
        if top_level_py:
            raise SpecError(
                f"{top_level_py[0]} is outside code/ while a code/ directory exists",
                field=top_level_py[0],
                hint="move every Python file into code/ (the entry script is code/inference.py)",
            )
        sources = [f for f in in_code_dir if f != CODE_REQUIREMENTS]
        if sources and f"{CODE_DIR}/{PROGRAM}" not in sources:
            raise SpecError(
                "code/ has no inference.py",
                field=CODE_DIR,
                hint="name the entry script code/inference.py (it defines model_fn, …)",
            )
        mapped = tuple((f, posixpath.relpath(f, CODE_DIR)) for f in sources)
        return CodeLayout(mapped, PROGRAM if sources else None, requirements_file)
    if top_level_py and PROGRAM not in top_level_py:
        raise SpecError(
            f"{top_level_py[0]} is Python code but there is no inference.py",
            field=top_level_py[0],
            hint="name the entry script inference.py, or move the code into code/ with "
            "code/inference.py as entry",
        )
    mapped = tuple((f, f) for f in top_level_py)
    return CodeLayout(mapped, PROGRAM if top_level_py else None, requirements_file)


def parse_requirements(text: str, *, source: str = REQUIREMENTS) -> tuple[str, ...]:
    """Requirement lines of a requirements file, without comments or blank lines.

    pip options (``-r``, ``--index-url``, ``-e`` …) are refused: wheels are resolved with
    the host's pip configuration, which a requirements file must not override.
    """
    lines: list[str] = []
    pending = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        line = _COMMENT.sub("", line).strip()
        if not line:
            continue
        if line.startswith("-"):
            raise SpecError(
                f"line {number}: pip option '{line.split()[0]}' is not supported",
                field=source,
                hint="list packages only; package indexes come from the host's pip "
                "configuration (pip config list), or build your own image with a Dockerfile",
            )
        lines.append(line)
    return tuple(lines)
