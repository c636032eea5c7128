"""Resolve wheels on the host for the image's Python, once per requirement set.

Images are built with the legacy builder, which cannot mount a CA bundle or a pip
cache into a build step, and the base image has neither pip nor certificates. So pip
runs here, on the host, with the host's own configuration (index, find-links,
constraints, proxy — ``pip config list``; nothing is overridden) and the CA bundle
from settings, and installs into a plain directory for CPython 3.11 on manylinux for
the engine host's architecture. The build context carries that directory.

A resolved directory is cached under ``<cache_dir>/site/<key>``, the key hashing the
requirements, constraints and target platform: a second build does no pip work. The
cached tree is normalised (no ``bin/`` scripts with host shebangs, no byte code, fixed
modes and mtimes) so that a context built from it is the same every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.buildcontext import normalize_tree
from dockyard.errors import BuildFailed, SetupError
from dockyard.package.frameworks import PYTHON_VERSION
from dockyard.settings import Settings

Progress = Callable[[str], None]

CACHE_FORMAT = 1
TAIL_LINES = 30
#: glibc of Debian bookworm, the base image's distribution: newest manylinux accepted.
DEFAULT_GLIBC = (2, 36)
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
_NOISE = re.compile(r"^WARNING: Location '.*' is ignored")
_NO_DIST = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class WheelPlatform:
    """The interpreter and platform wheels are chosen for (those of the image)."""

    machine: str  # x86_64 | aarch64
    python_version: str = PYTHON_VERSION
    glibc: tuple[int, int] = DEFAULT_GLIBC

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @property
    def tags(self) -> tuple[str, ...]:
        """manylinux tags from the base's glibc down to the oldest the arch has."""
        major, newest = self.glibc
        oldest = 5 if self.machine == "x86_64" else 17
        minors = range(newest, oldest - 1, -1)
        tags = [f"manylinux_{major}_{minor}_{self.machine}" for minor in minors]
        tags.append(f"manylinux2014_{self.machine}")
        if self.machine == "x86_64":
            tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return tuple(tags)

    def describe(self) -> str:
        return f"CPython {self.python_version} on manylinux {self.machine}"


def host_platform(python_version: str = PYTHON_VERSION) -> WheelPlatform:
    """The platform of the engine host (this machine: the engine runs here)."""
    machine = platform.machine().lower()
    if machine not in _MACHINES:
        raise SetupError(
            f"no wheels can be chosen for this machine's architecture ({machine})",
            hint="Dockyard builds images for x86_64 and aarch64 hosts",
        )
    return WheelPlatform(_MACHINES[machine], python_version)


