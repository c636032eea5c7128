"""Getting the user's code into the code directory and deciding how to run it.

``sagemaker_submit_directory`` names where the code comes from: a directory, a
``file://`` path, a ``.tar.gz`` (the SDK's ``sourcedir.tar.gz``) or a single file; it is
copied or extracted into ``/opt/ml/code`` unless that directory already holds files (a
script-mode image that baked its code in, or a host that already staged it: the toolkit
leaves such a directory alone, and so does this). ``s3://`` sources are the platform's job:
the runner has no credentials and no network to fetch them.

How the entry point runs follows the toolkit: ``*.sh`` or any non-Python file is a
command (made executable, run through ``/bin/sh`` so a shebang is honoured); a code
directory with ``setup.py`` is a package (``pip install .``, then ``python -m``); a
``*.py`` file is a script (``pip install -r requirements.txt`` first when one is there).
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import sys
import tarfile
from urllib.parse import urlparse

from dockyard.runtime.archives import UnsafeArchiveError, extract_safely
from dockyard.runtime.train.errors import (
    InstallModuleError,
    InstallRequirementsError,
    JobConfigError,
)

REQUIREMENTS_FILE = "requirements.txt"


class EntryPointType(enum.Enum):
    PYTHON_PACKAGE = "PYTHON_PACKAGE"
    PYTHON_PROGRAM = "PYTHON_PROGRAM"
    COMMAND = "COMMAND"


def stage_code(uri: str, code_dir: str) -> bool:
    """Put the code named by ``uri`` into ``code_dir``; False when it was already there."""
    os.makedirs(code_dir, exist_ok=True)
    if os.listdir(code_dir):
        return False
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        raise JobConfigError(
            f"sagemaker_submit_directory is {uri}: remote sources are not supported inside "
            "the container; give the platform the archive so it is staged into the container, "
            "or pass a local path (a directory, file:// path or .tar.gz)"
        )
    path = uri[len("file://") :] if scheme == "file" else uri
    if scheme not in ("", "file"):
        raise JobConfigError(
            f"sagemaker_submit_directory {uri} uses the unsupported scheme {scheme!r}; "
            "pass a local directory, file:// path or .tar.gz"
        )
    if not os.path.exists(path):
        raise JobConfigError(
            f"sagemaker_submit_directory {uri} does not exist inside the container; "
            "mount it or bake it into the image"
        )
    if os.path.isdir(path):
        if os.path.realpath(path) != os.path.realpath(code_dir):
            shutil.copytree(path, code_dir, dirs_exist_ok=True)
    elif tarfile.is_tarfile(path):
        _extract(path, code_dir)
    else:
        shutil.copy2(path, code_dir)
    return True


def entry_point_type(code_dir: str, name: str) -> EntryPointType:
    if name.endswith(".sh"):
        return EntryPointType.COMMAND
    if os.path.exists(os.path.join(code_dir, "setup.py")):
        return EntryPointType.PYTHON_PACKAGE
    if name.endswith(".py"):
        return EntryPointType.PYTHON_PROGRAM
    return EntryPointType.COMMAND


def check_entry_point(code_dir: str, name: str) -> None:
    if not os.path.isfile(os.path.join(code_dir, name)):
        present = sorted(os.listdir(code_dir)) if os.path.isdir(code_dir) else []
        listing = ", ".join(present[:20]) or "nothing"
        raise JobConfigError(
            f"entry point {name!r} (sagemaker_program) is not in the code directory "
            f"{code_dir}, which holds: {listing}; check sagemaker_program and "
            "sagemaker_submit_directory"
        )


def install(code_dir: str, name: str, kind: EntryPointType) -> None:
    """Install what the code needs before it runs, as the toolkit does."""
    has_requirements = os.path.exists(os.path.join(code_dir, REQUIREMENTS_FILE))
    if kind is EntryPointType.PYTHON_PACKAGE:
        cmd = [sys.executable, "-m", "pip", "install", "."]
        if has_requirements:
            cmd += ["-r", REQUIREMENTS_FILE]
        _run_installer(cmd, code_dir, InstallModuleError)
    elif kind is EntryPointType.PYTHON_PROGRAM and has_requirements:
        cmd = [sys.executable, "-m", "pip", "install", "-r", REQUIREMENTS_FILE]
        _run_installer(cmd, code_dir, InstallRequirementsError)
    elif kind is EntryPointType.COMMAND:
        _make_executable(os.path.join(code_dir, name))


def _make_executable(path: str) -> None:
    """``chmod 777`` as the toolkit does, unless the platform already made it executable
    for everyone (only a file's owner may chmod it, and a non-root image's user does not
    own code the platform staged)."""
    if os.stat(path).st_mode & 0o111 != 0o111:
        os.chmod(path, 0o777)


def command(code_dir: str, name: str, kind: EntryPointType, args: list[str]) -> list[str]:
    """The argv that runs the entry point from ``code_dir``."""
    if kind is EntryPointType.PYTHON_PACKAGE:
        return [sys.executable, "-m", name.removesuffix(".py"), *args]
    if kind is EntryPointType.PYTHON_PROGRAM:
        return [sys.executable, name, *args]
    # exec: the script replaces the shell, so it is the process that gets the signals.
    return ["/bin/sh", "-c", 'exec ./"$0" "$@"', name, *args]


def _run_installer(
    cmd: list[str], cwd: str, error: type[InstallModuleError] | type[InstallRequirementsError]
) -> None:
    print(f"dockyard-train: installing dependencies: {' '.join(cmd)}", file=sys.stderr, flush=True)
    completed = subprocess.run(cmd, cwd=cwd, stderr=subprocess.PIPE, check=False)
    stderr = completed.stderr.decode("utf-8", "replace")
    if stderr:
        sys.stderr.write(stderr)
        sys.stderr.flush()
    if completed.returncode != 0:
        raise error(cmd, completed.returncode, stderr.strip()[-2000:])


def _extract(archive: str, target: str) -> None:
    """Extract an archive, refusing members that would land outside ``target``."""
    with tarfile.open(archive, mode="r:*") as tar:
        try:
            extract_safely(tar, target)
        except UnsafeArchiveError as exc:
            raise JobConfigError(f"{archive} cannot be extracted safely: {exc}") from None
