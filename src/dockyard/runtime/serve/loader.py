"""Finding and importing the user's ``inference.py``.

Where it is looked for, in the inference toolkit's order:

1. ``$SAGEMAKER_SUBMIT_DIRECTORY/$SAGEMAKER_PROGRAM`` when SAGEMAKER_SUBMIT_DIRECTORY is
   set. The directory may be a local path, a ``file://`` URL, or a local ``.tar.gz`` of
   the code (what the SageMaker SDK uploads as ``sourcedir.tar.gz``), which is unpacked
   first. An ``s3://`` URI is the platform's to download: the server refuses it with a
   message rather than serving without the user's code.
2. ``<model dir>/code/$SAGEMAKER_PROGRAM`` (``/opt/ml/model/code/inference.py``), where
   the SDK's repacked model archives keep it.

SAGEMAKER_PROGRAM defaults to ``inference.py``; when it was set explicitly and the file is
in neither place, that is an error, since serving with the defaults would silently ignore
the code the user meant to run. When it was not set and no ``inference.py`` exists, the
defaults serve the model.

The module's directory goes first on ``sys.path`` so it can import modules shipped next
to it. ``requirements.txt`` is not installed (images carry their dependencies).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tarfile
import tempfile
from types import ModuleType

from dockyard.runtime.archives import UnsafeArchiveError, extract_safely
from dockyard.runtime.serve.config import ServeConfig


class UserCodeError(Exception):
    """The user's code cannot be found or does not fit the handler contract."""


def locate_user_module(config: ServeConfig) -> str | None:
    """Path of the user's module, None when there is none to load."""
    if config.submit_dir:
        directory = _stage(config.submit_dir)
        path = os.path.join(directory, config.program)
        if not os.path.isfile(path):
            raise UserCodeError(
                f"SAGEMAKER_PROGRAM {config.program} is not in SAGEMAKER_SUBMIT_DIRECTORY "
                f"{config.submit_dir} (it holds: {_listing(directory)})"
            )
        return path
    path = os.path.join(config.model_dir, "code", config.program)
    if os.path.isfile(path):
        return path
    if config.program_was_set:
        raise UserCodeError(
            f"SAGEMAKER_PROGRAM is {config.program}, but {path} does not exist and "
            "SAGEMAKER_SUBMIT_DIRECTORY is not set; put the file in the model archive's "
            "code/ directory or point SAGEMAKER_SUBMIT_DIRECTORY at its directory"
        )
    return None


def import_user_module(path: str, name: str | None = None) -> ModuleType:
    """Import the file at ``path`` as a top-level module named after it (or ``name``:
    a multi-model server imports each model's ``inference.py`` under its own name)."""
    name = name or os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stage(submit_dir: str) -> str:
    """A local directory holding the submitted code."""
    location = submit_dir.removeprefix("file://")
    if "://" in location:
        raise UserCodeError(
            f"SAGEMAKER_SUBMIT_DIRECTORY {submit_dir} is not on this machine; the platform "
            "must download the code and pass a local directory or archive"
        )
    if os.path.isfile(location) and location.endswith((".tar.gz", ".tgz", ".tar")):
        target = tempfile.mkdtemp(prefix="dockyard-code-")
        with tarfile.open(location) as archive:
            try:
                extract_safely(archive, target)
            except UnsafeArchiveError as exc:
                raise UserCodeError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit_dir}: {exc}") from None
        return target
    if not os.path.isdir(location):
        raise UserCodeError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit_dir} does not exist")
    return location


def _listing(directory: str) -> str:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "nothing"