def cache_key(
    requirements: Sequence[str],
    constraints: Sequence[str],
    target: WheelPlatform,
    exclude: Collection[str] = (),
) -> str:
    """Same inputs and platform → same key (order does not matter)."""
    doc = {
        "format": CACHE_FORMAT,
        "requirements": sorted(r.strip() for r in requirements),
        "constraints": sorted(c.strip() for c in constraints),
        "exclude": sorted(exclude),
        "python": target.python_version,
        "tags": list(target.tags),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


def pip_command(
    target_dir: Path,
    requirements_file: Path,
    target: WheelPlatform,
    *,
    constraints_file: Path | None = None,
    ca_bundle: Path | None = None,
) -> list[str]:
    """The pip invocation: wheels only, for the image's interpreter, into a directory."""
    command = [
        sys.executable, "-m", "pip", "install",
        "--target", str(target_dir),
        "--only-binary=:all:",
        "--no-compile",
        "--no-input",
        "--progress-bar", "off",
        "--disable-pip-version-check",
        "--python-version", target.python_version,
        "--implementation", "cp",
        "--abi", target.abi,
    ]  # fmt: skip
    for tag in target.tags:
        command += ["--platform", tag]
    command += ["-r", str(requirements_file)]
    if constraints_file is not None:
        command += ["-c", str(constraints_file)]
    if ca_bundle is not None:
        command += ["--cert", str(ca_bundle)]
    return command


def explain_failure(lines: Sequence[str], what: str, target: WheelPlatform) -> BuildFailed:
    """Turn pip's last words into an error that says what to do."""
    text = "\n".join(lines)
    tail = "\n".join(line for line in lines[-12:] if line.strip())
    missing = _NO_DIST.search(text)
    if missing:
        name = missing.group(1)
        return BuildFailed(
            f"no wheel of {name} for {target.describe()} (needed by {what})\n{tail}",
            resource=what,
            hint=f"Dockyard installs wheels only and never compiles: pin a version of {name} "
            "that publishes a manylinux wheel, put a wheel of it in a pip find-links "
            "directory, or write a Dockerfile that builds it (bring your own container)",
        )
    if "ResolutionImpossible" in text or "conflict" in text.lower():
        return BuildFailed(
            f"the requirements of {what} conflict\n{tail}",
            resource=what,
            hint="relax the conflicting pins; extra requirements must agree with the "
            "framework image's pinned versions",
        )
    return BuildFailed(
        f"pip could not install {what}\n{tail}",
        resource=what,
        hint="check the package names and versions, and the host's pip configuration "
        "(pip config list)",
    )


def resolve_site(
    requirements: Sequence[str],
    settings: Settings,
    *,
    what: str,
    constraints: Sequence[str] = (),
    exclude: Collection[str] = (),
    target: WheelPlatform | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
) -> Path:
    """A directory holding ``requirements`` installed for the image, cached.

    ``what`` names the requirement set in messages ("the sklearn framework",
    "requirements.txt"). ``constraints`` are extra pip constraints (added to the
    host's); distributions named in ``exclude`` are removed after installing (they are
    in the image already). ``refresh`` resolves again even when a cached copy exists.
    Raises :class:`BuildFailed` when pip cannot resolve, with pip's last lines.
    """
    say = progress or (lambda _line: None)
    target = target or host_platform()
    root = settings.cache_dir / "site"
    final = root / cache_key(requirements, constraints, target, exclude)
    if final.is_dir() and not refresh:
        say(f"==> Using cached wheels for {what} ({final.name})")
        return final
    root.mkdir(parents=True, exist_ok=True)
    say(f"==> Resolving wheels for {what} ({target.describe()})")
    with tempfile.TemporaryDirectory(prefix=".resolve-", dir=root) as scratch:
        work = Path(scratch)
        site = work / "site"
        reqs = work / "requirements.txt"
        reqs.write_text("\n".join(requirements) + "\n")
        cons = None
        if constraints:
            cons = work / "constraints.txt"
            cons.write_text("\n".join(constraints) + "\n")
        command = pip_command(
            site, reqs, target, constraints_file=cons, ca_bundle=settings.ca_bundle
        )
        _run_pip(command, what, target, say)
        if exclude:
            prune_distributions(site, set(exclude))
        _clean_site(site)
        _publish(site, final, replace=refresh)
    say(f"==> Wheels for {what} ready ({_size_mb(final):.0f} MB)")
    return final


def _run_pip(command: list[str], what: str, target: WheelPlatform, say: Progress) -> None:
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    except OSError as exc:
        hint = "install pip for Dockyard's Python"
        raise SetupError(f"cannot run pip: {exc}", hint=hint) from exc
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip()
        if not line or _NOISE.match(line):
            continue
        tail.append(line)
        say(line)
    if process.wait() != 0:
        if any("No module named pip" in line for line in tail):
            raise SetupError(
                f"{sys.executable} has no pip",
                hint=f"run {sys.executable} -m ensurepip, then build again",
            )
        raise explain_failure(list(tail), what, target)


def _clean_site(site: Path) -> None:
    """Drop what must not reach an image and fix metadata for reproducible contexts."""
    if not site.is_dir():
        site.mkdir(parents=True)  # nothing to install (all requirements already present)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: host shebangs
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    normalize_tree(site)


def _publish(site: Path, final: Path, *, replace: bool) -> None:
    """Move the resolved tree into the cache atomically (first writer wins)."""
    if replace and final.exists():
        stale = final.with_name(f".stale-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        site.rename(final)
    except OSError:
        if not final.is_dir():
            raise  # a real failure, not another process publishing the same key first


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _dist_infos(site: Path) -> list[tuple[str, str, Path]]:
    """(normalised project name, version, ``*.dist-info`` dir) of a resolved tree."""
    found: list[tuple[str, str, Path]] = []
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        found.append((re.sub(r"[-_.]+", "-", name).lower(), version, info))
    return found


def installed_versions(site: Path) -> dict[str, str]:
    """Normalised project name → installed version, for a resolved tree."""
    return {name: version for name, version, _ in _dist_infos(site)}


def prune_distributions(site: Path, names: set[str]) -> list[str]:
    """Remove the named distributions (files listed in RECORD) from ``site``.

    Used for a model's extra requirements: packages the framework image already holds
    (same pinned version, thanks to the constraints) would only add size.
    """
    removed: list[str] = []
    for name, _version, info in _dist_infos(site):
        if name not in names:
            continue
        record = info / "RECORD"
        for row in record.read_text().splitlines() if record.is_file() else []:
            rel = row.split(",", 1)[0]
            path = (site / rel).resolve()
            if path.is_relative_to(site.resolve()) and path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)
        removed.append(name)
    _remove_empty_dirs(site)
    return removed


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
