"""``dockyard setup`` knows the registry's host programs: Distribution and skopeo."""

from __future__ import annotations

import pytest

from dockyard.adapters import host_packages
from dockyard.adapters.host_packages import PACKAGES, ensure_host_packages
from dockyard.errors import SetupError

pytestmark = pytest.mark.unit


@pytest.fixture
def debian_root(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A Debian host, as root, where nothing is installed yet; returns apt's calls."""
    installed: set[str] = set()
    calls: list[list[str]] = []

    def apt_install(names: list[str], progress: object) -> None:
        calls.append(list(names))
        installed.update(names)

    monkeypatch.setattr(host_packages, "apt_host", lambda: True)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr(host_packages, "dpkg_installed", lambda names: set(names) & installed)
    monkeypatch.setattr(host_packages, "on_path", lambda binary: False)
    monkeypatch.setattr(host_packages, "_apt_install", apt_install)
    return calls


def test_registry_and_skopeo_are_installed_with_apt(debian_root: list[list[str]]) -> None:
    assert ensure_host_packages({"docker-registry", "skopeo"}) == ["docker-registry", "skopeo"]
    assert debian_root == [["docker-registry", "skopeo"]]


def test_off_debian_the_upstream_registry_binary_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_packages, "apt_host", lambda: False)
    monkeypatch.setattr(host_packages, "on_path", lambda binary: binary == "registry")

    assert ensure_host_packages({"docker-registry"}) == []


def test_a_missing_registry_off_debian_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_packages, "apt_host", lambda: False)
    monkeypatch.setattr(host_packages, "on_path", lambda binary: False)

    with pytest.raises(SetupError) as error:
        ensure_host_packages({"docker-registry", "skopeo"})

    assert PACKAGES["docker-registry"].elsewhere in (error.value.hint or "")
    assert PACKAGES["skopeo"].elsewhere in (error.value.hint or "")
