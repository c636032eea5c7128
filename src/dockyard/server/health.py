"""Health checks the daemon runs itself: ``GET /ping`` on each replica.

A replica enters the load balancer only after its own ``/ping`` answered 200 here
(HAProxy marks a server added at runtime UP before its first check, so its checks
cannot be the gate). Probes run in parallel with a short timeout, so one hung
container never delays the others or the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from dockyard.control.task import HealthStatus

PING_TIMEOUT = 2.0  # the SageMaker contract: /ping answers within 2 s
RISE = 1  # consecutive passes that make a replica healthy (it must answer before traffic)
FALL = 3  # consecutive failures that make it unhealthy (one slow ping is not an outage)


@dataclass
class ProbeRecord:
    """One replica's probe history, with the load balancer's rise/fall hysteresis.

    ``status`` changes only after RISE passes or FALL failures in a row, so a single
    lost probe on a busy machine never takes a healthy replica out of rotation.
    """

    successes: int = 0
    failures: int = 0
    status: HealthStatus = HealthStatus.UNKNOWN

    def record(self, ok: bool) -> None:
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= RISE:
                self.status = HealthStatus.HEALTHY
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= FALL:
                self.status = HealthStatus.UNHEALTHY


class Prober:
    def __init__(self, workers: int = 16) -> None:
        self._client = httpx.Client(timeout=PING_TIMEOUT)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self.records: dict[str, ProbeRecord] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _ping(self, url: str) -> bool:
        try:
            return self._client.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    def probe(self, urls: Mapping[str, str]) -> dict[str, ProbeRecord]:
        """Probe every ``{replica id: ping url}`` once; return the updated records."""
        results = dict(zip(urls, self._pool.map(self._ping, urls.values()), strict=True))
        for replica, ok in results.items():
            self.records.setdefault(replica, ProbeRecord()).record(ok)
        return {replica: self.records[replica] for replica in urls}

    def forget(self, replica: str) -> None:
        self.records.pop(replica, None)
