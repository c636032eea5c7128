"""The debootstrap recipe: its command line, its errors, and how the tree is slimmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters import rootfs
from dockyard.errors import SetupError

pytestmark = pytest.mark.unit


def test_debootstrap_command_is_minbase_bookworm_with_python():
    command = rootfs.debootstrap_command(Path("/t/root"), "http://mirror/debian")

    assert command == [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,ca-certificates,netbase,libgomp1",
        "bookworm",
        "/t/root",
        "http://mirror/debian",
    ]


def test_missing_debootstrap_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(rootfs.shutil, "which", lambda name: None)
    monkeypatch.setattr(rootfs, "DEBOOTSTRAP_PATHS", (str(tmp_path / "absent"),))

    with pytest.raises(SetupError) as missing:
        rootfs.run_debootstrap(tmp_path / "root", lambda line: None)

    assert "apt-get install -y debootstrap" in (missing.value.hint or "")


def test_no_debian_mirror_is_a_setup_error(monkeypatch, tmp_path):
    monkeypatch.setattr(rootfs, "_debootstrap_binary", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootfs, "debian_mirror", lambda suite: None)

    with pytest.raises(SetupError) as none:
        rootfs.run_debootstrap(tmp_path / "root", lambda line: None)

    assert "Debian mirror" in none.value.message
    assert "DOCKYARD_BASE_IMAGE" in (none.value.hint or "")


def make_tree(root: Path) -> None:
    files = {
        "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease": "x",
        "var/cache/apt/archives/python3_3.11_amd64.deb": "x",
        "var/cache/apt/pkgcache.bin": "x",
        "var/cache/debconf/config.dat": "keep",
        "var/cache/debconf/config.dat-old": "x",
        "var/log/dpkg.log": "x",
        "usr/share/doc/python3/copyright": "licence",
        "usr/share/doc/python3/changelog.Debian.gz": "x",
        "usr/share/man/man1/python3.1.gz": "x",
        "usr/share/locale/de/LC_MESSAGES/apt.mo": "x",
        "etc/resolv.conf": "nameserver 10.0.0.1\n",
        "etc/hostname": "buildhost\n",
        "usr/bin/python3": "#!",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_slim_keeps_licences_and_debconf_but_drops_caches_docs_and_host_leaks(tmp_path):
    make_tree(tmp_path)

    rootfs.slim(tmp_path)

    assert (tmp_path / "usr/share/doc/python3/copyright").read_text() == "licence"
    assert not (tmp_path / "usr/share/doc/python3/changelog.Debian.gz").exists()
    assert (tmp_path / "var/cache/debconf/config.dat").exists()
    assert not (tmp_path / "var/cache/debconf/config.dat-old").exists()
    assert list((tmp_path / "var/lib/apt/lists").iterdir()) == [
        tmp_path / "var/lib/apt/lists/partial"
    ]
    assert not (tmp_path / "var/cache/apt/pkgcache.bin").exists()
    assert not any((tmp_path / "usr/share/man").iterdir())
    assert not any((tmp_path / "usr/share/locale").iterdir())
    assert (tmp_path / "etc/resolv.conf").read_text() == ""
    assert (tmp_path / "etc/hostname").read_text() == ""
    assert (tmp_path / "usr/bin/python3").exists()
    assert (
        "path-exclude /usr/share/doc/*"
        in (tmp_path / "etc/dpkg/dpkg.cfg.d/dockyard-slim").read_text()
    )
