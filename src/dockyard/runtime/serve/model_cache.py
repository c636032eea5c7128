"""Which models a multi-model server holds, what they cost, and which one goes next (pure).

No I/O and no clock: the multi-model layer (``multi_model.py``) measures a model, asks
:meth:`ModelCache.fits` before loading it, records it with :meth:`ModelCache.add`, marks
every use with :meth:`ModelCache.touch`, and on a shortage asks
:meth:`ModelCache.victim` for the least recently used model to unload. It lives in the
runtime rather than in ``dockyard.control`` because images carry only
``dockyard.runtime``.

Cost: the bytes a model's directory takes on disk. That is deterministic, known before
the model is loaded (so a load that cannot fit is refused before it runs, never after it
has used the memory), and close to what a pickled scikit-learn or XGBoost model takes
once loaded. The budget is ``DOCKYARD_MODEL_MEMORY_MB``.

Pages of ``GET /models`` are in name order; a page token is the last name of the page
before, base64url-encoded, so a listing stays correct while models come and go (a token
that counted positions would skip or repeat models after an unload).
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class BadPageToken(ValueError):
    """A ``next_page_token`` this server did not hand out."""


@dataclass(frozen=True)
class CachedModel:
    """One loaded model as the cache accounts for it."""

    name: str
    url: str
    size_bytes: int


class ModelCache:
    """Loaded models in least- to most-recently-used order, within a byte budget."""

    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes <= 0:
            raise ValueError("the budget must be positive")
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[str, CachedModel] = OrderedDict()
        self._used = 0

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def __len__(self) -> int:
        return len(self._models)

    @property
    def used_bytes(self) -> int:
        """Bytes the loaded models take together."""
        return self._used

    def get(self, name: str) -> CachedModel | None:
        return self._models.get(name)

    def fits(self, size_bytes: int) -> bool:
        """Whether a model of ``size_bytes`` can be added without passing the budget."""
        return self._used + size_bytes <= self.budget_bytes

    def add(self, model: CachedModel) -> None:
        """Record a loaded model as the most recently used; a name is added once."""
        if model.name in self._models:
            raise KeyError(f"model {model.name} is already loaded")
        self._models[model.name] = model
        self._used += model.size_bytes

    def touch(self, name: str) -> None:
        """Mark ``name`` as just used (it becomes the last to be unloaded)."""
        self._models.move_to_end(name)

    def remove(self, name: str) -> CachedModel:
        model = self._models.pop(name)
        self._used -= model.size_bytes
        return model

    def victim(self, keep: str | None = None) -> CachedModel | None:
        """The least recently used model other than ``keep``; None when there is none."""
        return next((m for m in self._models.values() if m.name != keep), None)

    def page(self, token: str | None, limit: int) -> tuple[list[CachedModel], str | None]:
        """One page of the models by name, and the token of the next (None: last page)."""
        after = decode_token(token) if token else None
        names = sorted(n for n in self._models if after is None or n > after)
        shown = names[:limit]
        next_token = encode_token(shown[-1]) if len(names) > limit else None
        return [self._models[n] for n in shown], next_token


def encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    """The name a page token stands for; BadPageToken for anything else."""
    padded = token + "=" * (-len(token) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise BadPageToken(
            f"next_page_token {token!r} is not a token this server gave; "
            "start again without next_page_token"
        ) from None


def page_size(raw: str | None) -> int:
    """``limit`` of ``GET /models``: 1 to 1000, default 100; ValueError naming it."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValueError(f"limit={raw!r} must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)
