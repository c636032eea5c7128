"""Where a reconcile pass spends its time: inside each port, or in the control plane.

:class:`PortClock` shadows the methods of the objects behind the ports (engine,
balancer, probe, store) with timed ones, on the instances only, and takes the
shadows away again afterwards; nothing in ``dockyard`` is changed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


class PortClock:
    """Seconds spent inside each port (outermost call only, per thread), and calls.

    :meth:`attach` shadows the instance's methods with timed ones; :meth:`detach`
    removes the shadows, giving the objects back as they were. Read it after a pass
    run on one thread: across worker threads the sums would overlap.
    """

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._local = threading.local()
        self._patched: list[tuple[object, str]] = []

    def attach(self, port: str, obj: object, methods: Iterable[str]) -> None:
        for name in methods:
            setattr(obj, name, self._timed(port, f"{port}.{name}", getattr(obj, name)))
            self._patched.append((obj, name))

    def attach_context(self, port: str, obj: object, name: str) -> None:
        """A method returning a context manager: its enter and exit are timed."""
        setattr(obj, name, self._timed_context(port, f"{port}.{name}", getattr(obj, name)))
        self._patched.append((obj, name))

    def detach(self) -> None:
        for obj, name in self._patched:
            delattr(obj, name)
        self._patched.clear()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def _timed(self, port: str, label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._local, "inside", False):
                return method(*args, **kwargs)
            self._local.inside = True
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[port] += time.perf_counter() - t0
                self.calls[label] += 1
                self._local.inside = False

        return timed

    def _timed_context(
        self, port: str, label: str, method: Callable[..., AbstractContextManager[Any]]
    ) -> Callable[..., AbstractContextManager[None]]:
        @contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[None]:
            t0 = time.perf_counter()
            context = method(*args, **kwargs)
            context.__enter__()
            self.seconds[port] += time.perf_counter() - t0
            self.calls[label] += 1
            try:
                yield
            except BaseException:
                t1 = time.perf_counter()
                suppressed = context.__exit__(*sys.exc_info())
                self.seconds[port] += time.perf_counter() - t1
                if not suppressed:
                    raise
            else:
                t1 = time.perf_counter()
                context.__exit__(None, None, None)
                self.seconds[port] += time.perf_counter() - t1

        return timed


def wrapper_cost(calls: int = 20_000) -> float:
    """Seconds one timed call adds (:class:`PortClock`'s own cost), per call."""

    class Target:
        def noop(self) -> None:
            return None

    plain, timed = Target(), Target()
    clock = PortClock()
    clock.attach("x", timed, ("noop",))
    t0 = time.perf_counter()
    for _ in range(calls):
        plain.noop()
    t1 = time.perf_counter()
    for _ in range(calls):
        timed.noop()
    t2 = time.perf_counter()
    return max(0.0, ((t2 - t1) - (t1 - t0)) / calls)
