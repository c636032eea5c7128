"""The daemon's handles on the real world, opened once and shared.

Routes and the reconcile loop receive a ``Platform`` rather than reaching for
globals, so tests can open one on a temporary state directory and nothing else
in the server knows how an adapter is constructed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.engine import connect
from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer
from dockyard.adapters.store.sqlite import Store
from dockyard.ports.artifacts import ArtifactStore
from dockyard.ports.engine import Engine
from dockyard.ports.lb import LoadBalancer
from dockyard.settings import Settings


@dataclass
class Platform:
    settings: Settings
    store: Store
    engine: Engine
    lb: LoadBalancer
    artifacts: ArtifactStore
    #: set by anything that changes desired state, so the loop reacts at once
    wake: threading.Event = field(default_factory=threading.Event)
    #: held by every read-modify-write of a resource (API mutations, one loop step),
    #: so a stop or delete from the API is never overwritten by a step in flight
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def open(cls, settings: Settings, progress: Callable[[str], None] | None = None) -> Platform:
        for directory in (settings.state_dir, settings.logs_dir, settings.artifacts_dir):
            directory.mkdir(parents=True, exist_ok=True)
        store = Store(settings.db_path)
        engine = connect(settings, progress=progress)
        lb = HAProxyLoadBalancer.from_settings(settings)
        lb.ensure_running()
        return cls(settings, store, engine, lb, LocalArtifactStore(settings.artifacts_dir))

    def close(self) -> None:
        self.store.close()
