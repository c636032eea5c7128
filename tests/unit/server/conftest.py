"""A whole control plane on in-memory fakes, stepped pass by pass.

The fixtures build the daemon's assembly (:class:`ControlPlane` over a
:class:`Platform`) from :mod:`dockyard.testing`'s fakes, a store and the real local
artifact store on ``tmp_path``. Tests move the world with :meth:`World.step` (one
reconcile of everything, side by side) and the fakes' test controls; nothing sleeps
and nothing touches a real engine, balancer or network.

Time is a :class:`FakeClock` that only moves when a test says so. ``ControlPlane``
takes no clock, so the fixture hands it to the loop it built
(``control_plane.loop.clock``); the API side (``deploy``, ``create``) stamps records
with the wall clock, which is why the fake clock starts at the wall clock's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_client import client

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.store.memory import MemoryStore
from dockyard.control.task_network import NAMESPACE_HOLDER
from dockyard.ports.engine import ContainerState
from dockyard.ports.store import Store
from dockyard.records.task import TaskRecord
from dockyard.server import endpoints, training
from dockyard.server.aws.credentials import AccessKey, AccessKeys
from dockyard.server.aws.front import AwsFront
from dockyard.server.containers import CONTAINER_LABEL, TASK_LABEL
from dockyard.server.control_plane import ControlPlane
from dockyard.server.platform import Platform
from dockyard.server.task_network import TaskNamespaces
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

IMAGE = "model:1"
TRAINING_IMAGE = "trainer:1"
PAUSE_IMAGE = "pause:1"  # the namespace holders' image (no host catatonit needed)
ENDPOINT = "iris"
SETTLE_S = 5.0  # wall-clock bound on waiting for background work (stops, log copies)


class FakeClock:
    """The control plane's time: starts at the wall clock's, moves only on :meth:`advance`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class StopSeen:
    """One ``stop`` the engine received, and whether the balancer still held its task."""

    task_id: str
    held_by_balancer: bool


class WatchedEngine(FakeEngine):
    """A :class:`FakeEngine` that notes, at each ``stop``, whether the balancer still
    routes (or drains) to the stopped task: a stop of a held task cuts requests."""

    def __init__(self, lb: FakeLoadBalancer) -> None:
        super().__init__()
        self.lb = lb
        self.stops: list[StopSeen] = []

    def stop(self, container_id: str, timeout: int) -> None:
        task_id = next(
            (c.labels.get(TASK_LABEL, "") for c in self.containers() if c.id == container_id), ""
        )
        held = any(t.name == task_id for r in self.lb.routes() for t in self.lb.targets(r))
        self.stops.append(StopSeen(task_id, held))
        super().stop(container_id, timeout)

    def stopped_tasks(self) -> list[str]:
        return [seen.task_id for seen in self.stops]


