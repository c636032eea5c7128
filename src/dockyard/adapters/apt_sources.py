"""Read the host's apt sources to find the Debian mirror it already trusts.

Dockyard's offline base image is bootstrapped from whatever Debian archive the host
uses (a corporate mirror, a snapshot, a local cache), never from an address written
into Dockyard. Both formats apt reads are understood: deb822 ``*.sources`` files
(``Types:``/``URIs:``/``Suites:`` stanzas) and one-line ``sources.list`` entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")

# Suite names of the Debian archive (codenames and aliases). A source whose suites
# are all outside this set (Ubuntu's jammy, noble...) is not a Debian mirror.
DEBIAN_SUITES = frozenset(
    {
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "stable",
        "testing",
        "unstable",
        "oldstable",
        "oldoldstable",
    }
)
_SCHEMES = ("http://", "https://", "ftp://", "file:")
_OPTIONS = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source: where it is and which suites it serves."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]


def parse_deb822(text: str) -> list[AptSource]:
    """Sources from a deb822 ``.sources`` file (disabled and ``deb-src`` skipped)."""
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for raw in stanza.splitlines():
            if raw.lstrip().startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key is not None:
                fields[key] += " " + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        sources.append(
            AptSource(
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
            )
        )
    return sources


def parse_one_line(text: str) -> list[AptSource]:
    """Sources from one-line ``sources.list`` syntax: ``deb [opts] URI SUITE COMP...``."""
    sources = []
    for raw in text.splitlines():
        line = _OPTIONS.sub(" ", raw.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            sources.append(AptSource(uris=(line[1],), suites=(line[2],)))
    return sources


def _is_debian_main(suite: str) -> bool:
    """A Debian release suite, not its security or updates pocket."""
    base, _, pocket = suite.partition("-")
    return base in DEBIAN_SUITES and not pocket and "/" not in suite


def pick_mirror(sources: Iterable[AptSource], suite: str = "bookworm") -> str | None:
    """The mirror to bootstrap ``suite`` from: one serving it, else any Debian archive."""
    fallback = None
    for source in sources:
        uris = [u for u in source.uris if u.startswith(_SCHEMES)]
        if not uris:
            continue
        if suite in source.suites:
            return uris[0].rstrip("/")
        if fallback is None and any(_is_debian_main(s) for s in source.suites):
            fallback = uris[0].rstrip("/")
    return fallback


def host_sources(
    sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST
) -> list[AptSource]:
    """Every enabled ``deb`` source the host's apt reads, in apt's order."""
    found: list[AptSource] = []
    if sources_list.is_file():
        found += parse_one_line(sources_list.read_text(errors="replace"))
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if path.suffix == ".sources":
                found += parse_deb822(path.read_text(errors="replace"))
            elif path.suffix == ".list":
                found += parse_one_line(path.read_text(errors="replace"))
    return found


def debian_mirror(suite: str = "bookworm") -> str | None:
    """The host's Debian mirror for ``suite``, or ``None`` when it has none."""
    return pick_mirror(host_sources(), suite)
