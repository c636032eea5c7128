"""The platform's own upkeep, reconciled like any resource: the load balancer and leftovers.

* ``load-balancer``: HAProxy runs; if it had died it is restarted with its routes
  (from its map file), and every service is woken: their next reconcile sees that
  their replicas are no longer targets and registers the healthy ones again. On the
  daemon's first pass every endpoint's and load-balanced ECS service's route is made
  sure of, too.
* ``registry``: Dockyard's image registry (Distribution) runs; a dead one is started
  again on the same data. Where it cannot start (not installed), that is said once in
  the log and the rest of the daemon carries on.
* ``orphans``: containers labelled as this installation's whose task is unknown (a
  daemon killed between starting a container and recording it) are removed, every
  :data:`ORPHAN_SWEEP_S`; so are the tags of SageMaker resources that no longer exist.
"""

from __future__ import annotations

import logging

from dockyard.control.endpoint import is_multi_model
from dockyard.errors import DockyardError
from dockyard.server.aws import tags
from dockyard.server.platform import Platform
from dockyard.server.tasks import TaskRunner

log = logging.getLogger("dockyard.housekeeping")

KIND = "platform"
LOAD_BALANCER = "load-balancer"
REGISTRY = "registry"
ORPHANS = "orphans"
ORPHAN_SWEEP_S = 30.0


class Housekeeping:
    kind = KIND

    def __init__(self, platform: Platform, tasks: TaskRunner) -> None:
        self.platform = platform
        self.tasks = tasks
        self._routes_checked = False
        self._swept_at = float("-inf")
        self._registry_error: str | None = None

    def keys(self) -> list[str]:
        return [LOAD_BALANCER, ORPHANS] + ([REGISTRY] if self.platform.registry else [])

    def reconcile(self, key: str, now: float) -> float | None:
        if key == LOAD_BALANCER:
            self._load_balancer()
            return None
        if key == REGISTRY:
            self._registry()
            return None
        if key == ORPHANS:
            if now - self._swept_at < ORPHAN_SWEEP_S:
                return self._swept_at + ORPHAN_SWEEP_S
            self._swept_at = now
            for name in self.tasks.remove_orphans():
                log.info("removed container %s: it belongs to no known task", name)
            for resource in tags.sweep(self.platform.store):
                log.info("dropped the tags of %s: it no longer exists", resource)
            return now + ORPHAN_SWEEP_S
        return None

    def _load_balancer(self) -> None:
        restarted = self.platform.lb.ensure_running()
        if restarted:
            log.warning("the load balancer had stopped; restarted it, re-registering replicas")
        if restarted or not self._routes_checked:
            for endpoint in self.platform.store.endpoints.list():
                affinity = is_multi_model(endpoint.model)
                for variant_route in endpoint.routes:  # its own and its variants'
                    self.platform.lb.ensure_route(variant_route, affinity=affinity)
            for service in self.platform.store.services.list():
                if service.ecs is not None and service.target is not None:
                    route = service.state.target_group
                    if route is not None:
                        settings = service.ecs.target_group_attributes.route_settings()
                        self.platform.lb.ensure_route(route, settings)
            self._routes_checked = True
        if restarted:
            self.platform.wake("service", None)

    def _registry(self) -> None:
        registry = self.platform.registry
        if registry is None:
            return
        try:
            if registry.process.ensure_running():
                log.info("registry started on %s", registry.public_host)
            self._registry_error = None
        except DockyardError as error:
            if str(error) != self._registry_error:
                log.error("the registry cannot start: %s", error)
            self._registry_error = str(error)
