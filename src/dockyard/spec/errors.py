"""Turning validation failures into located, fixable :class:`~dockyard.errors.SpecError`.

Two kinds of failure reach a user:

* pydantic's own (a missing field, a string where a number belongs, a list that is too
  long), explained here from the error type; and
* Dockyard's rules, raised inside validators as :class:`SpecValueError` (a ``ValueError``
  that pydantic carries through unchanged), which already hold a message and a hint.

Either way the user gets one :class:`SpecError` whose ``field`` is a JSON path in the
names they wrote (``containerDefinitions[0].portMappings[0].containerPort``), whose
message says what is wrong and whose hint says how to fix it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from dockyard.errors import SpecError

PathItem = str | int

_PLAIN_KEY = re.compile(r"[A-Za-z_][\w\-]*")
_MAX_EXTRA_PROBLEMS = 3


class SpecValueError(ValueError):
    """A broken rule, raised from a validator; ``at`` is relative to the model validated.

    pydantic records the location of the model (or field) whose validator raised it;
    :func:`spec_error` appends ``at`` to that location, so a rule checked on the task
    definition can point at ``containerDefinitions[2].dependsOn[0].containerName``.
    """

    def __init__(self, message: str, *, hint: str | None = None, at: Sequence[PathItem] = ()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.at = tuple(at)


def format_path(loc: Iterable[PathItem]) -> str:
    """``("a", 0, "b c")`` → ``a[0]["b c"]``: the JSON path a user can find in their file."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        elif item == "[key]":  # pydantic's marker for "the key itself, not its value"
            continue
        elif _PLAIN_KEY.fullmatch(item):
            text += f".{item}" if text else item
        else:
            text += f"[{json.dumps(item)}]"
    return text


def _normalize(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was most likely meant to be, or ``None`` if none is close.

    Case, underscores and hyphens are ignored first (``ContainerPort``, ``container_port``
    → ``containerPort``), then :mod:`difflib` catches typos (``containerPrt``).
    """
    by_normal: dict[str, str] = {}
    for candidate in candidates:
        by_normal.setdefault(_normalize(candidate), candidate)
    if not by_normal:
        return None
    target = _normalize(word)
    if target in by_normal:
        return by_normal[target]
    close = difflib.get_close_matches(target, list(by_normal), n=1, cutoff=0.75)
    return by_normal[close[0]] if close else None


def _literal(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _explain_type(err: ErrorDetails) -> tuple[str, str | None] | None:
    """Message and hint for errors about the *kind* of value given."""
    kind, value = err["type"], err.get("input")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return "must be a whole number, not a string", f"write {value.strip()} without quotes"
        return "must be a whole number", "write a number without quotes, for example 1"
    if kind in ("float_type", "float_parsing"):
        return "must be a number", "write a number without quotes, for example 1.0"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false", "write true or false without quotes"
    if kind == "string_type":
        hint = f"quote the value: write {json.dumps(_literal(value))}"
        return "must be a string", hint if isinstance(value, int | float | bool) else None
    if kind in ("list_type", "tuple_type"):
        return "must be a list", "wrap the value in [ ]"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object", 'write it as {"Name": value, ...}'
    return None


def _explain_size(err: ErrorDetails) -> tuple[str, str | None] | None:
    """Message and hint for errors about a value's length or magnitude."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return f"must be at most {limit} characters", f"shorten it to {limit} characters or fewer"
    if kind == "string_too_short":
        return "must not be empty", "give it a value"
    if kind == "too_long":
        limit, actual = ctx.get("max_length"), ctx.get("actual_length")
        return f"must have at most {limit} entries (it has {actual})", "remove the extra entries"
    if kind == "too_short":
        limit = ctx.get("min_length")
        return f"must have at least {limit} entries", "add the missing entries"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)} (got {err.get('input')!r})", None
    return None


