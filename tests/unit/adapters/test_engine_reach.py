"""Which engines the load balancer reaches on container addresses (no port proxy)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.adapters.engine.reach import DataPath, routes_to_containers

pytestmark = pytest.mark.unit

LOCAL = "unix:///var/run/docker.sock"
ROOTFUL: dict[str, Any] = {
    "SecurityOptions": ["name=seccomp,profile=default"],
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
}


def test_a_rootful_engine_on_this_linux_host_is_reached_directly() -> None:
    assert routes_to_containers(LOCAL, ROOTFUL, platform="linux")


@pytest.mark.parametrize(
    ("url", "info", "platform"),
    [
        pytest.param(
            LOCAL, {**ROOTFUL, "SecurityOptions": ["name=rootless"]}, "linux", id="rootless"
        ),
        pytest.param(
            LOCAL, {**ROOTFUL, "OperatingSystem": "Docker Desktop"}, "linux", id="desktop"
        ),
        pytest.param(LOCAL, ROOTFUL, "darwin", id="macos"),
        pytest.param("tcp://10.0.0.5:2375", ROOTFUL, "linux", id="remote-tcp"),
        pytest.param("ssh://builder", ROOTFUL, "linux", id="remote-ssh"),
    ],
)
def test_engines_whose_bridge_this_host_cannot_route_to_publish_ports(
    url: str, info: dict[str, Any], platform: str
) -> None:
    assert not routes_to_containers(url, info, platform=platform)


def test_an_info_without_the_optional_fields_counts_as_rootful() -> None:
    assert routes_to_containers(LOCAL, {}, platform="linux")


@pytest.mark.parametrize("mode", ["direct", "published"])
def test_the_setting_overrides_the_guess(mode: DataPath) -> None:
    desktop = {"OperatingSystem": "Docker Desktop"}
    assert routes_to_containers(LOCAL, desktop, mode, platform="linux") is (mode == "direct")
    assert routes_to_containers(LOCAL, ROOTFUL, mode, platform="linux") is (mode == "direct")
