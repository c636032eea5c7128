"""Install the host programs Dockyard drives, or say exactly how to get them.

On Debian and Ubuntu, as root, ``dockyard setup`` installs what is missing with apt
(``apt-get update`` runs only when something must be installed, so a second setup is
instant and silent). Anywhere else (not root, macOS, Fedora) nothing is installed:
what is already on ``PATH`` is accepted, a laptop with Docker Desktop and Homebrew's
HAProxy included, and anything missing is reported with the commands that install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import SetupError, SpecError

HAPROXY_MIN = (2, 4)
APT_LOCK_WAIT_S = 300


@dataclass(frozen=True)
class HostPackage:
    """A Debian package, the programs that show it is there, and how to get it elsewhere.

    ``binaries[0]`` is the program Dockyard runs; the others also show the capability
    off Debian (e.g. the ``docker`` client of Docker Desktop).
    """

    name: str
    what: str
    binaries: tuple[str, ...]
    elsewhere: str


PACKAGES = {
    p.name: p
    for p in (
        HostPackage(
            "docker.io",
            "Docker Engine",
            ("dockerd", "docker"),
            "apt-get install docker.io / Docker Desktop / dnf install moby-engine",
        ),
        HostPackage(
            "haproxy",
            "HAProxy ≥ 2.4",
            ("haproxy",),
            "brew install haproxy / apt-get install haproxy / dnf install haproxy",
        ),
        HostPackage(
            "debootstrap",
            "debootstrap",
            ("debootstrap",),
            "apt-get install debootstrap / dnf install debootstrap",
        ),
        HostPackage(
            "podman", "Podman", ("podman",), "apt-get install podman / brew install podman"
        ),
        HostPackage("runc", "runc", ("runc",), "apt-get install runc / dnf install runc"),
        HostPackage(
            "docker-registry",
            "CNCF Distribution (the image registry)",
            ("docker-registry", "registry"),
            "apt-get install docker-registry / dnf install docker-distribution / "
            "the `registry` binary of a github.com/distribution/distribution 2.8 release",
        ),
        HostPackage(
            "skopeo",
            "skopeo",
            ("skopeo",),
            "apt-get install skopeo / brew install skopeo / dnf install skopeo",
        ),
        HostPackage(
            "npm",
            "npm (installs the console's chart library)",
            ("npm",),
            "nodejs.org / brew install node",
        ),
        HostPackage(
            "chromium",
            "Chromium (the console's browser tests)",
            ("chromium", "chromium-browser"),
            "apt-get install chromium / brew install --cask chromium",
        ),
        HostPackage(
            "chromium-driver",
            "ChromeDriver (drives Chromium in the browser tests)",
            ("chromedriver",),
            "apt-get install chromium-driver / brew install --cask chromedriver",
        ),
        HostPackage(
            "catatonit",
            "catatonit (Podman's init for --init containers)",
            ("catatonit",),
            "apt-get install catatonit / dnf install catatonit",
        ),
    )
}

# What Podman needs next to it on these hosts: runc (crun fails on hybrid cgroups) and
# catatonit (Podman's compatible API ignores containers.conf's init_path).
COMPANIONS = {"podman": ("runc", "catatonit")}

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/libexec/podman")


def on_path(binary: str) -> bool:
    """``binary`` on PATH, or in an sbin directory a user's PATH may leave out."""
    return shutil.which(binary) is not None or any((Path(d) / binary).is_file() for d in SBIN_DIRS)


def apt_host() -> bool:
    """Debian or a derivative with apt and dpkg."""
    return Path("/etc/debian_version").is_file() and all(
        shutil.which(tool) for tool in ("apt-get", "dpkg-query")
    )


def dpkg_installed(names: Iterable[str]) -> set[str]:
    """Which of ``names`` dpkg reports as installed."""
    names = list(names)
    if not names:
        return set()
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = set()
    for line in result.stdout.splitlines():
        package, _, status = line.partition(" ")
        if status.strip() == "installed":
            installed.add(package)
    return installed


def haproxy_version() -> tuple[int, int] | None:
    """HAProxy's (major, minor), or ``None`` when it is not installed."""
    binary = shutil.which("haproxy") or next(
        (str(Path(d) / "haproxy") for d in SBIN_DIRS if (Path(d) / "haproxy").is_file()), None
    )
    if binary is None:
        return None
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\d+)\.(\d+)", result.stdout + result.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _present(package: HostPackage, installed: set[str], apt: bool) -> bool:
    """Installed by dpkg, or its main program is on PATH.

    Off apt hosts, the other programs count too: Docker Desktop gives ``docker``
    but no ``dockerd``. On apt hosts only the daemon does, because a bare client
    (``docker`` without ``dockerd``) cannot run anything.
    """
    if package.name in installed or on_path(package.binaries[0]):
        return True
    return not apt and any(on_path(b) for b in package.binaries[1:])


def _check_haproxy(want: set[str]) -> None:
    if "haproxy" not in want:
        return
    version = haproxy_version()
    if version is not None and version < HAPROXY_MIN:
        raise SetupError(
            f"HAProxy {version[0]}.{version[1]} is too old: Dockyard needs ≥ 2.4 "
            "(runtime API: add/del server)",
            hint=f"install a newer HAProxy: {PACKAGES['haproxy'].elsewhere}",
        )


def _missing_message(missing: list[str], apt: bool) -> SetupError:
    wanted = ", ".join(PACKAGES[name].what for name in missing)
    if apt:
        how = f"as root: apt-get install -y {' '.join(missing)}"
    else:
        how = "; ".join(f"{PACKAGES[name].what}: {PACKAGES[name].elsewhere}" for name in missing)
    return SetupError(f"Dockyard needs {wanted}, which is not installed", hint=f"install {how}")


def _apt_install(names: list[str], progress: Callable[[str], None]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"
    progress(f"installing {' '.join(names)} with apt-get")
    for command in (
        ["apt-get", "-o", lock, "update", "-qq"],
        ["apt-get", "-o", lock, "install", "-y", "-qq", *names],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise SetupError(
                f"`{' '.join(command)}` failed (exit {result.returncode}):\n{tail}",
                hint="fix apt (sources, network, locks), then: "
                f"apt-get install -y {' '.join(names)}",
            )


def ensure_host_packages(
    want: set[str], progress: Callable[[str], None] | None = None
) -> list[str]:
    """Make the programs of ``want`` (Debian package names) available; return those installed.

    Known names: docker.io, haproxy, debootstrap, podman, runc, catatonit,
    docker-registry, skopeo, npm, chromium, chromium-driver; podman brings its
    companions (:data:`COMPANIONS`).
    Idempotent: returns ``[]`` without running apt when everything is there.
    """
    say = progress or (lambda _line: None)
    unknown = sorted(want - PACKAGES.keys())
    if unknown:
        raise SpecError(
            f"unknown host package(s): {', '.join(unknown)}",
            field="want",
            hint=f"choose among {', '.join(sorted(PACKAGES))}",
        )
    want = want | {c for name in want for c in COMPANIONS.get(name, ())}
    apt = apt_host()
    installed = dpkg_installed(want) if apt else set()
    missing = sorted(name for name in want if not _present(PACKAGES[name], installed, apt))
    if missing and apt and os.geteuid() == 0:
        _apt_install(missing, say)
        still = sorted(set(missing) - dpkg_installed(missing))
        if still:
            raise _missing_message(still, apt)
    elif missing:
        raise _missing_message(missing, apt)
    _check_haproxy(want)
    return missing
