"""The control loop: one generic observe → plan → execute loop for every kind.

controller-runtime's shape. Each kind of resource (services, endpoints, training
jobs, the platform's own housekeeping) has a :class:`Reconciler` that knows how to
list its resources and reconcile one: observe what is true, ask ``control`` for a
plan, execute it, store the result. The loop owns *when*:

* **level-triggered**: every resource is reconciled at least every ``resync_s``,
  whatever happened and whatever it asked for, so a missed event or a daemon restart
  costs nothing;
* **requeue**: a reconcile returns when it wants to look again (a replica waiting
  for its first check, a drain in progress, a startup timeout ending) and is run
  again then, not before;
* **wake**: the API wakes one resource (or a whole kind) when it changes desired
  state, so a deploy starts at once;
* **per-resource serialisation, side by side across resources**: a resource is never
  reconciled by two workers at once (a wake during a reconcile runs it again right
  after), while different resources run in parallel on a pool of workers. Nothing
  holds a global lock, so eight endpoints deploy as fast as one.

Nothing a user container does can end the loop: a reconcile that raises is logged
and retried at the next resync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Protocol

log = logging.getLogger("dockyard.loop")

Key = tuple[str, str]  # (kind, name)


class Reconciler(Protocol):
    kind: str

    def keys(self) -> list[str]:
        """The resources of this kind that exist now."""

    def reconcile(self, key: str, now: float) -> float | None:
        """Bring one resource a step closer to its desired state.

        Returns when to look again at the latest (an absolute time), or None to wait
        for the next resync. Must be idempotent: it may run at any time, any number
        of times, and must not wait on anything (observe again later instead).
        """


class ControlLoop:
    def __init__(
        self,
        reconcilers: Sequence[Reconciler],
        *,
        resync_s: float = 1.0,
        workers: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reconcilers = {r.kind: r for r in reconcilers}
        self.resync_s = resync_s
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
        self._cond = threading.Condition()
        self._due: dict[Key, float] = {}  # when each resource is to be reconciled next
        self._running: set[Key] = set()
        self._again: set[Key] = set()  # woken while running: run once more right after
        self._next_resync = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._schedule, name="control-loop", daemon=True)
        self.reconciles = 0  # how many have run (for the daemon's health and tests)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- what the API calls ---------------------------------------------------------------

    def wake(self, kind: str, key: str | None = None) -> None:
        """Reconcile ``key`` of ``kind`` now (every resource of the kind when None).
        A kind this loop does not run (another backend's) is nobody's to wake."""
        if kind not in self.reconcilers:
            return
        with self._cond:
            if key is None:
                for name in self._keys(kind):
                    self._due_now((kind, name))
            else:
                self._due_now((kind, key))
            self._cond.notify_all()

    def run_once(self, kinds: Sequence[str] | None = None) -> None:
        """Reconcile every resource (of ``kinds``) once, side by side, and return when
        all are done: for tests and benchmarks, which step the world pass by pass."""
        futures: list[Future[None]] = []
        for kind in kinds or list(self.reconcilers):
            for name in self._keys(kind):
                futures.append(self._pool.submit(self._run_now, (kind, name)))
        wait(futures)
        for future in futures:
            future.result()

    # -- internals ------------------------------------------------------------------------

    def _keys(self, kind: str) -> list[str]:
        try:
            return self.reconcilers[kind].keys()
        except Exception:
            log.exception("listing %s failed", kind)
            return []

    def _due_now(self, key: Key) -> None:
        if key in self._running:
            self._again.add(key)
        else:
            self._due[key] = min(self._due.get(key, float("inf")), self.clock())

    def _schedule(self) -> None:
        while True:
            now = self.clock()
            if now >= self._next_resync:
                listed = [(kind, name) for kind in self.reconcilers for name in self._keys(kind)]
                self._next_resync = now + self.resync_s
            else:
                listed = []
            with self._cond:
                if self._stopping:
                    return
                for key in listed:  # every resource, whatever it asked for
                    self._due[key] = min(self._due.get(key, now), now)
                ready = [k for k, at in self._due.items() if at <= now and k not in self._running]
                for key in ready:
                    del self._due[key]
                    self._running.add(key)
                    self._pool.submit(self._work, key)
                upcoming = [at for k, at in self._due.items() if k not in self._running]
                wake_at = min([self._next_resync, *upcoming])
                self._cond.wait(max(0.0, wake_at - self.clock()))

    def _work(self, key: Key) -> None:
        requeue = self._reconcile(key)
        with self._cond:
            self._running.discard(key)
            if key in self._again:
                self._again.discard(key)
                self._due[key] = self.clock()
            elif requeue is not None:
                self._due[key] = min(self._due.get(key, float("inf")), requeue)
            self._cond.notify_all()

    def _run_now(self, key: Key) -> None:
        """Reconcile ``key`` now, after any reconcile of it already running."""
        with self._cond:
            while key in self._running:
                self._cond.wait()
            self._running.add(key)
        self._work(key)

    def _reconcile(self, key: Key) -> float | None:
        kind, name = key
        try:
            return self.reconcilers[kind].reconcile(name, self.clock())
        except Exception:
            log.exception("reconciling %s/%s failed", kind, name)
            return None
        finally:
            self.reconciles += 1