@dataclass
class World:
    """One daemon's worth of control plane, and the fakes it runs on."""

    settings: Settings
    engine: WatchedEngine
    lb: FakeLoadBalancer
    probe: FakeHealthProbe
    store: Store
    platform: Platform
    control_plane: ControlPlane
    clock: FakeClock
    passes: int = 0  # reconcile passes run so far (for failure messages)

    # -- moving the world -------------------------------------------------------------------

    def step(self, passes: int = 1) -> None:
        """Reconcile everything ``passes`` times (each pass: every resource once)."""
        for _ in range(passes):
            self.control_plane.run_once()
            self.passes += 1

    def settle(self, done: Callable[[], bool], what: str) -> None:
        """Step until ``done()``; passes take milliseconds, the bound only stops a bug
        from hanging the suite (background stops and log copies finish between passes)."""
        deadline = time.monotonic() + SETTLE_S
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached after {self.passes} passes")
            self.step()

    def running(self, container_id: str) -> bool:
        return any(c.id == container_id and c.running for c in self.engine.containers())

    def stopped(self, container_id: str) -> None:
        """Step until the container no longer runs (stops are sent in the background)."""
        self.settle(
            lambda: not self.running(container_id), f"container {container_id[:12]} to stop"
        )

    # -- endpoints --------------------------------------------------------------------------

    def deploy(self, name: str = ENDPOINT, count: int = 2, **extra: Any) -> dict[str, Any]:
        request = {"EndpointName": name, "Image": IMAGE, "InstanceCount": count, **extra}
        return endpoints.deploy(self.platform, request)

    def status(self, name: str = ENDPOINT) -> str:
        return str(endpoints.describe(self.platform, name)["EndpointStatus"])

    def targets(self, route: str = ENDPOINT) -> dict[str, str]:
        """Target name (task id) -> its health as the balancer reports it."""
        return {t.name: t.health for t in self.lb.targets(route)}

    def replicas(self, name: str = ENDPOINT) -> list[TaskRecord]:
        return self.store.tasks.list(f"service/{name}-AllTraffic")

    def replica_ids(self, name: str = ENDPOINT) -> set[str]:
        return {r.task.task_id for r in self.replicas(name)}

    def in_service(self, name: str = ENDPOINT, count: int = 2) -> None:
        """Step until the endpoint is InService with ``count`` healthy targets."""

        def ready() -> bool:
            healthy = [h for h in self.targets(name).values() if h == "healthy"]
            return self.status(name) == "InService" and len(healthy) == count

        self.settle(ready, f"{name} InService with {count} targets")

    # -- containers -------------------------------------------------------------------------

    def containers_of(self, task_id: str) -> list[ContainerState]:
        """The task's own containers (its namespace holder aside: see :meth:`holder_of`)."""
        return [
            c
            for c in self.engine.containers()
            if c.labels.get(TASK_LABEL) == task_id
            and c.labels.get(CONTAINER_LABEL) != NAMESPACE_HOLDER
        ]

    def holder_of(self, task_id: str) -> ContainerState | None:
        """The container that holds the task's network namespace, if it has one."""
        found = [
            c
            for c in self.engine.containers()
            if c.labels.get(TASK_LABEL) == task_id
            and c.labels.get(CONTAINER_LABEL) == NAMESPACE_HOLDER
        ]
        return found[0] if found else None

    def container_of(self, task_id: str) -> ContainerState:
        (container,) = self.containers_of(task_id)
        return container

    # -- training jobs ----------------------------------------------------------------------

    def job(self, name: str) -> dict[str, Any]:
        return training.describe(self.store.training_jobs.require(name), self.store.metrics)

    def hosts(self, name: str) -> dict[str, TaskRecord]:
        """The job's host tasks by host name (algo-1, ...)."""
        return {
            r.placement.labels["dockyard.host"]: r
            for r in self.store.tasks.list(f"training-job/{name}")
        }

    def launched(self, name: str, count: int = 1) -> dict[str, TaskRecord]:
        """Step until ``count`` hosts of the job run; their tasks by host."""

        def running() -> bool:
            hosts = self.hosts(name)
            return len(hosts) == count and all(
                self.containers_of(r.task.task_id) for r in hosts.values()
            )

        self.settle(running, f"training job {name} running {count} hosts")
        return self.hosts(name)

    def ended(self, name: str) -> dict[str, Any]:
        """Step until the job has ended and its hosts are reaped; its description."""
        self.settle(lambda: self.store.training_jobs.require(name).done, f"{name} to end")
        return self.job(name)

    def host_dir(self, name: str, host: str = "algo-1") -> Path:
        """The host's ``/opt/ml`` on this machine (what its container writes to)."""
        return self.settings.state_dir / "jobs" / name / host

    def training_request(self, name: str, data: Path, *, hosts: int = 1) -> dict[str, Any]:
        """A CreateTrainingJob request with one ``file://`` channel (what the SDK sends)."""
        return training_request(name, data, hosts=hosts)

    def train(self, name: str, data: Path, *, hosts: int = 1) -> dict[str, Any]:
        """CreateTrainingJob through the API side; the job's description."""
        return training.create(self.platform, training_request(name, data, hosts=hosts))

    def complete(self, name: str, data: Path, model: dict[str, bytes]) -> dict[str, Any]:
        """Run a one-host job to completion, its container leaving ``model`` in
        /opt/ml/model; the completed job's description."""
        self.train(name, data)
        host = self.launched(name)["algo-1"]
        for file_name, content in model.items():
            (self.host_dir(name) / "model" / file_name).write_bytes(content)
        self.engine.exit(self.container_of(host.task.task_id).id, 0)
        return self.ended(name)


def training_request(name: str, data: Path, *, hosts: int = 1) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"epochs": "2"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data.as_uri(),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://dockyard/training-jobs"},
        "ResourceConfig": {"InstanceCount": hosts, "InstanceType": "local", "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


WorldFactory = Callable[..., World]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lb() -> FakeLoadBalancer:
    return FakeLoadBalancer()


@pytest.fixture
def engine(lb: FakeLoadBalancer) -> WatchedEngine:
    engine = WatchedEngine(lb)
    engine.add_image(IMAGE)
    engine.add_image(TRAINING_IMAGE)
    engine.add_image(PAUSE_IMAGE)
    return engine


@pytest.fixture
def make_world(
    settings: Settings, engine: WatchedEngine, lb: FakeLoadBalancer, clock: FakeClock
) -> Iterator[WorldFactory]:
    """Worlds on the same engine, balancer, clock and state directory: a second one on
    the first one's store is the same daemon after a restart."""
    made: list[World] = []

    def make(store: Store | None = None, probe: FakeHealthProbe | None = None) -> World:
        probe = probe if probe is not None else FakeHealthProbe(engine)
        platform = Platform(
            settings,
            store if store is not None else MemoryStore(),
            engine,
            lb,
            LocalArtifactStore(settings.artifacts_dir),
            probe,
        )
        control_plane = ControlPlane(platform)
        control_plane.loop.clock = clock
        tasks = control_plane.tasks
        tasks.namespaces = TaskNamespaces(
            engine, tasks.installation, pause_image=lambda _: PAUSE_IMAGE
        )
        world = World(settings, engine, lb, probe, platform.store, platform, control_plane, clock)
        made.append(world)
        return world

    yield make
    for world in made:
        world.control_plane.stop()


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    return make_world()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A training channel's data on the daemon's machine."""
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "train.csv").write_text("5.1,3.5,1.4,0.2,0\n6.7,3.1,4.7,1.5,1\n")
    return directory


@pytest.fixture
def front(world: World) -> AwsFront:
    """The AWS front on the world's fakes (boto3 clients reach it with ``aws_client``)."""
    return AwsFront(world.platform)


@pytest.fixture
def key(world: World) -> AccessKey:
    """An access key the front accepts."""
    return AccessKeys(world.settings.run_dir).issue()


@pytest.fixture
def sm(front: AwsFront, key: AccessKey) -> Any:
    """A boto3 ``sagemaker`` client on the front."""
    return client(front, "sagemaker", key)


@pytest.fixture
def loose(front: AwsFront, key: AccessKey) -> Any:
    """A ``sagemaker`` client that sends what it is given (botocore's checks off), to
    show what the front refuses by itself."""
    return client(front, "sagemaker", key, validate=False)
