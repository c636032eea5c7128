"""Build contexts that hash the same every time their content is the same.

Docker's legacy builder (20.10) and Buildah (Podman 4.3) both key a ``COPY`` layer on
each file's content, path, mode and owner, not on its mtime (checked on both). So the
files Dockyard assembles get a fixed mode (0644, or 0755 when any execute bit was set;
directories 0755) and a fixed mtime; fixed modes are also what makes them readable by
the image's non-root user.

Users' files are hard-linked into the context when they already have the wanted mode
and live on the same file system (no copy of a large model, and the user's file is
never modified); otherwise they are copied. A directory built from its own Dockerfile
keeps its files' modes, as ``docker build`` would.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.package.dockerignore import DockerIgnore

#: 1980-01-01T00:00:00Z, the oldest time every archive format can store.
FIXED_MTIME = 315532800


def normal_mode(mode: int) -> int:
    if stat.S_ISDIR(mode):
        return 0o755
    return 0o755 if mode & 0o111 else 0o644


def normalize_path(path: Path) -> None:
    """Give one file or directory the fixed mode and mtime (links are left alone)."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return
    if stat.S_IMODE(info.st_mode) != normal_mode(info.st_mode):
        path.chmod(normal_mode(info.st_mode))
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def normalize_tree(root: Path) -> None:
    """Normalise ``root`` and everything below it (files first, then their directory)."""
    for directory, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            normalize_path(Path(directory, name))
    normalize_path(root)


def place_file(source: Path, dest: Path, *, keep_mode: bool = False) -> None:
    """Put ``source`` at ``dest``: a hard link when safe, else a copy.

    The copy gets the normal mode, or ``source``'s own mode with ``keep_mode`` (a
    user's Dockerfile build keeps the modes it would have with ``docker build``).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = source.stat()
    mode = stat.S_IMODE(info.st_mode) if keep_mode else normal_mode(info.st_mode)
    if stat.S_IMODE(info.st_mode) == mode:
        try:
            os.link(source, dest, follow_symlinks=True)
            return
        except OSError:
            pass  # another file system, or links not allowed: copy instead
    shutil.copyfile(source, dest)
    dest.chmod(mode)
    os.utime(dest, (FIXED_MTIME, FIXED_MTIME))


def place_tree(source: Path, dest: Path) -> None:
    """Place every file under ``source`` at the same relative path under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for directory, dirnames, filenames in os.walk(source):
        rel = Path(directory).relative_to(source)
        for name in dirnames:
            (dest / rel / name).mkdir(exist_ok=True)
        for name in filenames:
            place_file(Path(directory, name), dest / rel / name)


def finish_context(root: Path) -> None:
    """Fix the mode and mtime of the context's directories (files are already fixed)."""
    for directory, dirnames, _ in os.walk(root):
        for name in dirnames:
            normalize_path(Path(directory, name))
    normalize_path(root)


@dataclass(frozen=True)
class DirListing:
    """A model directory as a build sees it: paths relative to it, ``/``-separated."""

    root: Path
    files: tuple[str, ...]
    dirs: tuple[str, ...] = ()
    skipped: tuple[str, ...] = field(default=())  # links to directories, broken links


def scan_dir(root: Path) -> DirListing:
    """List ``root`` as a build context, honouring its ``.dockerignore``."""
    ignore_file = root / ".dockerignore"
    ignore = DockerIgnore.parse(ignore_file.read_text()) if ignore_file.is_file() else None
    files: list[str] = []
    dirs: list[str] = []
    skipped: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = Path(directory).relative_to(root)
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix()
            if Path(directory, name).is_symlink():
                skipped.append(rel)
            elif ignore is None or not ignore.excluded(rel):
                dirs.append(rel)
            elif not ignore.has_exceptions:
                dirnames.remove(name)  # nothing below can be re-included: do not walk it
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            path = Path(directory, name)
            if not path.is_file():
                skipped.append(rel)  # broken link, socket, fifo
            elif ignore is None or not ignore.excluded(rel):
                files.append(rel)
    return DirListing(root, tuple(sorted(files)), tuple(sorted(dirs)), tuple(skipped))


def place_listing(listing: DirListing, dest: Path) -> None:
    """Reproduce the listed part of a directory under ``dest``, modes kept (a context)."""
    for rel in listing.dirs:
        (dest / rel).mkdir(parents=True, exist_ok=True)
    for rel in listing.files:
        place_file(listing.root / rel, dest / rel, keep_mode=True)
