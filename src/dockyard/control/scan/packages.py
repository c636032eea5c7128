"""What an image has installed, read from the text of its package databases.

The registry side hands over file contents; this module turns a dpkg ``status`` file
(or a distroless ``status.d/`` entry) and Python ``*.dist-info/METADATA`` /
``*.egg-info/PKG-INFO`` files into :class:`InstalledPackage` records, the input the
vulnerability matcher compares against advisories.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Ecosystem = Literal["deb", "pypi"]


@dataclass(frozen=True)
class InstalledPackage:
    """One installed package; ``source`` is a Debian binary package's source package."""

    ecosystem: Ecosystem
    name: str
    version: str
    source: str | None = None


_NOT_ON_DISK = frozenset({"not-installed", "config-files"})  # dpkg states without files


def parse_dpkg_status(text: str) -> tuple[InstalledPackage, ...]:
    """The packages of a dpkg ``status`` file, in file order, without repeats.

    Stanzas without Package or Version are skipped, and so are packages whose state
    leaves no files (removed, or only conffiles left); a stanza without ``Status``
    (distroless ``status.d/`` entries) counts as installed.
    """
    found: dict[tuple[str, str], InstalledPackage] = {}
    for fields in _stanzas(text):
        name, version = fields.get("package"), fields.get("version")
        state = fields.get("status", "install ok installed").split()[-1:]
        if not name or not version or (state and state[0] in _NOT_ON_DISK):
            continue
        source = fields.get("source", "").split(" ", 1)[0] or None
        found.setdefault((name, version), InstalledPackage("deb", name, version, source))
    return tuple(found.values())


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style paragraphs: field names lowercased, continuation lines dropped."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields = {}
        elif not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
    if fields:
        yield fields


def normalize_pypi_name(name: str) -> str:
    """PEP 503's normal form: lowercase, runs of ``-``, ``_`` and ``.`` become ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_python_metadata_path(path: str) -> bool:
    """Whether ``path`` is an installed distribution's metadata file."""
    return path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO"))


def parse_python_metadata(text: str) -> InstalledPackage | None:
    """The distribution a ``METADATA`` file describes (``None`` if Name or Version is absent)."""
    fields = next(_stanzas(text), {})  # the headers; the description follows a blank line
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        return None
    return InstalledPackage("pypi", normalize_pypi_name(name), version)
