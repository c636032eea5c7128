"""A training host's own copy of its code and channel data, writable as on AWS.

SageMaker downloads each host's inputs onto the instance's volume, so scripts may write
next to their data, into ``/opt/ml/input/config`` and into ``/opt/ml/code`` (the toolkit
``chmod``-s a ``.sh`` entry point there). Dockyard gives every host the same: before the
hosts start, the code and the channel data are **copied** into the host's directory
(``<state>/jobs/<job>/<host>/``), which is bound writable into the container, and the
user's own files are never bound at all, so nothing a container does reaches them.

Why a copy and not an overlay mount: an overlay needs mount privileges the daemon may
not have (rootless engines), and a copy is cheap at the sizes a local job reads —
measured on the development machine, 400 MiB in one file took 0.16 s and 2,000 files of
50 KiB 0.16 s (page cache warm). The copies are removed when the job is done.

Code (``sagemaker_submit_directory``): a directory is copied, an archive (the SDK's
``sourcedir.tar.gz``, local or in the artifact store) is unpacked with the same
checks as a model archive, a single file is copied in. Channel data: the files under the
channel's location, the share :func:`~dockyard.control.training_data.channel_share`
gives the host (all of them, or its ``ShardedByS3Key`` share), at their paths relative
to the location; a location that is one object gives a channel holding that file.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from dockyard.adapters.artifacts.tarball import extract_model_tarball
from dockyard.control.training_data import channel_share
from dockyard.errors import SpecError

SUBMIT_FIELD = "HyperParameters.sagemaker_submit_directory"
PROGRAM_FIELD = "HyperParameters.sagemaker_program"


def check_code_source(source: Path, program: str | None) -> None:
    """Refuse, naming the hyperparameter, code that cannot hold ``program``."""
    if source.is_dir():
        names = {program} if program and (source / program).is_file() else set()
        where = str(source)
    elif tarfile.is_tarfile(source):
        names = set(_archive_files(source))
        where = f"the archive {source}"
    else:
        names = {source.name}
        where = f"the single file {source}"
    if program and program not in names:
        raise SpecError(
            f"entry point {program!r} is not in {where}",
            field=PROGRAM_FIELD,
            hint="name a file inside the submitted code, relative to its top directory",
        )


def _archive_files(archive: Path) -> list[str]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            return [_relative(m.name) for m in tar.getmembers() if m.isfile() or m.islnk()]
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SpecError(
            f"{archive} is not a readable tar archive ({exc})",
            field=SUBMIT_FIELD,
            hint="give a directory, or a sourcedir.tar.gz made with tar -czf",
        ) from None


def _relative(name: str) -> str:
    return name.removeprefix("./").lstrip("/")


def stage_code(source: Path, code_dir: Path, program: str | None = None) -> None:
    """Put the submitted code into ``code_dir`` (a fresh copy, writable by any uid).

    An entry point that runs as a command (``.sh``, anything but ``.py``) is made
    executable here, as the toolkit would: only a file's owner may ``chmod`` it, and
    the user of a non-root image does not own what the platform staged.
    """
    _fresh(code_dir)
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True, symlinks=True)
    elif tarfile.is_tarfile(source):
        extract_model_tarball(source, code_dir, field=SUBMIT_FIELD)
    else:
        shutil.copy2(source, code_dir / source.name)
    open_to_everyone(code_dir)
    if program and not program.endswith(".py") and (code_dir / program).is_file():
        (code_dir / program).chmod(0o777)


def stage_channel(
    source: Path, dest: Path, distribution: str, host: str, hosts: Sequence[str]
) -> int:
    """Copy ``host``'s share of the channel at ``source`` into ``dest``; the file count."""
    _fresh(dest)
    if source.is_file():
        files = {source.name: source}
    else:
        files = {path.relative_to(source).as_posix(): path for path in _files_under(source)}
    share = channel_share(files, distribution, host, hosts)
    for key in share:
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(files[key], target)
    open_to_everyone(dest)
    return len(share)


def _files_under(root: Path) -> Iterable[Path]:
    for directory, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(directory, name)


def _fresh(directory: Path) -> None:
    """An empty ``directory`` (a rerun of the step replaces a half-done copy)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def open_to_everyone(root: Path) -> None:
    """Directories 0777, files readable and writable by all (executables stay so).

    Images run as any uid (the framework images as a non-root user), and on AWS the
    training user owns what it was given.
    """
    root.chmod(0o777)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(0o777)
        for name in filenames:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o666)
