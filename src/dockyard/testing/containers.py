"""The container half of :class:`~dockyard.testing.engine.FakeEngine`: records and lookups.

Kept apart from the engine so the engine reads as the port (locking, counting, the
errors it raises) and this module as the state behind it. Two engine rules live here
because lookups must agree with a real engine's: a container is found by id, name or
unique id prefix, and one that has stopped keeps its exit code but publishes no port
and has no address (Docker clears its network settings).

Containers are indexed by label, host port and address, none of which changes after
``run``, so listing by label and finding what serves an address do not scan them all.
"""

from __future__ import annotations

import hashlib
import itertools
import signal as signals
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard.errors import Conflict, NotFound
from dockyard.ports.engine import ContainerSpec, ContainerState

FIRST_HOST_PORT = 40000  # published ports are numbered from here, one counter per engine


def now() -> str:
    """A timestamp as the engine writes ``StartedAt``/``FinishedAt``."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def missing(what: str, ref: str, said: str) -> NotFound:
    """A 404 worded as the Docker adapter's ``translated`` words it."""
    return NotFound(
        f"{what} {ref}: {said}",
        resource=ref,
        hint=f"check the name; the {what} may have been removed",
    )


def name_taken(name: str) -> Conflict:
    """A 409 worded as the Docker adapter words a container name in use."""
    return Conflict(
        f'container {name}: Conflict. The container name "/{name}" is already in use',
        resource=name,
        hint="pick another name or remove the existing container first",
    )


def killed_by(signal: str) -> int:
    """The exit code of a process killed by ``signal`` (``SIGKILL``, ``KILL`` or ``9``)."""
    if signal.isdigit():
        return 128 + int(signal)
    name = signal.upper() if signal.upper().startswith("SIG") else f"SIG{signal.upper()}"
    return 128 + int(signals.Signals[name])


@dataclass
class Container:
    """One container as the fake engine holds it (mutable, unlike what it hands out)."""

    id: str
    name: str
    image: str
    labels: dict[str, str]
    ports: dict[int, int]  # published: container port → host port
    exposed: frozenset[int]  # every port it serves on its own address
    ip_address: str
    serial: int  # creation order: the n-th container the engine made
    running: bool = True
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: str = field(default_factory=now)
    finished_at: str | None = None
    logs: list[bytes] = field(default_factory=list)
    log_times: list[str] = field(default_factory=list)  # RFC 3339, one per chunk of ``logs``
    cpu_used_ns: int = 0  # what ``stats`` reports (set by tests)
    memory_bytes: int = 0
    usage_at: float | None = None  # when those were read (None: when asked)
    archives: dict[str, bytes] = field(default_factory=dict)
    health: str | None = None  # the engine's health verdict (set by tests)
    spec: ContainerSpec | None = None  # what it was started with

    def state(self) -> ContainerState:
        return ContainerState(
            id=self.id,
            name=self.name,
            image=self.image,
            status="running" if self.running else "exited",
            labels=dict(self.labels),
            exit_code=self.exit_code,
            oom_killed=self.oom_killed,
            started_at=self.started_at,
            finished_at=self.finished_at,
            host_ports=dict(self.ports) if self.running else {},
            ip_address=self.ip_address if self.running else None,
            health=self.health if self.running else None,
        )

    def end(self, code: int, oom: bool = False) -> bool:
        """The process ended with ``code``; False (and nothing changes) if it already had."""
        if not self.running:
            return False
        self.running, self.exit_code, self.oom_killed = False, code, oom
        self.finished_at = now()
        return True

    def has_news(self, sent: int) -> bool:
        """Whether a log follower that has had ``sent`` chunks has more, or is done."""
        return len(self.logs) > sent or not self.running


class ContainerTable:
    """Containers by id, in creation order; not locked itself (the engine locks).

    Indexes, kept by :meth:`create` and :meth:`delete`: each label (key, value) → the
    ids carrying it, in creation order; each published host port, and each address,
    → its container's id (host ports come from one counter, addresses from the serial).
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Container] = {}
        self._by_label: dict[tuple[str, str], dict[str, None]] = {}
        self._by_host_port: dict[int, str] = {}
        self._by_ip: dict[str, str] = {}
        self._ports = itertools.count(FIRST_HOST_PORT)
        self._serial = itertools.count(1)

    def __iter__(self) -> Iterator[Container]:
        return iter(list(self._by_id.values()))

    def labelled(self, labels: dict[str, str]) -> list[Container]:
        """Containers carrying all of ``labels``, in creation order."""
        if not labels:
            return list(self._by_id.values())
        wanted = labels.items()
        ids = min((self._by_label.get(label, {}) for label in wanted), key=len)
        found = (self._by_id[i] for i in ids)  # an index keeps creation order
        return [c for c in found if wanted <= c.labels.items()]

    def serving(self, address: str) -> Container | None:
        """The first-created running container ``host:port`` reaches: the one publishing
        that port (any host will do: host ports are unique), or the one at that address
        if it exposes the port."""
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            return None
        number = int(port)
        published = self._by_id.get(self._by_host_port.get(number, ""))
        own = self._by_id.get(self._by_ip.get(host, ""))
        found = [c for c in (published, own) if c is not None and c.running]
        found = [c for c in found if c is published or number in c.exposed]
        return min(found, key=lambda c: c.serial, default=None)

    def named(self, name: str) -> Container | None:
        return next((c for c in self._by_id.values() if c.name == name), None)

    def find(self, ref: str) -> Container:
        """By id, name or unique id prefix; :class:`NotFound` otherwise."""
        if ref in self._by_id:
            return self._by_id[ref]
        matches = [c for c in self._by_id.values() if ref and ref in (c.name, c.id[: len(ref)])]
        if len(matches) != 1:
            raise missing("container", ref, f"No such container: {ref}")
        return matches[0]

    def create(self, spec: ContainerSpec) -> Container:
        """A running container for ``spec``, each published port on the next host port."""
        serial = next(self._serial)
        container = Container(
            id=hashlib.sha256(f"{spec.name}#{serial}".encode()).hexdigest(),
            name=spec.name,
            image=spec.image,
            labels=dict(spec.labels),
            ports={port: next(self._ports) for port in spec.ports} if spec.publish else {},
            exposed=frozenset(spec.ports),
            ip_address=f"172.17.{serial // 250}.{serial % 250 + 2}",
            serial=serial,
            health="starting" if spec.health_check is not None else None,
            spec=spec,
        )
        self._by_id[container.id] = container
        for label in container.labels.items():
            self._by_label.setdefault(label, {})[container.id] = None
        self._by_host_port.update(dict.fromkeys(container.ports.values(), container.id))
        self._by_ip[container.ip_address] = container.id
        return container

    def delete(self, container: Container) -> None:
        if self._by_id.pop(container.id, None) is None:
            return
        for label in container.labels.items():
            ids = self._by_label[label]
            del ids[container.id]
            if not ids:
                del self._by_label[label]
        for host_port in container.ports.values():
            del self._by_host_port[host_port]
        del self._by_ip[container.ip_address]
