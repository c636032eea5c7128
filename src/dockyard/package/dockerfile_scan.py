"""Read the ``FROM`` lines of a user's Dockerfile, the way the builder will resolve them.

Only what decides the build mode is read: global ``ARG`` lines (those before the first
``FROM``, the only ones a ``FROM`` may use), ``FROM`` lines with their stage names, and
the escape directive. Line continuations and comments follow the Dockerfile reference.
Variables are substituted with their defaults (``$X``, ``${X}``, ``${X:-word}``,
``${X:+word}``) so that ``ARG DOCKYARD_FRAMEWORK_IMAGE=dockyard/sklearn`` followed by
``FROM ${DOCKYARD_FRAMEWORK_IMAGE}`` is understood.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from dockyard.errors import SpecError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class FromLine:
    """One ``FROM``: what it names (``raw``), what that resolves to, and its stage name."""

    line: int  # 1-based line number where the instruction starts
    raw: str
    image: str  # after substituting the global ARG defaults
    stage: str | None
    args: tuple[str, ...]  # global ARGs the image reference uses


@dataclass(frozen=True)
class DockerfileScan:
    args: dict[str, str | None]  # global ARGs and their defaults (None: no default)
    froms: tuple[FromLine, ...]


def _escape_char(lines: list[str]) -> str:
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            return match.group(2)
    return "\\"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines; drop comments and blank lines. Returns (line no, text)."""
    physical = text.splitlines()
    escape = _escape_char(physical)
    result: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(physical, start=1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and buffer):
            continue  # comments (also inside a continuation) and blank continuation lines
        if not buffer:
            start = number
        if stripped.endswith(escape):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        joined = " ".join(part for part in buffer if part).strip()
        buffer = []
        if joined:
            result.append((start, joined))
    if buffer:
        result.append((start, " ".join(buffer).strip()))
    return result


def substitute(text: str, values: dict[str, str | None]) -> tuple[str, tuple[str, ...]]:
    """Replace ``$X``-style variables with ``values``; also return the names used."""
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        used.append(name)
        value = values.get(name)
        modifier, word = match.group(2), match.group(3) or ""
        if modifier == "-":
            return value if value else word
        if modifier == "+":
            return word if value else ""
        return value or ""

    return _VARIABLE.sub(replace, text), tuple(used)


def _parse_arg(rest: str, line: int) -> dict[str, str | None]:
    try:
        words = shlex.split(rest, posix=True)
    except ValueError as exc:
        raise SpecError(
            f"line {line}: cannot read ARG ({exc})",
            field="Dockerfile",
            hint="write ARG NAME or ARG NAME=value",
        ) from exc
    args: dict[str, str | None] = {}
    for word in words:
        name, sep, default = word.partition("=")
        args[name] = default if sep else None
    return args


def _parse_from(rest: str, line: int, args: dict[str, str | None]) -> FromLine:
    words = [w for w in rest.split() if not w.startswith("--")]
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise SpecError(
            f"line {line}: cannot read 'FROM {rest}'",
            field="Dockerfile",
            hint="write FROM IMAGE or FROM IMAGE AS NAME",
        )
    image, used = substitute(words[0], args)
    stage = words[2].lower() if len(words) == 3 else None
    return FromLine(line=line, raw=words[0], image=image, stage=stage, args=used)


def scan_dockerfile(text: str) -> DockerfileScan:
    """Global ARGs and every ``FROM`` of ``text``; :class:`SpecError` if there is none."""
    args: dict[str, str | None] = {}
    froms: list[FromLine] = []
    for line, instruction in _logical_lines(text):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not froms:
            args.update(_parse_arg(rest.strip(), line))
        elif keyword == "FROM":
            froms.append(_parse_from(rest.strip(), line, args))
    if not froms:
        raise SpecError(
            "the Dockerfile has no FROM line",
            field="Dockerfile",
            hint="start it with FROM <image>, e.g. FROM dockyard/sklearn",
        )
    return DockerfileScan(args=args, froms=tuple(froms))
