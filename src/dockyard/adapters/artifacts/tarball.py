"""``model.tar.gz``: pack a model directory the way SageMaker does, and unpack it safely.

SageMaker packs the contents of ``/opt/ml/model`` with paths relative to it
(``model.joblib``, ``code/inference.py``) and unpacks the archive into ``/opt/ml/model``
before a serving container starts. Archives come from users and from training
containers, so unpacking trusts nothing: no absolute paths, no ``..``, no links that
leave the destination, no device files. Every unpacked file is readable by any uid
(0644, or 0755 when executable; directories 0755) because containers run non-root.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import tarfile
import uuid
from pathlib import Path

from dockyard.errors import SpecError

_CHUNK = 1 << 20


def _file_mode(mode: int) -> int:
    return 0o755 if mode & 0o111 else 0o644


def make_model_tarball(src_dir: Path, dest: Path) -> Path:
    """Pack everything under ``src_dir`` into ``dest`` (gzip), paths relative to it.

    Written to a temporary name and renamed, so a reader never sees half an archive.
    Symbolic links are stored as the files they point to; dangling ones are skipped.
    """
    if not src_dir.is_dir():
        raise SpecError(f"{src_dir} is not a directory", field="src_dir")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with (
            partial.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed,
            tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _add_tree(tar, src_dir)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _add_tree(tar: tarfile.TarFile, root: Path) -> None:
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = Path(directory).relative_to(root)
        for name in dirnames:
            path = Path(directory, name)
            if not path.is_symlink():
                tar.add(path, arcname=(rel_dir / name).as_posix(), recursive=False, filter=_owner)
        for name in sorted(filenames):
            path = Path(directory, name)
            if not path.exists():
                continue  # dangling link
            info = tar.gettarinfo(str(path.resolve()), arcname=(rel_dir / name).as_posix())
            if not info.isfile():
                continue
            with path.open("rb") as handle:
                tar.addfile(_owner(info), handle)


def _owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else _file_mode(info.mode)
    return info


def _member_path(name: str, field: str) -> str:
    clean = posixpath.normpath(name.replace("\\", "/"))
    if name.startswith("/") or clean == ".." or clean.startswith("../") or ":" in clean[:2]:
        raise SpecError(
            f"the archive entry '{name}' points outside the model directory",
            field=field,
            hint="pack paths relative to the model directory (tar -C DIR -czf model.tar.gz .)",
        )
    return "" if clean == "." else clean


def _inside(root: Path, target: Path) -> bool:
    return os.path.realpath(target).startswith(os.path.realpath(root) + os.sep)


def extract_model_tarball(tar: Path, dest: Path, *, field: str = "model.tar.gz") -> list[str]:
    """Unpack ``tar`` into ``dest`` safely; returns the regular files' relative paths."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    extracted: list[str] = []
    try:
        with tarfile.open(tar, "r:*") as archive:
            for member in archive:
                rel = _member_path(member.name, field)
                if rel:
                    _extract_member(archive, member, dest, rel, field)
                    if member.isfile() or member.islnk():
                        extracted.append(rel)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SpecError(
            f"{tar.name} is not a readable tar archive ({exc})",
            field=field,
            hint="give a model.tar.gz made with tar -czf (or by a training job)",
        ) from exc
    return extracted


def _extract_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, rel: str, field: str
) -> None:
    target = dest / rel
    if not _inside(dest, target.parent) and target.parent != dest:
        raise SpecError(f"the archive entry '{member.name}' escapes through a link", field=field)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o755)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    if member.isfile():
        source = archive.extractfile(member)
        assert source is not None
        with source, target.open("wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        target.chmod(_file_mode(member.mode))
    elif member.issym():
        pointed = posixpath.normpath(posixpath.join(posixpath.dirname(rel), member.linkname))
        if member.linkname.startswith("/") or pointed == ".." or pointed.startswith("../"):
            raise SpecError(
                f"the archive link '{member.name}' points outside the model directory",
                field=field,
            )
        os.symlink(member.linkname, target)
    elif member.islnk():
        source_rel = _member_path(member.linkname, field)
        shutil.copyfile(dest / source_rel, target)
        target.chmod(_file_mode(member.mode))
    else:
        raise SpecError(
            f"the archive entry '{member.name}' is a device or pipe, not a file",
            field=field,
            hint="a model archive holds regular files and directories only",
        )
