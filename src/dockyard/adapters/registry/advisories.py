"""Where an image scan's vulnerability data comes from, and which ecosystems it covers.

A source answers for some installed packages with the :class:`Advisory` records that
may apply (the matching itself is :func:`dockyard.control.scan.match_vulnerabilities`)
and with the ecosystems it really checked. An ecosystem no source covered is said so in
the scan's description: a scan without data is never reported as clean.

* :class:`OsvDirectory`: OSV advisories (https://ossf.github.io/osv-schema/) from JSON
  files, or the ``all.zip`` exports of osv.dev, dropped into a directory: the way an
  air-gapped machine gets data (default ``<state_dir>/advisories/``);
* :class:`PypiJsonApi`: PyPI's ``/pypi/<name>/<version>/json`` ``vulnerabilities``
  (pip-audit's service); a mirror that does not serve it is reported unavailable;
* :class:`Combined`: several sources, as one.

The first two both read OSV records, with :mod:`.osv`.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from packaging.version import InvalidVersion, Version

from dockyard.adapters.registry.osv import advisories_from_osv, osv_summary
from dockyard.control.scan import Advisory, Ecosystem, InstalledPackage, normalize_pypi_name
from dockyard.errors import DockyardError


@dataclass(frozen=True)
class Lookup:
    """What a source said about some packages.

    ``covered``: the ecosystems whose packages it actually checked, each with the names
    of the sources that did; ``notes``: why it checked less than asked (written for the
    scan's description); ``summaries``: a line per advisory id, for the findings.
    """

    advisories: tuple[Advisory, ...] = ()
    covered: Mapping[Ecosystem, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    summaries: Mapping[str, str] = field(default_factory=dict)


class AdvisorySource(Protocol):
    """Vulnerability data for installed packages (``distro``: OSV name, ``Debian:12``)."""

    @property
    def name(self) -> str: ...

    def lookup(self, packages: Sequence[InstalledPackage], distro: str | None) -> Lookup: ...


def safe_lookup(
    source: AdvisorySource, packages: Sequence[InstalledPackage], distro: str | None
) -> Lookup:
    """``source.lookup``, with a failure turned into "covers nothing" and a note."""
    try:
        return source.lookup(packages, distro)
    except (DockyardError, OSError, ValueError, httpx.HTTPError) as error:
        return Lookup(notes=(f"{source.name} failed: {error}",))


# -- OSV files ---------------------------------------------------------------------------


class OsvDirectory:
    """OSV records in ``path``: ``*.json`` files (one record, or a list) and ``*.zip``
    exports, read again whenever a file there changes; safe to share between threads.

    It covers PyPI if it holds PyPI records, and the image's deb packages if it holds
    records of the image's release (``Debian:12``, ``Ubuntu:22.04:LTS``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._index: dict[str, dict[str, list[Advisory]]] = {}
        self._summaries: dict[str, str] = {}
        self._unreadable: list[str] = []

    @property
    def name(self) -> str:
        return f"OSV advisories in {self.path}"

    def lookup(self, packages: Sequence[InstalledPackage], distro: str | None) -> Lookup:
        with self._lock:
            self._refresh()
            return self._lookup(packages, distro)

    def _lookup(self, packages: Sequence[InstalledPackage], distro: str | None) -> Lookup:
        notes = []
        if self._unreadable:
            skipped = ", ".join(self._unreadable[:3])
            notes.append(
                f"{self.name}: {len(self._unreadable)} unreadable file(s) skipped ({skipped})"
            )
        tables: dict[Ecosystem, list[dict[str, list[Advisory]]]] = {"pypi": [], "deb": []}
        if "PyPI" in self._index:
            tables["pypi"].append(self._index["PyPI"])
        for osv_ecosystem, table in self._index.items():
            if distro and (osv_ecosystem == distro or osv_ecosystem.startswith(f"{distro}:")):
                tables["deb"].append(table)
        found: list[Advisory] = []
        for package in packages:
            names = {package.name, package.source or package.name}
            for table in tables[package.ecosystem]:
                found.extend(a for n in names for a in table.get(n, ()))
        covered: dict[Ecosystem, tuple[str, ...]] = {
            e: (self.name,) for e, t in tables.items() if t
        }
        summaries = {a.id: self._summaries[a.id] for a in found if a.id in self._summaries}
        return Lookup(tuple(found), covered, tuple(notes), summaries)

    def _refresh(self) -> None:
        found = self.path.rglob("*") if self.path.is_dir() else iter(())
        files = sorted(p for p in found if p.suffix in (".json", ".zip") and p.is_file())
        signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if signature == self._signature:
            return
        self._index, self._summaries, self._unreadable = {}, {}, []
        for path in files:
            for label, entry in _records(path, self._unreadable):
                try:
                    for osv_ecosystem, advisory in advisories_from_osv(entry):
                        key = _index_key(advisory)
                        self._index.setdefault(osv_ecosystem, {}).setdefault(key, [])
                        self._index[osv_ecosystem][key].append(advisory)
                    self._summaries[str(entry["id"])] = osv_summary(entry)
                except (KeyError, TypeError, AttributeError):
                    self._unreadable.append(label)
        self._signature = signature


def _index_key(advisory: Advisory) -> str:
    return (
        normalize_pypi_name(advisory.package) if advisory.ecosystem == "pypi" else advisory.package
    )


def _records(path: Path, unreadable: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The OSV records of one file (or of each ``.json`` member of a zip export)."""
    try:
        if path.suffix == ".json":
            texts = [(path.name, path.read_bytes())]
        else:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if m.endswith(".json")]
                texts = [(f"{path.name}:{m}", archive.read(m)) for m in members]
    except (OSError, zipfile.BadZipFile):
        unreadable.append(path.name)
        return
    for label, text in texts:
        try:
            loaded = json.loads(text)
        except ValueError:
            unreadable.append(label)
            continue
        for entry in loaded if isinstance(loaded, list) else [loaded]:
            if isinstance(entry, dict) and "id" in entry:
                yield label, entry
            else:
                unreadable.append(label)


# -- PyPI's JSON API ---------------------------------------------------------------------


class PypiJsonApi:
    """``GET <index>/pypi/<name>/<version>/json`` → ``vulnerabilities`` (pip-audit's service).

    A filtered mirror may serve ``/pypi/<name>/json`` but answer 404 for every
    ``/pypi/<name>/<version>/json``: the latest release of ``pip``, which certainly
    exists, is asked first, and a source that cannot answer for it covers nothing (and
    says why) rather than reporting every package clean. A package the index does not
    know (a private one) is listed in the notes as not checked. ``ca_bundle``: for a
    TLS-intercepting proxy (the host's bundle).
    """

    PROBE = "pip"

    def __init__(
        self,
        index_url: str = "https://pypi.org",
        ca_bundle: Path | None = None,
        *,
        timeout: float = 10.0,
        workers: int = 8,
        probe_ttl: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.index_url = index_url.rstrip("/")
        self.workers = workers
        self.probe_ttl = probe_ttl  # seconds a probe's verdict is trusted
        self._probed: tuple[float, str | None] | None = None
        verify = ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True
        self._http = httpx.Client(timeout=timeout, verify=verify, transport=transport)

    @property
    def name(self) -> str:
        return f"PyPI JSON API at {self.index_url}"

    def close(self) -> None:
        self._http.close()

    def lookup(self, packages: Sequence[InstalledPackage], distro: str | None) -> Lookup:
        wanted = sorted({p for p in packages if p.ecosystem == "pypi"}, key=lambda p: p.name)
        if not wanted:
            return Lookup(covered={"pypi": (self.name,)})
        unavailable = self._unavailable()
        if unavailable:
            return Lookup(notes=(f"{self.name} unavailable: {unavailable}",))
        with ThreadPoolExecutor(self.workers) as pool:
            answers = list(
                pool.map(lambda p: self._get(f"/pypi/{p.name}/{p.version}/json"), wanted)
            )
        advisories: list[Advisory] = []
        summaries: dict[str, str] = {}
        unknown, failed = [], []
        for package, answer in zip(wanted, answers, strict=True):
            if answer == "404":
                unknown.append(f"{package.name} {package.version}")
            elif not isinstance(answer, dict):
                failed.append(f"{package.name} ({answer})")
            else:
                for vulnerability in answer.get("vulnerabilities") or ():
                    advisory = _pypi_advisory(package, vulnerability)
                    advisories.append(advisory)
                    summaries[advisory.id] = osv_summary(vulnerability)
        notes = []
        if unknown:
            listed = ", ".join(unknown[:5])
            notes.append(
                f"{len(unknown)} pypi package(s) unknown to {self.index_url}, not checked: {listed}"
            )
        if failed:
            notes.append(
                f"{self.name} failed for {len(failed)} package(s): {', '.join(failed[:5])}"
            )
        covered: dict[Ecosystem, tuple[str, ...]] = {} if failed else {"pypi": (self.name,)}
        return Lookup(tuple(advisories), covered, tuple(notes), summaries)

    def _unavailable(self) -> str | None:
        """Why the index cannot answer for a release of ``pip`` (``None``: it can)."""
        now = time.monotonic()
        if self._probed is None or now - self._probed[0] > self.probe_ttl:
            self._probed = (now, self._probe())
        return self._probed[1]

    def _probe(self) -> str | None:
        latest = self._get(f"/pypi/{self.PROBE}/json")
        if not isinstance(latest, dict):
            return f"answered {latest} for {self.PROBE!r}, a package that exists"
        version = str((latest.get("info") or {}).get("version") or "")
        answer = self._get(f"/pypi/{self.PROBE}/{version}/json") if version else "no version"
        if not isinstance(answer, dict):
            return f"answered {answer} for {self.PROBE} {version}, a release that exists"
        return None

    def _get(self, path: str) -> dict[str, Any] | str:
        """The JSON body, or why there is none (``"404"``, ``"503"``, the error's words)."""
        try:
            response = self._http.get(f"{self.index_url}{path}")
        except httpx.HTTPError as error:
            return f"no answer ({type(error).__name__}: {error})"
        if response.status_code != 200:
            return str(response.status_code)
        try:
            body = response.json()
        except ValueError:
            return "a body that is not JSON"
        return body if isinstance(body, dict) else "an unexpected JSON body"


def _pypi_advisory(package: InstalledPackage, vulnerability: Mapping[str, Any]) -> Advisory:
    """The service answers for this exact version: the advisory lists just that version."""
    fixes = []
    for text in vulnerability.get("fixed_in") or ():
        try:
            fixes.append(Version(str(text)))
        except InvalidVersion:
            continue
    later = sorted(v for v in fixes if _newer(v, package.version))
    return Advisory(
        id=str(vulnerability.get("id", "")),
        ecosystem="pypi",
        package=package.name,
        versions=(package.version,),
        fixed_version=str(later[0]) if later else None,
    )


def _newer(version: Version, installed: str) -> bool:
    try:
        return version > Version(installed)
    except InvalidVersion:
        return True


# -- several sources ---------------------------------------------------------------------


class Combined:
    """Several sources as one: their advisories together, an ecosystem covered if any
    source covers it, and every source's notes."""

    def __init__(self, *sources: AdvisorySource) -> None:
        self.sources = sources

    @property
    def name(self) -> str:
        return " + ".join(source.name for source in self.sources) or "no advisory source"

    def lookup(self, packages: Sequence[InstalledPackage], distro: str | None) -> Lookup:
        lookups = [safe_lookup(source, packages, distro) for source in self.sources]
        return Lookup(
            tuple(a for lookup in lookups for a in lookup.advisories),
            _merged(lookup.covered for lookup in lookups),
            tuple(note for lookup in lookups for note in lookup.notes),
            {k: v for lookup in lookups for k, v in lookup.summaries.items()},
        )


def _merged(
    coverages: Iterable[Mapping[Ecosystem, tuple[str, ...]]],
) -> dict[Ecosystem, tuple[str, ...]]:
    merged: dict[Ecosystem, tuple[str, ...]] = {}
    for coverage in coverages:
        for ecosystem, names in coverage.items():
            merged[ecosystem] = merged.get(ecosystem, ()) + names
    return merged
