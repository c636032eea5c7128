"""``.dockerignore`` matching, with the builder's semantics.

Rules (as Docker applies them): one pattern per line, ``#`` starts a comment line,
``!`` re-includes, later lines win; patterns are cleaned paths relative to the context
root (a leading ``/`` is dropped); ``*`` and ``?`` do not cross ``/``, ``**`` matches any
number of directories; a path is excluded when a pattern matches it *or any of its
parent directories*. The Dockerfile and ``.dockerignore`` are always sent, as Docker does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

ALWAYS_SENT = ("Dockerfile", ".dockerignore")


def _translate(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("^"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool


class DockerIgnore:
    """A parsed ``.dockerignore``; :meth:`excluded` answers for one relative path."""

    def __init__(self, rules: list[_Rule]) -> None:
        self._rules = rules

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        rules: list[_Rule] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:].strip()
            pattern = posixpath.normpath(line).lstrip("/") or "."
            if pattern == ".":
                continue
            rules.append(_Rule(re.compile(f"^{_translate(pattern)}$"), negate))
        return cls(rules)

    @property
    def has_exceptions(self) -> bool:
        """Whether any ``!`` rule exists (then an excluded directory may hold kept files)."""
        return any(rule.negate for rule in self._rules)

    def excluded(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) stays out of the build context."""
        path = posixpath.normpath(path).lstrip("/")
        if path in ALWAYS_SENT:
            return False
        parts = path.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for rule in self._rules:
            if any(rule.regex.match(c) for c in candidates):
                verdict = not rule.negate
        return verdict

    def filter(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p for p in paths if not self.excluded(p))
