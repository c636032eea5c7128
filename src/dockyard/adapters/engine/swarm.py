"""The :class:`~dockyard.ports.engine.Engine` port on Docker swarm mode.

Dockyard never schedules across machines itself: with ``DOCKYARD_BACKEND=swarm`` the
daemon talks to a swarm *manager* and swarm places each container on a node. The
task/service core (:mod:`dockyard.control`) drives it exactly as it drives one
engine, through this port; only this module knows it is a swarm.

Design, and why:

* **One Dockyard container = one swarm service of one replica**, named as the
  container, labelled with the task's labels, restart policy ``none``. The service
  core decides how many tasks run, which to replace and when (rolling deploys,
  circuit breaker, draining); swarm decides *where* (its scheduler spreads tasks over
  the nodes with the fewest tasks, within their unreserved CPU and memory) and moves
  the image, networks and containers there. A task whose node leaves is seen as
  ``dead`` ("node … is down"), so the core stops it and starts a replacement, which
  swarm places on a node that is up: ECS's behaviour when an instance is lost. A
  swarm-replicated service of N would re-place its tasks on its own, but then a
  Dockyard task's address would change under the load balancer behind the core's
  back; one replica per service keeps a task's address fixed for its life.
* **Data path: ports published in host mode on the node that runs the task.** The
  balancer (HAProxy on the manager's host) targets ``node address:published port``
  (:attr:`ContainerState.host_address`). Measured on these machines: swarm's
  ingress routing mesh and virtual IPs need the kernel's IPVS, which is not there
  (dockerd logs "Could not get ipvs family information"; a port published in ingress
  mode never answers), and a task's overlay address is reachable only from
  containers on that overlay, not from the manager's host. Host-mode ports answer on
  every node address and need nothing from the kernel beyond what a published port
  on one engine needs. Services use ``dnsrr`` endpoints (no VIP) for the same reason;
  names and aliases on an overlay still resolve through swarm's DNS.
* **Training jobs**: each host is a service on the job's attachable overlay network
  with hostname ``algo-i`` and that alias, so ``algo-1..N`` resolve across nodes.
* Images are built, tagged, pushed and pulled on the manager's engine (the inner
  :class:`DockerEngine`); each node pulls the service's image itself when it starts a
  task, so images must come from a registry every node reaches (Dockyard's, under
  the name its nodes know it by). A task's image in Dockyard's registry comes with a
  pull-only credential (:attr:`ContainerSpec.pull_auth`), given to the service as its
  registry auth, which swarm passes to the node.
* What a remote node alone knows is not read through the manager: a container's
  resource use (``stats``) and its files (``put_archive``/``get_archive``) work for
  tasks on the manager's own engine; elsewhere ``stats`` is None and the archive
  calls raise.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker.auth
import docker.errors
import docker.types

from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.local_images import ImagesOnLocalEngine
from dockyard.adapters.engine.swarm_translate import (
    NANO,
    NodeView,
    current_task,
    node_view,
    service_args,
    task_state,
)
from dockyard.adapters.engine.translate import translated
from dockyard.errors import DockyardError, NotFound, SetupError
from dockyard.ports.engine import (
    ContainerSpec,
    ContainerState,
    ContainerStats,
    RegistryAuth,
)

#: how long :meth:`SwarmEngine.run` waits for the task to run with its ports
#: published before returning it as still starting (the core then keeps watching)
RUN_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.1
NOT_A_MANAGER_HINT = (
    "run `dockyard cluster init` (this engine becomes a one-node swarm; add nodes with "
    "`dockyard cluster join`), or set DOCKYARD_BACKEND=local"
)


class SwarmEngine(ImagesOnLocalEngine):
    """Containers as swarm services on the manager behind ``local``'s API."""

    kind = "swarm"
    #: the balancer reaches tasks on their nodes' published ports, never on their
    #: overlay addresses (see the module's docstring)
    routes_to_containers = False
    #: a service cannot join another's network namespace: training hosts keep their
    #: own, named by their alias on the job's overlay network while they run
    joins_namespaces = False
    #: every node pulls a task's image itself: endpoints and training hosts run their
    #: image by its name and digest in Dockyard's registry, never by image id
    nodes_pull_images = True
    local: DockerEngine  # the manager's engine: images, networks, the swarm API

    def __init__(self, local: DockerEngine, *, run_wait: float = RUN_WAIT_SECONDS) -> None:
        self.local = local
        self.base_url = local.base_url
        self._api = local._api
        self._run_wait = run_wait
        self._auth_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SwarmEngine(manager at {self.base_url})"

    def close(self) -> None:
        self.local.close()

    def ping(self) -> None:
        self.local.ping()

    def capacity(self) -> tuple[int, int]:
        return self.local.capacity()

    # ------------------------------------------------------------------ the swarm

    def is_manager(self) -> bool:
        """Whether the engine is a manager of an active swarm (it can run services)."""
        with translated(self.base_url, what="engine"):
            info: dict[str, Any] = self._api.info()
        swarm = info.get("Swarm") or {}
        return str(swarm.get("LocalNodeState")) == "active" and bool(swarm.get("ControlAvailable"))

    def _require_manager(self) -> None:
        if not self.is_manager():
            raise SetupError(
                f"the engine at {self.base_url} is not a swarm manager",
                resource=self.base_url,
                hint=NOT_A_MANAGER_HINT,
            )

    def nodes(self) -> dict[str, NodeView]:
        with translated("nodes", what="swarm"):
            found: list[dict[str, Any]] = self._api.nodes()
        views = (node_view(doc) for doc in found)
        return {view.id: view for view in views}

    # ------------------------------------------------------------------ containers

    def run(self, spec: ContainerSpec) -> ContainerState:
        """Create the container's service; return once its task runs with its ports
        published, has stopped, or :data:`RUN_WAIT_SECONDS` passed (still starting:
        a node may be pulling the image)."""
        args = service_args(spec)  # a SpecError before anything is made
        self._require_manager()
        with translated(spec.name):
            created = self._create_service(args, spec.pull_auth)
        service_id = str(created["ID"])
        deadline = time.monotonic() + self._run_wait
        state = self.inspect(service_id)
        while state.status == "created" and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            state = self.inspect(service_id)
        while (
            state.running
            and spec.publish
            and not set(spec.ports) <= set(state.host_ports)
            and time.monotonic() < deadline
        ):
            time.sleep(POLL_SECONDS)
            state = self.inspect(service_id)
        return state

    def _create_service(self, args: dict[str, Any], auth: RegistryAuth | None) -> dict[str, Any]:
        """``create_service`` with the image's pull credential as its registry auth
        (``docker service create --with-registry-auth``): swarm hands it to the node that
        runs the task, which pulls the image itself.

        docker-py takes a service's registry auth only from the client's auth configs,
        so the credential is put there for this one call, under a lock.
        """
        if auth is None:
            return dict(self._api.create_service(**args))
        image = str(args["task_template"]["ContainerSpec"]["Image"])
        registry = docker.auth.resolve_repository_name(image)[0]
        with self._auth_lock:
            configs = self._api._auth_configs
            entry = {
                "username": auth.username,
                "password": auth.password,
                "serveraddress": registry,
            }
            before = configs.auths.get(registry)
            configs.add_auth(registry, entry)
            try:
                return dict(self._api.create_service(**args))
            finally:
                if before is None:
                    configs.auths.pop(registry, None)
                else:
                    configs.add_auth(registry, before)

    def inspect(self, container_id: str) -> ContainerState:
        with translated(container_id):
            service = self._api.inspect_service(container_id)
            tasks = self._api.tasks(filters={"service": service["ID"]})
        return task_state(service, current_task(tasks), self.nodes())

    def list(self, labels: dict[str, str]) -> builtins.list[ContainerState]:
        """Every service (running or not) carrying all of ``labels``: three calls to
        the manager (services, their tasks, the nodes), whatever their number."""
        if not self.is_manager():
            return []
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        with translated("services", what="swarm"):
            services: builtins.list[dict[str, Any]] = self._api.services(filters=filters)
            if not services:
                return []
            tasks: builtins.list[dict[str, Any]] = self._api.tasks(
                filters={"service": [s["ID"] for s in services]}
            )
        by_service: dict[str, builtins.list[dict[str, Any]]] = {}
        for task in tasks:
            by_service.setdefault(str(task.get("ServiceID")), []).append(task)
        nodes = self.nodes()
        return [
            task_state(service, current_task(by_service.get(service["ID"], [])), nodes)
            for service in services
        ]

    def stop(self, container_id: str, timeout: int) -> None:
        """Scale the service to 0: swarm stops its task (its stop signal, then SIGKILL
        after ``timeout`` seconds) and keeps the task's exit code."""
        with translated(container_id):
            service = self._api.inspect_service(container_id)
            replicas = ((service.get("Spec") or {}).get("Mode") or {}).get("Replicated") or {}
            if replicas.get("Replicas", 1) == 0:
                return
            template = dict((service.get("Spec") or {}).get("TaskTemplate") or {})
            container = dict(template.get("ContainerSpec") or {})
            container["StopGracePeriod"] = timeout * NANO
            template["ContainerSpec"] = container
            self._api.update_service(
                service["ID"],
                service["Version"]["Index"],
                task_template=template,
                mode=docker.types.ServiceMode("replicated", replicas=0),
                fetch_current_spec=True,
            )

    def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Signal the task's container where it runs on the manager's engine; a
        SIGKILL elsewhere stops the service (swarm sends no signals across nodes)."""
        local_id = self._local_container(container_id)
        if local_id is not None:
            self.local.kill(local_id, signal)
        elif signal in ("SIGKILL", "KILL", "9"):
            self.stop(container_id, 0)
        else:
            raise DockyardError(
                f"container {container_id} runs on another node: only SIGKILL can reach it",
                resource=container_id,
            )

    def remove(self, container_id: str) -> None:
        """Remove the service (and with it its task's container, on whichever node)."""
        try:
            with translated(container_id):
                self._api.remove_service(container_id)
        except NotFound:
            return

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.inspect(container_id)
            if state.status in ("exited", "dead"):
                return state.exit_code if state.exit_code is not None else -1
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"container {container_id} still running")
            time.sleep(POLL_SECONDS * 5)

    def logs(
        self, container_id: str, follow: bool = False, timestamps: bool = False
    ) -> Iterator[bytes]:
        """The service's output through the manager, from whichever node ran it."""
        with translated(container_id):
            stream = self._api.service_logs(
                container_id,
                stdout=True,
                stderr=True,
                follow=follow,
                timestamps=timestamps,
                is_tty=False,
            )
        return DockerEngine._guarded(stream, container_id)

    def stats(self, container_id: str) -> ContainerStats | None:
        local_id = self._local_container(container_id)
        return None if local_id is None else self.local.stats(local_id)

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None:
        self.local.put_archive(self._require_local(container_id), path, tar_bytes)

    def get_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        return self.local.get_archive(self._require_local(container_id), path)

    def _local_container(self, service_id: str) -> str | None:
        """The id of the service's running container when it runs on the manager."""
        with translated(service_id):
            tasks = self._api.tasks(filters={"service": service_id, "desired-state": "running"})
            own = str((self._api.info().get("Swarm") or {}).get("NodeID") or "")
        for task in tasks:
            container = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
            if task.get("NodeID") == own and container:
                return str(container)
        return None

    def _require_local(self, service_id: str) -> str:
        local_id = self._local_container(service_id)
        if local_id is None:
            raise DockyardError(
                f"container {service_id} does not run on this node: its files are only "
                "reachable on the node that runs it",
                resource=service_id,
            )
        return local_id

    # ------------------------------------------------------------------ task cgroups

    def task_cgroup(self, name: str, cpus: float | None, memory_mib: int | None) -> str | None:
        """None: a task's containers may land on different nodes, so each is bounded
        by its own service's limits."""
        return None

    def remove_task_cgroup(self, name: str) -> None:
        return None

    # ------------------------------------------------------------------ networks

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        """An attachable overlay network: it spans every node that runs one of its tasks."""
        self._require_manager()
        with translated(name, what="network"):
            if self._api.networks(names=[name]):
                return
            with contextlib.suppress(docker.errors.APIError):  # made meanwhile: fine
                self._api.create_network(
                    name, driver="overlay", attachable=True, labels=labels, scope="swarm"
                )
            if not self._api.networks(names=[name]):
                raise DockyardError(f"the overlay network {name} could not be made")

    def remove_network(self, name: str) -> None:
        self.local.remove_network(name)
