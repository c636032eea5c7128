"""Records to JSON documents and back.

The store keeps plain JSON; the control plane works on typed, immutable values. This
codec walks a dataclass's type hints, so a new field in a record needs no change here:
enums travel as their values, tuples as lists, nested dataclasses as objects, paths
as strings, and validated specs (pydantic models) in AWS's own names, exactly as a
user would write them.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


def to_doc(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [to_doc(item) for item in value]
    if isinstance(value, dict):
        return {key: to_doc(item) for key, item in value.items()}
    return value


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_doc(cls: type[T], doc: Any) -> T:
    """Rebuild ``cls`` (a dataclass) from :func:`to_doc`'s output.

    A record whose field was renamed lists ``RENAMED_FIELDS`` (old name → new name), so
    documents an earlier version wrote still read: state outlives upgrades."""
    target: Any = cls
    for old, new in getattr(target, "RENAMED_FIELDS", {}).items():
        if old in doc and new not in doc:
            doc = {**doc, new: doc[old]}
    hints = _hints(target)
    kwargs = {
        f.name: _convert(hints[f.name], doc[f.name])
        for f in dataclasses.fields(target)
        if f.name in doc
    }
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item) for item in value)
        return tuple(_convert(arg, item) for arg, item in zip(args, value, strict=True))
    if origin in (dict, typing.Mapping, collections.abc.Mapping) or hint in (dict,):
        args = typing.get_args(hint)
        return {k: _convert(args[1], v) for k, v in value.items()} if args else dict(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint.model_validate(value)
    if hint is Path:
        return Path(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_doc(hint, value)
    return value
