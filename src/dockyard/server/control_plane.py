"""The control plane assembled: the task runner, the run facility, one reconciler per
kind of resource, and the loop that drives them (see :mod:`.loop`).

Built from a :class:`~dockyard.server.platform.Platform`, so the same assembly runs on
the real adapters in the daemon and on in-memory fakes in fast tests and benchmarks.
"""

from __future__ import annotations

from dockyard.server import instances
from dockyard.server.cluster_sync import ClusterSync
from dockyard.server.containers import installation_id
from dockyard.server.endpoint_reconciler import EndpointReconciler
from dockyard.server.housekeeping import Housekeeping
from dockyard.server.loop import ControlLoop, Reconciler
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer
from dockyard.server.registry.reconciler import RegistryReconciler
from dockyard.server.registry.scanning import image_scanner
from dockyard.server.runs import Runs, logs_root
from dockyard.server.scaling import ScalingReconciler
from dockyard.server.schedules import ScheduleReconciler
from dockyard.server.secrets import SecretBox, SecretVault
from dockyard.server.services import ServiceReconciler
from dockyard.server.standalone_tasks import StandaloneReconciler
from dockyard.server.task_env import TaskInjections
from dockyard.server.task_output import TaskOutput, output_root
from dockyard.server.task_roles import TaskRoles
from dockyard.server.tasks import TaskRunner
from dockyard.server.training import TrainingReconciler
from dockyard.server.transform import TransformReconciler
from dockyard.server.usage import UsageCollector


class ControlPlane:
    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        self.platform = platform
        #: task roles' tokens and credentials; the daemon serves them
        #: (:mod:`.credentials_endpoint`) and sets ``roles.base_url``
        self.roles = TaskRoles(settings.run_dir)
        self.tasks = TaskRunner(
            platform.engine,
            platform.store,
            settings.state_dir / "volumes",
            installation=installation_id(settings.state_dir),
            output=TaskOutput(platform.engine, output_root(settings)),
            injections=TaskInjections(
                SecretVault(platform.store, SecretBox(settings.run_dir), platform.clock),
                self.roles,
                pull_auth=lambda image: transfer.pull_auth(platform, image),
            ),
        )
        self.runs = Runs(self.tasks, platform.store, logs_root(settings))
        self.services = ServiceReconciler(
            platform.store,
            self.tasks,
            platform.lb,
            platform.probe,
            self._notify_owner,
            placer=instances.Placer(platform),
        )
        if settings.backend == "local":  # the local engine as an instance, the others attached
            instances.ensure_default(platform)
        self.endpoints = EndpointReconciler(platform, self.services)
        self.training = TrainingReconciler(platform, self.runs)
        self.transform = TransformReconciler(platform, self.runs)
        self.standalone = StandaloneReconciler(platform.store, self.tasks)
        self.housekeeping = Housekeeping(platform, self.tasks)
        self.usage = UsageCollector(platform)
        self.scaling = ScalingReconciler(platform)
        self.schedules = ScheduleReconciler(platform)
        self.registry = RegistryReconciler(
            platform, image_scanner(platform), settings.registry_lifecycle_interval
        )
        reconcilers: list[Reconciler] = [
            self.housekeeping,
            self.services,
            self.standalone,
            self.endpoints,
            self.training,
            self.registry,
            self.usage,
            self.scaling,
            self.schedules,
            self.transform,
        ]
        sync: ClusterSync | None = None
        if platform.cluster is not None:
            # DOCKYARD_BACKEND=kubernetes: the cluster runs, restarts and scales the
            # workloads (nothing of theirs starts on this machine); the sync reads back
            # what it reports on the applied ones
            local = {self.services, self.standalone, self.endpoints, self.training}
            local |= {self.usage, self.scaling, self.transform}
            reconcilers = [r for r in reconcilers if r not in local]
            sync = ClusterSync(platform, platform.cluster)
            reconcilers.append(sync)
        self.loop = ControlLoop(
            reconcilers,
            resync_s=settings.reconcile_interval,
            workers=settings.reconcile_workers,
            clock=platform.clock,
        )
        # with a cluster, the API's wakes of workloads go to the sync, which applies a
        # create or an update and carries out a delete or a stop
        platform.wake = sync.waker(self.loop.wake) if sync is not None else self.loop.wake

    def _notify_owner(self, owner: str) -> None:
        """A service's replicas changed: its endpoint looks at its status now."""
        kind, _, name = owner.partition("/")
        if kind == "endpoint":
            self.platform.wake("endpoint", name)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self.transform.close()
        self.services.close()
        self.tasks.close()

    def run_once(self) -> None:
        """Reconcile everything once, side by side (tests and benchmarks step with it)."""
        self.loop.run_once()
