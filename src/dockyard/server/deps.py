"""Route dependencies shared by every router."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from dockyard.server.platform import Platform

if TYPE_CHECKING:
    from dockyard.server.reconciler import Reconciler


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _reconciler(request: Request) -> Reconciler:
    reconciler: Reconciler = request.app.state.reconciler
    return reconciler


PlatformDep = Annotated[Platform, Depends(_platform)]
ReconcilerDep = Annotated["Reconciler", Depends(_reconciler)]
