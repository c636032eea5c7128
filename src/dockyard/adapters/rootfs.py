"""Make a small Debian root filesystem with Python 3.11, as a tarball, offline-friendly.

``debootstrap --variant=minbase`` gives the ``required`` packages plus what is named
in :data:`INCLUDE`; the mirror is the host's own (see :mod:`apt_sources`). The tree
is then slimmed the way Debian's "slim" images are (no apt lists or package cache, no
docs beyond copyright files, no man pages or translations), dpkg is told to keep it
that way for later installs, and the tree is packed with numeric owners.

Why each extra package is there:

* ``python3`` — Debian's CPython 3.11 with the whole standard library (ssl, sqlite3,
  ctypes, lzma, multiprocessing...); cp311 manylinux wheels load against it.
* ``ca-certificates`` — the public CA list, so HTTPS from the image works where no
  proxy intercepts TLS (``python:3.11-slim`` ships it too).
* ``netbase`` — /etc/services and /etc/protocols, which socket code looks up.
* ``libgomp1`` — OpenMP runtime; wheels built against the system one expect it.

``passwd`` (useradd), ``tzdata``, ``libstdc++6`` and ``zlib`` are already in minbase.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from dockyard.adapters.apt_sources import debian_mirror
from dockyard.errors import SetupError

SUITE = "bookworm"
VARIANT = "minbase"
INCLUDE = ("python3", "ca-certificates", "netbase", "libgomp1")
DEBOOTSTRAP_PATHS = ("/usr/sbin/debootstrap",)  # not on a non-root user's PATH

DPKG_EXCLUDES = """\
# Keep the image small: no docs (but licences), man pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""

_EMPTIED_DIRS = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/log",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "tmp",
    "var/tmp",
)


def debootstrap_command(target: Path, mirror: str, binary: str = "debootstrap") -> list[str]:
    return [
        binary,
        f"--variant={VARIANT}",
        f"--include={','.join(INCLUDE)}",
        SUITE,
        str(target),
        mirror,
    ]


def _debootstrap_binary() -> str:
    for candidate in (shutil.which("debootstrap"), *DEBOOTSTRAP_PATHS):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SetupError(
        "debootstrap is not installed, and it is needed to build Dockyard's base image "
        "because the configured base image could not be found or pulled",
        hint="run `dockyard setup` (or `apt-get install -y debootstrap`), or set "
        "DOCKYARD_BASE_IMAGE to a Python 3.11 image you can pull",
    )


def _mirror() -> str:
    mirror = debian_mirror(SUITE)
    if mirror is None:
        raise SetupError(
            "no Debian mirror is configured in /etc/apt/sources.list(.d), so the offline "
            "base image cannot be bootstrapped",
            hint=f"add a Debian source serving {SUITE} to apt, or set DOCKYARD_BASE_IMAGE "
            "to a Python 3.11 image you can pull",
        )
    return mirror


def run_debootstrap(target: Path, progress: Callable[[str], None]) -> None:
    """debootstrap into ``target``, reporting each phase (Retrieving, Installing...)."""
    binary = _debootstrap_binary()
    if os.geteuid() != 0:
        raise SetupError(
            "building the base image with debootstrap needs root",
            hint="run `sudo dockyard setup`, or set DOCKYARD_BASE_IMAGE to an image you can pull",
        )
    mirror = _mirror()
    progress(f"debootstrap {SUITE} from {mirror} (about a minute)")
    command = debootstrap_command(target, mirror, binary)
    tail: list[str] = []
    last_phase = ""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-19:], line.rstrip()]
            phase = line.split()[1] if line.startswith("I: ") and len(line.split()) > 1 else ""
            if phase and phase != last_phase:
                progress(f"debootstrap: {line.strip()[3:]}")
                last_phase = phase
    if process.returncode != 0:
        raise SetupError(
            f"debootstrap failed (exit {process.returncode}):\n" + "\n".join(tail),
            hint=f"check that {mirror} is reachable and serves {SUITE}; the full log is "
            f"{target}/debootstrap/debootstrap.log",
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def slim(root: Path) -> None:
    """Drop what a runtime image never reads, and keep dpkg from putting it back."""
    for relative in _EMPTIED_DIRS:
        directory = root / relative
        if directory.is_dir():
            for child in directory.iterdir():
                _remove(child)
    for recreated in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (root / recreated).mkdir(parents=True, exist_ok=True)
    for stale in (root / "var/cache/debconf").glob("*-old"):
        stale.unlink()
    for package in (root / "usr/share/doc").glob("*"):
        if package.is_dir() and not package.is_symlink():
            for item in package.iterdir():
                if item.name != "copyright":
                    _remove(item)
    # The host's name and resolver leak in during bootstrap; engines provide their own.
    for leaked in ("etc/resolv.conf", "etc/hostname"):
        (root / leaked).write_text("")
    excludes = root / "etc/dpkg/dpkg.cfg.d"
    excludes.mkdir(parents=True, exist_ok=True)
    (excludes / "dockyard-slim").write_text(DPKG_EXCLUDES)


def pack(root: Path, tarball: Path) -> None:
    """Tar ``root`` to ``tarball`` atomically (numeric owners, xattrs kept)."""
    partial = tarball.with_name(tarball.name + ".partial")
    result = subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SetupError(f"packing the base root filesystem failed: {result.stderr.strip()}")
    partial.replace(tarball)


def build_rootfs_tarball(tarball: Path, progress: Callable[[str], None]) -> float:
    """debootstrap + slim + pack into ``tarball``; the tree itself is deleted. Returns seconds."""
    began = time.monotonic()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = tarball.parent / f"rootfs.{os.getpid()}"
    _discard(work)
    try:
        run_debootstrap(work, progress)
        slim(work)
        progress("packing the root filesystem")
        pack(work, tarball)
    finally:
        _discard(work)
    return time.monotonic() - began


def _discard(tree: Path) -> None:
    """Delete a bootstrap tree, first unmounting what a failed debootstrap left mounted."""
    if not tree.exists():
        return
    prefix = str(tree.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        mounts = []
    for mountpoint in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False)
    shutil.rmtree(tree, ignore_errors=True)
