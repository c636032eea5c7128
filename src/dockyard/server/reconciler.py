"""The reconcile loop: compare desired with observed, act, repeat.

Level-triggered (controller-runtime's shape): each pass looks at everything —
training jobs, services, endpoint statuses — and does what the pure planners say.
A missed event or a restart costs nothing; the next pass sees the truth. The loop
sleeps ``reconcile_interval`` when all is steady and a tenth of a second while
something converges (a replica waiting for /ping), and wakes at once when the API
changes desired state. Nothing a user container does can end the loop: each step's
failure is logged and the pass moves on.
"""

from __future__ import annotations

import logging
import threading
import time

from dockyard.server import endpoints
from dockyard.server.platform import Platform
from dockyard.server.services import ServiceController
from dockyard.server.tasks import TaskManager, installation_id
from dockyard.server.training import TrainingJobs

log = logging.getLogger("dockyard.reconcile")

FAST_INTERVAL = 0.1
ORPHAN_SWEEP_EVERY = 30  # passes


class Reconciler:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.tasks = TaskManager(
            platform.engine,
            platform.store,
            platform.settings.state_dir / "volumes",
            installation=installation_id(platform.settings.state_dir),
            logs_root=platform.settings.logs_dir / "tasks",
        )
        self.services = ServiceController(platform.store, self.tasks, platform.lb)
        self.training = TrainingJobs(platform, self.tasks)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reconcile", daemon=True)
        self.passes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.platform.wake.set()
        self._thread.join(timeout=10)
        self.services.close()
        self.tasks.close()

    def _run(self) -> None:
        self._guard("re-adopt", self.readopt)
        while not self._stopping.is_set():
            converging = self.pass_once()
            interval = FAST_INTERVAL if converging else self.platform.settings.reconcile_interval
            self.platform.wake.wait(interval)
            self.platform.wake.clear()

    def pass_once(self) -> bool:
        """One pass over everything; True while something is still converging."""
        now = time.time()
        converging = False
        if self._guard("load balancer", self.platform.lb.ensure_running):
            log.warning("the load balancer had stopped; restarted it, re-registering replicas")
            self._guard("re-adopt", self.readopt)
        for name in self.training.active():
            converging = (
                self._guard(f"training job {name}", self.training.step, name, now) or converging
            )
        for name in self.services.names():
            plan = self._guard(f"service {name}", self.services.step, name, now)
            converging = converging or (plan is not None and not plan.steady)
        for doc in self.platform.store.list(endpoints.KIND):
            name = doc["EndpointName"]
            self._guard(
                f"endpoint {name}", endpoints.update_status, self.platform, self.services, name
            )
        self.passes += 1
        if self.passes % ORPHAN_SWEEP_EVERY == 1:
            removed = self._guard("orphan sweep", self.tasks.remove_orphans) or []
            for container in removed:
                log.info("removed container %s: it belongs to no known task", container)
        return converging

    def readopt(self) -> None:
        """After a restart: trust the store and the labels, re-check the load balancer.

        Tasks and their containers are found again by label on the first pass. What
        may have been lost is the load balancer's state (HAProxy restarted too): a
        task believed registered but absent there is marked unregistered, so the
        scheduler registers it again once /ping passes; routes come back from the
        endpoint records.
        """
        with self.platform.lock:
            for doc in self.platform.store.list(endpoints.KIND):
                self.platform.lb.ensure_route(doc["EndpointName"])
            for name in self.services.names():
                for record in self.services.records(name):
                    if not record.extra.get("registered"):
                        continue
                    route = self._route_of(name)
                    if route and record.task.task_id not in {
                        t.name for t in self.platform.lb.targets(route)
                    }:
                        record.extra["registered"] = False
                        self.tasks.save(record)

    def _route_of(self, service: str) -> str | None:
        doc = self.platform.store.get("service", service)
        return None if doc is None else doc["state"].get("target_group")

    def _guard(self, what: str, step, *args):  # type: ignore[no-untyped-def]
        try:
            with self.platform.lock:
                return step(*args)
        except Exception:
            log.exception("reconcile %s failed", what)
            return None
