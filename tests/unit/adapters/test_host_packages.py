"""Deciding what ``dockyard setup`` installs, and what it tells users it cannot install."""

from __future__ import annotations

import pytest

from dockyard.adapters import host_packages
from dockyard.adapters.host_packages import ensure_host_packages
from dockyard.errors import SetupError, SpecError

pytestmark = pytest.mark.unit


@pytest.fixture
def host(monkeypatch):
    """A fake host: which packages dpkg has, what is on PATH, root or not, and apt calls."""

    class Host:
        apt = True
        root = True
        dpkg: set[str] = set()
        path: set[str] = set()
        apt_calls: list[list[str]] = []
        haproxy = (2, 6)

    fake = Host()
    fake.dpkg, fake.path, fake.apt_calls = set(), set(), []

    def apt_install(names, progress):
        fake.apt_calls.append(list(names))
        fake.dpkg |= set(names)

    monkeypatch.setattr(host_packages, "apt_host", lambda: fake.apt)
    monkeypatch.setattr(host_packages.os, "geteuid", lambda: 0 if fake.root else 1000)
    monkeypatch.setattr(host_packages, "dpkg_installed", lambda names: set(names) & fake.dpkg)
    monkeypatch.setattr(host_packages, "on_path", lambda binary: binary in fake.path)
    monkeypatch.setattr(host_packages, "_apt_install", apt_install)
    monkeypatch.setattr(host_packages, "haproxy_version", lambda: fake.haproxy)
    return fake


def test_nothing_is_installed_when_everything_is_there(host):
    host.dpkg = {"docker.io", "haproxy", "debootstrap"}

    assert ensure_host_packages({"docker.io", "haproxy", "debootstrap"}) == []
    assert host.apt_calls == []


def test_only_the_missing_packages_are_installed_as_root_on_debian(host):
    host.dpkg = {"docker.io"}
    lines: list[str] = []

    installed = ensure_host_packages({"docker.io", "haproxy", "debootstrap"}, lines.append)

    assert installed == ["debootstrap", "haproxy"]
    assert host.apt_calls == [["debootstrap", "haproxy"]]


def test_a_daemon_on_path_counts_as_installed(host):
    host.path = {"dockerd"}  # e.g. docker-ce instead of Debian's docker.io

    assert ensure_host_packages({"docker.io"}) == []


def test_a_bare_docker_client_is_not_an_engine_on_debian(host):
    host.path = {"docker"}

    assert ensure_host_packages({"docker.io"}) == ["docker.io"]


def test_not_root_on_debian_says_which_apt_command_to_run(host):
    host.root = False

    with pytest.raises(SetupError) as missing:
        ensure_host_packages({"haproxy", "podman", "runc"})

    assert "apt-get install -y catatonit haproxy podman runc" in (missing.value.hint or "")
    assert host.apt_calls == []


def test_a_laptop_with_docker_desktop_and_haproxy_needs_nothing(host):
    host.apt = False
    host.root = False
    host.path = {"docker", "haproxy"}

    assert ensure_host_packages({"docker.io", "haproxy"}) == []


def test_elsewhere_a_missing_haproxy_names_brew_and_apt(host):
    host.apt = False
    host.path = {"docker"}
    host.haproxy = None

    with pytest.raises(SetupError) as missing:
        ensure_host_packages({"docker.io", "haproxy"})

    hint = missing.value.hint or ""
    assert "brew install haproxy" in hint
    assert "apt-get install haproxy" in hint
    assert "HAProxy ≥ 2.4" in missing.value.message


def test_an_old_haproxy_is_refused(host):
    host.dpkg = {"haproxy"}
    host.haproxy = (2, 2)

    with pytest.raises(SetupError) as old:
        ensure_host_packages({"haproxy"})

    assert "2.2" in old.value.message


def test_unknown_packages_are_a_spec_error(host):
    with pytest.raises(SpecError):
        ensure_host_packages({"kubernetes"})


def test_podman_brings_runc_and_catatonit(host):
    host.root = True

    assert ensure_host_packages({"podman"}) == ["catatonit", "podman", "runc"]
