"""Health checks in memory: a ping passes while its replica's container runs.

The server builds each replica's check url from the published address the engine
reported (``http://127.0.0.1:<host port>/ping``), so with a
:class:`~dockyard.testing.engine.FakeEngine` the probe can answer the way a real
model server would: a container that runs answers, one that has exited does not.
Tests make a running replica sick with :meth:`FakeHealthProbe.set_healthy`, or pin
any url's answer with :meth:`FakeHealthProbe.set_answer`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import suppress
from urllib.parse import urlsplit

from dockyard.ports.engine import ContainerState
from dockyard.testing.engine import FakeEngine


def address_of(url: str) -> str:
    """``host:port`` of a url, the key addresses are compared by."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


class FakeHealthProbe:
    """:class:`dockyard.ports.probe.HealthProbe` answering from a :class:`FakeEngine`.

    A url passes when, in order: :meth:`set_answer` pinned its url or address; else a
    running container of ``engine`` serves its address and was not marked unhealthy
    with :meth:`set_healthy`; else it fails. Without an engine, urls nobody pinned
    get ``default``.

    Test controls: :meth:`set_answer`, :meth:`clear_answer`, :meth:`set_healthy`, and
    :attr:`calls` (port method → times called); :attr:`urls_checked` counts urls.
    """

    def __init__(self, engine: FakeEngine | None = None, *, default: bool = False) -> None:
        self.engine = engine
        self.default = default
        self.calls: Counter[str] = Counter()
        self.urls_checked = 0
        self._lock = threading.Lock()
        self._answers: dict[str, bool] = {}
        self._health: dict[str, bool] = {}

    # ------------------------------------------------------------------ test controls

    def set_answer(self, url_or_address: str, passed: bool) -> None:
        """Pin the answer for a url (``http://…/ping``) or an address (``host:port``)."""
        with self._lock:
            self._answers[url_or_address] = passed

    def clear_answer(self, url_or_address: str) -> None:
        with self._lock:
            self._answers.pop(url_or_address, None)

    def set_healthy(self, container_id_or_address: str, healthy: bool) -> None:
        """Mark a container (id, name or id prefix, or ``host:port``) sick or well again.

        A container is resolved now, so the mark follows it and not its address.
        """
        key = container_id_or_address
        if self.engine is not None:
            found = [
                c
                for c in self.engine.containers()
                if key and key in (c.id, c.name, c.id[: len(key)])
            ]
            key = found[0].id if len(found) == 1 else key
        with self._lock:
            self._health[key] = healthy

    # ------------------------------------------------------------------ the port

    def check(self, urls: Mapping[str, str]) -> dict[str, bool]:
        """One answer per replica id; unlike a real probe it never waits."""
        serving = self._serving(urls.values())
        with self._lock:
            self.calls["check"] += 1
            self.urls_checked += len(urls)
            return {replica: self._answer(url, serving) for replica, url in urls.items()}

    def close(self) -> None:
        with self._lock:
            self.calls["close"] += 1

    # ------------------------------------------------------------------ internals

    def _serving(self, urls: Iterable[str]) -> dict[str, ContainerState | None]:
        """The engine's running container at each url's address, in one engine call
        (a url that does not parse is left to :meth:`_answer`, which raises)."""
        if self.engine is None:
            return {}
        addresses = set()
        for url in urls:
            with suppress(ValueError):
                addresses.add(address_of(url))
        return self.engine.serving(addresses)

    def _answer(self, url: str, serving: Mapping[str, ContainerState | None]) -> bool:
        address = address_of(url)
        for key in (url, address):
            if key in self._answers:
                return self._answers[key]
        if self.engine is None:
            return self.default
        container = serving.get(address)
        if container is not None:
            return self._health.get(container.id, self._health.get(address, True))
        return False
