"""Health checks of replicas: one round of ``GET /ping`` answers, nothing more.

The port only reports what each check saw (passed or not). What a sequence of
answers *means* (healthy after ``rise`` passes, unhealthy after ``fall`` failures)
is decided in :mod:`dockyard.control.health`, so there is one health truth per
replica and it survives a daemon restart in the replica's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class HealthProbe(Protocol):
    def check(self, urls: Mapping[str, str]) -> dict[str, bool]:
        """Check every ``{replica id: url}`` once, side by side; True where it answered 200."""

    def close(self) -> None: ...
