"""Health checks over HTTP: ``GET`` each replica's ping URL, side by side.

Checks run in parallel with the contract's 2-second timeout, so one hung container
never delays the others or the control loop. What the answers mean is decided in
:mod:`dockyard.control.health`.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx

from dockyard.control.health import PING_TIMEOUT_S


class HttpHealthProbe:
    """:class:`~dockyard.ports.probe.HealthProbe` with httpx."""

    def __init__(self, workers: int = 16, timeout: float = PING_TIMEOUT_S) -> None:
        self._client = httpx.Client(timeout=timeout)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _ping(self, url: str) -> bool:
        try:
            return self._client.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    def check(self, urls: Mapping[str, str]) -> dict[str, bool]:
        if not urls:
            return {}
        answers = self._pool.map(self._ping, urls.values())
        return dict(zip(urls, answers, strict=True))
