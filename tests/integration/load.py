"""Steady load on a URL from a few client threads, every outcome kept with its time.

Shared by the fault tests and ``bench/ecs.py``: each thread sends one request after
another on its own kept-alive connection (what a client pool does), so at most one
request per thread is in flight at any moment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Outcome:
    """One request: when it ended (monotonic), its status (0: no answer) and body."""

    at: float
    status: int
    body: str


class Load:
    """``threads`` clients POSTing ``body`` to ``url`` until stopped (a context manager)."""

    def __init__(self, url: str, *, threads: int = 2, body: bytes = b"x") -> None:
        self.url = url
        self.body = body
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(self.url, content=self.body)
                except httpx.HTTPError as error:
                    self.outcomes.append(Outcome(time.monotonic(), 0, repr(error)))
                    continue
                self.outcomes.append(Outcome(time.monotonic(), response.status_code, response.text))

    @property
    def answers(self) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.status == 200]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.status != 200]

    def count(self) -> int:
        return len(self.outcomes)

    def wait_answers(self, more: int, *, timeout: float, what: str) -> None:
        """Wait until ``more`` answers came after this call; fail naming ``what``."""
        target = len(self.answers) + more
        deadline = time.monotonic() + timeout
        while len(self.answers) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)