def _explain(err: ErrorDetails) -> tuple[tuple[PathItem, ...], str, str | None]:
    """Location, message and hint of one pydantic error."""
    loc = tuple(err["loc"])
    kind = err["type"]
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, SpecValueError):
        return loc + cause.at, cause.message, cause.hint
    if kind == "missing":
        parent = format_path(loc[:-1]) or "the top level"
        return loc, "is required", f'add "{loc[-1]}" to {parent}'
    if kind in ("literal_error", "enum"):
        return loc, f"must be {err.get('ctx', {}).get('expected')}", None
    if kind == "extra_forbidden":
        return loc, "is not a known field", "remove it"
    explained = _explain_type(err) or _explain_size(err)
    if explained is not None:
        return loc, explained[0], explained[1]
    message = str(cause) if isinstance(cause, ValueError) else err["msg"]
    return loc, message, None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a path in the user's names), what, the fix."""

    at: tuple[PathItem, ...]
    message: str
    hint: str | None = None

    @property
    def field(self) -> str:
        return format_path(self.at) or "document"

    def line(self) -> str:
        """``field: message (hint)``, one line a user can act on without the others."""
        text = f"{self.field}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, str]:
        body = {"field": self.field, "message": self.message}
        if self.hint is not None:
            body["hint"] = self.hint
        return body

    @classmethod
    def of(cls, error: SpecValueError, prefix: Sequence[PathItem] = ()) -> Problem:
        return cls((*prefix, *error.at), error.message, error.hint)


class InvalidDocument(SpecError):
    """Every problem found in one document, so a user fixes them all in one go.

    One problem reads like any :class:`SpecError` (``field``, message, ``hint``).
    Several become one message with a line per problem (each with its own field and
    hint, so the CLI prints them all), and the API body carries them as
    ``errors: [{field, message, hint}]`` for programs.
    """

    def __init__(self, problems: Sequence[Problem], *, what: str) -> None:
        first = problems[0]
        if len(problems) == 1:
            super().__init__(first.message, field=format_path(first.at) or None, hint=first.hint)
        else:
            lines = "\n".join(f"  {problem.line()}" for problem in problems)
            super().__init__(f"the {what} has {len(problems)} problems:\n{lines}")
        self.problems = tuple(problems)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["errors"] = [problem.to_dict() for problem in self.problems]
        return body


def problems_of(exc: ValidationError, *, prefix: Sequence[PathItem] = ()) -> list[Problem]:
    """Every failure pydantic collected, explained, in the order pydantic reported them."""
    found = []
    for err in exc.errors():
        loc, message, hint = _explain(err)
        found.append(Problem((*prefix, *loc), message, hint))
    return found


def spec_error(exc: ValidationError, *, prefix: Sequence[PathItem] = ()) -> SpecError:
    """One :class:`SpecError` for everything ``exc`` found, first problem in front.

    ``field`` and ``hint`` belong to the first problem (pydantic reports in document
    order); up to three more are listed in the message so a user can fix them in one go.
    """
    problems = [_explain(err) for err in exc.errors()]
    if not problems:  # pragma: no cover - pydantic never raises an empty error
        return SpecError(str(exc))
    loc, message, hint = problems[0]
    field = format_path(tuple(prefix) + loc) or None
    others = [
        f"{format_path(tuple(prefix) + other_loc) or 'document'}: {other_message}"
        for other_loc, other_message, _ in problems[1 : 1 + _MAX_EXTRA_PROBLEMS]
    ]
    if len(problems) > 1 + _MAX_EXTRA_PROBLEMS:
        others.append(f"and {len(problems) - 1 - _MAX_EXTRA_PROBLEMS} more")
    if others:
        message = f"{message} (also: {'; '.join(others)})"
    return SpecError(message, field=field, hint=hint)


def merge_problems(shape: Sequence[Problem], model: Sequence[Problem]) -> list[Problem]:
    """Both passes' problems (botocore's shape, the spec model), one per field.

    The model's word on a member is final (it knows what Dockyard supports): where it
    found a problem, the shape's problems at that member and below it are dropped.
    Otherwise the first problem the shape found for a field stands, in the shape's
    order, which is the document's.
    """
    covered = [problem.field for problem in model]

    def superseded(field: str) -> bool:
        return any(field == c or field.startswith((f"{c}.", f"{c}[")) for c in covered)

    merged: dict[str, Problem] = {}
    for problem in shape:
        if not superseded(problem.field):
            merged.setdefault(problem.field, problem)
    for problem in model:
        merged.setdefault(problem.field, problem)
    return list(merged.values())
