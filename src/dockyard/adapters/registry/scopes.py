"""Scopes of the Docker Registry v2 token protocol, and deciding which to grant.

A client (``docker``, ``skopeo``, Dockyard's own client) asks the token server for
scopes such as ``repository:models/iris:pull,push`` (one ``scope`` parameter each);
the server answers with a token whose ``access`` claim holds *at most* what was
asked: the intersection of the request with what the caller may do. Asking for
more than allowed is not an error (the protocol says so): the token simply lacks
it, and the registry refuses the operation that needs it. This module is pure, so
that policy is decided and tested apart from keys, HTTP and the registry.

Spec: https://distribution.github.io/distribution/spec/auth/scope/
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard.errors import SpecError

# Distribution's repository name grammar (reference/regexp.go), path components only.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
MAX_NAME_LENGTH = 255

# What Distribution 2.8 checks: GET/HEAD need pull; POST/PUT/PATCH need pull and push;
# DELETE needs delete; the catalog needs ``registry:catalog:*``.
ACTIONS = frozenset({"pull", "push", "delete", "*"})
TYPES = frozenset({"repository", "registry"})


@dataclass(frozen=True, order=True)
class Scope:
    """One resource and the actions on it, as in a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def claim(self) -> dict[str, object]:
        """The JSON object Distribution reads from the ``access`` claim."""
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def check_repository(name: str) -> str:
    """``name`` if Distribution accepts it as a repository name, else :class:`SpecError`."""
    if len(name) > MAX_NAME_LENGTH or not REPOSITORY_NAME.match(name):
        raise SpecError(
            f"invalid repository name {name!r}",
            field="repository",
            hint="use lowercase letters, digits and separators (. _ -), path parts "
            "joined by '/', e.g. models/iris",
        )
    return name


def parse_scope(text: str) -> Scope:
    """Parse ``type[(class)]:name:action[,action...]``; :class:`SpecError` if malformed.

    The name sits between the first and the last colon, as the spec allows colons in
    it for other resource types; the optional resource class is dropped (Dockyard
    grants by type and name only).
    """
    kind, sep, rest = text.partition(":")
    name, sep2, action_text = rest.rpartition(":")
    kind = kind.split("(", 1)[0]
    actions = tuple(sorted({a.strip() for a in action_text.split(",") if a.strip()}))
    if not (sep and sep2 and name) or kind not in TYPES or not actions:
        raise SpecError(
            f"malformed scope {text!r}",
            field="scope",
            hint="write it as repository:NAME:pull[,push] or registry:catalog:*",
        )
    unknown = sorted(set(actions) - ACTIONS)
    if unknown:
        raise SpecError(
            f"unknown action(s) {', '.join(unknown)} in scope {text!r}",
            field="scope",
            hint="actions are pull, push, delete and *",
        )
    if kind == "repository":
        check_repository(name)
    return Scope(kind, name, actions)


def parse_scopes(texts: Iterable[str]) -> list[Scope]:
    """Every well-formed scope of ``texts``, merged per resource; malformed ones dropped.

    A token server must not fail a request because one of its scopes is wrong: that
    scope is simply not granted (see :func:`grant`).
    """
    merged: dict[tuple[str, str], set[str]] = {}
    for text in texts:
        for part in text.split(" "):  # some clients join several scopes with spaces
            if not part:
                continue
            try:
                scope = parse_scope(part)
            except SpecError:
                continue
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(t, n, tuple(sorted(a))) for (t, n), a in sorted(merged.items())]


def _matches(pattern: str, scope: Scope) -> bool:
    """``pattern`` names the scope's resource: ``models/*`` (a repository glob) or
    ``registry:catalog`` (a type-prefixed glob; repository names have no colon)."""
    kind, sep, name_pattern = pattern.partition(":")
    if not sep:
        kind, name_pattern = "repository", pattern
    return kind == scope.type and fnmatch.fnmatchcase(scope.name, name_pattern)


def grant(requested: Iterable[str | Scope], allowed: Mapping[str, Iterable[str]]) -> list[Scope]:
    """What to put in the token: each requested scope cut down to what ``allowed`` permits.

    ``allowed`` maps resource patterns to actions, e.g. ``{"models/*": ["pull", "push"],
    "registry:catalog": ["*"]}``. Every pattern that matches a resource adds its
    actions; ``*`` in ``allowed`` permits every action, while a requested ``*`` is
    granted only where ``allowed`` says ``*``. Resources left with no action, and
    malformed requested scopes, are left out.
    """
    texts = [str(s) for s in requested]
    granted: list[Scope] = []
    for scope in parse_scopes(texts):
        permitted: set[str] = set()
        for pattern, actions in allowed.items():
            if _matches(pattern, scope):
                permitted.update(actions)
        if "*" in permitted:
            kept = scope.actions
        else:
            kept = tuple(a for a in scope.actions if a in permitted and a != "*")
        if kept:
            granted.append(Scope(scope.type, scope.name, kept))
    return granted
