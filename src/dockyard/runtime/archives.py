"""Unpacking archives users hand to a container (model.tar.gz, sourcedir.tar.gz).

An archive is user input: a member named ``../../etc/cron.d/x`` or a link out of the
target must not land outside it. ``extractall(filter="data")`` refuses those where
Python has extraction filters (3.11.4 and later); Debian 12's Python 3.11.2, which the
images run, predates them, so there the members are checked here and only plain files
and folders inside the target are kept.
"""

from __future__ import annotations

import os
import tarfile


class UnsafeArchiveError(ValueError):
    """A member of the archive would land outside the target directory."""


def extract_safely(tar: tarfile.TarFile, directory: str) -> None:
    """Extract ``tar`` into ``directory``, refusing members that would escape it."""
    if hasattr(tarfile, "data_filter"):
        try:
            tar.extractall(directory, filter="data")
        except tarfile.FilterError as exc:
            raise UnsafeArchiveError(str(exc)) from None
        return
    root = os.path.realpath(directory)
    members = []
    for member in tar.getmembers():
        path = os.path.realpath(os.path.join(root, member.name))
        if path != root and not path.startswith(root + os.sep):
            raise UnsafeArchiveError(f"{member.name} would land outside {directory}")
        if member.isfile() or member.isdir():
            member.mode = (member.mode | 0o600) & 0o755
            members.append(member)
    tar.extractall(root, members=members)
