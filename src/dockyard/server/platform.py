"""The daemon's handles on the real world, opened once and shared.

Routes and reconcilers receive a ``Platform`` rather than reaching for globals. Every
handle is a port (:mod:`dockyard.ports`), so fast tests build one from in-memory
fakes (:mod:`dockyard.testing`) while :meth:`Platform.open` wires the real adapters;
nothing else in the server knows how an adapter is constructed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.cluster.connect import connect as connect_cluster
from dockyard.adapters.engine import connect
from dockyard.adapters.engine.fleet import FleetEngine
from dockyard.adapters.engine.swarm import SwarmEngine
from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer
from dockyard.adapters.probe import HttpHealthProbe
from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.control.training_status import TrainingJobStatus
from dockyard.errors import Conflict
from dockyard.ports.artifacts import ArtifactStore
from dockyard.ports.cluster import Cluster
from dockyard.ports.engine import Engine
from dockyard.ports.lb import LoadBalancer
from dockyard.ports.probe import HealthProbe
from dockyard.ports.store import Store
from dockyard.server.inputs import InputResolver
from dockyard.server.registry.handles import RegistryHandles
from dockyard.settings import Settings

Wake = Callable[[str, "str | None"], None]


def _no_loop(_kind: str, _key: str | None) -> None:
    return None


@dataclass
class Platform:
    settings: Settings
    store: Store
    engine: Engine
    lb: LoadBalancer
    artifacts: ArtifactStore
    probe: HealthProbe
    #: called by anything that changes desired state, so the control loop reacts at
    #: once (set by the daemon once the loop exists)
    wake: Wake = field(default=_no_loop)
    #: the time every decision is made at (a test may hand in its own)
    clock: Callable[[], float] = time.time
    #: the image registry (None where none is set up, e.g. fast tests on fakes)
    registry: RegistryHandles | None = None
    #: the cluster workloads run on (``DOCKYARD_BACKEND=kubernetes``); None: this machine
    cluster: Cluster | None = None

    @classmethod
    def open(cls, settings: Settings, progress: Callable[[str], None] | None = None) -> Platform:
        """The real adapters: SQLite, the Docker-API engine, HAProxy, the local store."""
        cluster = connect_cluster(settings)  # first: a backend without a kubeconfig stops here
        for directory in (settings.state_dir, settings.logs_dir, settings.artifacts_dir):
            directory.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(settings.db_path)
        local = connect(settings, progress=progress)
        # with the swarm backend the engine is (or becomes) a swarm's manager
        engine: Engine = SwarmEngine(local) if settings.backend == "swarm" else local
        if settings.backend == "local":  # EC2 tasks may run on other registered engines
            engine = FleetEngine(local)
        lb = HAProxyLoadBalancer.from_settings(settings)
        lb.ensure_running()
        artifacts = LocalArtifactStore(settings.artifacts_dir)
        registry = RegistryHandles.open(settings)
        return cls(
            settings,
            store,
            engine,
            lb,
            artifacts,
            HttpHealthProbe(),
            registry=registry,
            cluster=cluster,
        )

    @property
    def inputs(self) -> InputResolver:
        """The one resolver of user-given inputs (paths, file://, s3://, training-job:)."""
        return InputResolver(self.artifacts, self.model_artifact_of)

    def model_artifact_of(self, job_name: str) -> str:
        """``training-job:NAME``: the model a completed training job produced."""
        job = self.store.training_jobs.require(job_name)
        if job.state.status is not TrainingJobStatus.COMPLETED or not job.model_artifact:
            raise Conflict(
                f"training job {job_name!r} is {job.state.status}, it has no model yet",
                resource=f"training-job/{job_name}",
                hint=f"wait for it to complete (`dockyard training-job {job_name}`)",
            )
        return job.model_artifact

    @property
    def models_dir(self) -> Path:
        return self.settings.state_dir / "models"

    def close(self) -> None:
        self.probe.close()
        self.store.close()
