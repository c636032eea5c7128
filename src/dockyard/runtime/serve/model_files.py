"""Finding the one file a framework's default ``model_fn`` loads from the model directory.

The AWS framework containers look for a fixed name first (``xgboost-model``,
``model.pt``) and accept a single file with a known suffix otherwise; anything else is
the user's to resolve, so the search reports what it found for the error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dockyard.runtime.serve.defaults import ModelNotFoundError


@dataclass(frozen=True)
class NoSingleModelFile:
    """Why no file was chosen: the candidates found and what the directory holds."""

    found: list[str]
    holds: str


def find_model_file(
    model_dir: str, preferred: str, suffixes: tuple[str, ...]
) -> str | NoSingleModelFile:
    """``preferred`` in ``model_dir``, else the only file ending in one of ``suffixes``."""
    if not os.path.isdir(model_dir):
        raise ModelNotFoundError(
            f"the model directory {model_dir} does not exist; the platform extracts "
            "model.tar.gz there (set SM_MODEL_DIR to serve from elsewhere)"
        )
    path = os.path.join(model_dir, preferred)
    if os.path.isfile(path):
        return path
    entries = sorted(os.listdir(model_dir))
    found = [
        name
        for name in entries
        if name.endswith(suffixes) and os.path.isfile(os.path.join(model_dir, name))
    ]
    if len(found) == 1:
        return os.path.join(model_dir, found[0])
    holds = ", ".join(entries[:20]) + (", ..." if len(entries) > 20 else "") or "nothing"
    return NoSingleModelFile(found, holds)
