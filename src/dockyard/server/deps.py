"""Route dependencies shared by every router."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from dockyard.server.platform import Platform

if TYPE_CHECKING:
    from dockyard.server.control_plane import ControlPlane


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _control_plane(request: Request) -> ControlPlane:
    control_plane: ControlPlane = request.app.state.control_plane
    return control_plane


PlatformDep = Annotated[Platform, Depends(_platform)]
ControlPlaneDep = Annotated["ControlPlane", Depends(_control_plane)]
