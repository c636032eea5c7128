"""The load balancer on a local HAProxy that Dockyard starts and changes at runtime.

Life cycle, and why it is shaped this way:

- **Start.** :meth:`HAProxyLoadBalancer.ensure_running` reuses a live HAProxy whose
  admin socket answers, else renders ``<state_dir>/lb/haproxy.cfg`` and starts one,
  detached (see :mod:`.process`). The config declares a pool of backend *slots*
  (HAProxy 2.6 cannot create backends at runtime) and a route map file.
- **Routes** are entries of the map file ``<state_dir>/lb/routes.map`` (route -> slot).
  They change with ``add map`` / ``del map`` at runtime and are written to the file
  too, so a restarted HAProxy starts with the same routes.
- **Targets** are servers of the route's slot, added and removed with ``add server`` /
  ``del server``; they live only in the running process. After a restart of Dockyard
  they are read back with :meth:`targets`; after a restart of HAProxy there are none
  and the caller registers them again (the routes are there already).
- **Settings** of a route (:class:`~dockyard.ports.lb.RouteSettings`: algorithm and
  slow start) belong to its slot and are kept in ``<state_dir>/lb/slots.settings``.
  HAProxy cannot change a backend's ``balance`` at runtime, so a slot whose algorithm
  changes costs a seamless reload, as growing does; a new route takes a free slot that
  already has its algorithm when there is one. Slow start is an option of each server
  added from then on (``slowstart``), so it needs no reload.
- **Growing.** Only when every slot is taken does Dockyard rewrite the config with a
  bigger pool and replace the process seamlessly: the live targets are written into
  the new config and their health and drain states carried over through HAProxy's
  server-state file; the new process takes the listening sockets from the old one,
  which finishes its in-flight requests. No request is refused or cut.

Every call returns at once (see :mod:`dockyard.ports.lb`): registering puts a server in
service right away, draining and removing are a few runtime commands each, and what
takes time (requests in flight finishing, connections closing before ``del server``)
is seen through :meth:`HAProxyLoadBalancer.targets` on a later pass. The control plane
registers a replica once its own health record says healthy, and alone decides which
replicas are targets. HAProxy still checks every server's /ping, but only as a
data-plane guard: a server whose check fails gets no request until it passes again,
which covers the time between two passes of the control plane.

Every change runs under a file lock, so the CLI and the daemon may both use this class.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.adapters import processes
from dockyard.adapters.filelock import file_lock
from dockyard.adapters.lb import process
from dockyard.adapters.lb.config import (
    REQUEST_RING,
    HealthCheck,
    LbConfig,
    ServerLine,
    Timeouts,
    default_threads,
    hashed_slot_backend,
    hashed_slot_index,
    is_slot,
    parse_slot_settings,
    render_backend_map,
    render_config,
    render_slot_settings,
    render_split_map,
    slot_backend,
    slot_index,
)
from dockyard.adapters.lb.naming import check_address, check_route, server_name, target_name
from dockyard.adapters.lb.request_log import RingCursor, parse_ring
from dockyard.adapters.lb.runtime_api import (
    OP_RUNNING,
    RuntimeApi,
    RuntimeApiError,
    ServerState,
    parse_servers_state,
)
from dockyard.adapters.lb.stats import RouteStats, route_stats
from dockyard.errors import Conflict, SetupError
from dockyard.ports.lb import (
    ResponseTime,
    RouteSettings,
    RouteTraffic,
    Share,
    Target,
    TargetHealth,
)
from dockyard.settings import Settings, get_settings

_NO_SUCH = ("No such server", "No such backend")
_STILL_CONNECTED = "Server still has connections"
PAYLOAD_BYTES = 8000  # per runtime command: well inside HAProxy's 16 kB buffer


@dataclass(frozen=True)
class LbOptions:
    """Tuning of the load balancer; the defaults suit real model servers."""

    pool_size: int = 64  # slots declared up front, and added per growth step
    health: HealthCheck = field(default_factory=HealthCheck)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retries: int = 2
    delete_timeout: float = 10.0  # blocking removals: wait this long for connections to close
    poll_interval: float = 0.02
    threads: int | None = None  # HAProxy's nbthread; None: default_threads(this machine)


class HAProxyLoadBalancer:
    """:class:`dockyard.ports.lb.LoadBalancer` on HAProxy's runtime API."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 9080,
        run_dir: Path | None = None,
        logs_dir: Path | None = None,
        options: LbOptions | None = None,
        binary: str | None = None,
    ) -> None:
        state_dir = state_dir.resolve()
        self.paths = process.LbPaths.under(
            state_dir,
            (run_dir or state_dir / "run").resolve(),
            (logs_dir or state_dir / "logs").resolve(),
        )
        self.host = host
        self.port = port
        self.options = options or LbOptions()
        self._binary = binary
        self.api = RuntimeApi(self.paths.socket)
        self._settings_file = self.paths.map_file.with_name("slots.settings")
        self._known_routes: dict[str, str] = {}
        self._ring = RingCursor()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> HAProxyLoadBalancer:
        """The load balancer described by Dockyard's settings (``DOCKYARD_LB_*``)."""
        s = settings or get_settings()
        options = kwargs.pop("options", None) or LbOptions()
        if s.lb_threads is not None:
            options = replace(options, threads=s.lb_threads)
        return cls(
            s.state_dir,
            host=s.lb_host,
            port=s.lb_port,
            run_dir=s.run_dir,
            logs_dir=s.logs_dir,
            options=options,
            **kwargs,
        )

    # -- life cycle ---------------------------------------------------------------------

    def ensure_running(self) -> bool:
        """Reuse the running HAProxy, or start one with the persisted routes.

        Returns True when a new process had to start: its routes came back from the
        map file, but its targets did not, and the caller must register them again.

        A running HAProxy whose configuration is not the one this version of Dockyard
        writes (an upgrade changed timeouts, logging, checks...) is replaced seamlessly,
        keeping its routes and targets, as when its pool of slots grows.
        """
        binary = process.find_binary(self._binary)
        with self._locked():
            if self.api.answers():
                pid = int(self.api.info()["Pid"])
                if processes.read_pid(self.paths.pidfile) != pid:
                    processes.write_pid(self.paths.pidfile, pid)
                slots = self.slot_count()
                if self._config_outdated(slots):
                    self._grow(slots)
                return False
            stale = processes.read_pid(self.paths.pidfile)
            if stale is not None:
                process.terminate(stale)  # alive but deaf: hung; a dead pid is a no-op
            routes = self._routes_from_file()
            step = self.options.pool_size
            indices = (slot_index(backend) for backend in routes.values())
            needed = max((slot + 1 for slot in indices if slot is not None), default=0)
            slots = max(step, -(-needed // step) * step)
            processes.write_atomic(self.paths.map_file, render_backend_map(routes))
            processes.write_atomic(self.paths.server_state, "1\n")  # nothing to restore
            self._start(binary, slots, servers=[], take_over_from=None)
            return True

    def stop(self) -> None:
        """Stop HAProxy (routes stay in the map file; targets are gone)."""
        with self._locked():
            pid = processes.read_pid(self.paths.pidfile)
            if pid is not None:
                process.terminate(pid)
                self.paths.pidfile.unlink(missing_ok=True)

    def pid(self) -> int | None:
        """Pid of the HAProxy process serving now, or None if none answers."""
        if not self.api.answers():
            return None
        return int(self.api.info()["Pid"])

    def slot_count(self) -> int:
        """How many slots the running HAProxy has."""
        return sum(1 for name in self.api.backends() if slot_index(name) is not None)

    def _config_outdated(self, slots: int) -> bool:
        """Whether the running process's configuration differs from what this adapter
        renders for ``slots`` slots, server lines aside (those change at runtime)."""
        try:
            running = self.paths.config.read_text()
        except FileNotFoundError:
            return True

        def shape(text: str) -> list[str]:
            return [line for line in text.splitlines() if not line.startswith("    server ")]

        return shape(running) != shape(render_config(self._config(slots)))

    # -- routes -------------------------------------------------------------------------

    def url_for(self, route: str) -> str:
        check_route(route)
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/endpoints/{route}/invocations"

    def routes(self) -> list[str]:
        """Every route HAProxy knows, sorted."""
        return sorted(self._routes())

    def ensure_route(
        self, route: str, settings: RouteSettings | None = None, *, affinity: bool = False
    ) -> None:
        """Create the route if new, and give it ``settings`` (None: keep what it has).

        ``affinity``: on a hashed slot (a multi-model endpoint's, see :mod:`.config`),
        which balances on the target-model header whatever the settings; a route keeps
        the kind of slot it was made with. A change of algorithm reloads HAProxy
        seamlessly (see the module's docstring); a change of slow start applies to
        targets registered from now on.
        """
        check_route(route)
        with self._locked():
            self._ensure_route_locked(route, settings, affinity=affinity)

    def route_settings(self, route: str) -> RouteSettings | None:
        """The settings ``route`` runs with, None for an unknown route."""
        backend = self._routes().get(check_route(route))
        index = None if backend is None else slot_index(backend)
        if index is None:
            return None
        return self._slot_settings().get(index, RouteSettings())

    def remove_route(self, route: str) -> None:
        """Forget a route and its targets at once, cutting their requests in flight.

        Drain the targets first to let their requests finish. A rare, administrative
        operation: it waits (up to ``delete_timeout``) while their connections close.
        """
        check_route(route)
        with self._locked():
            routes = self._routes()
            backend = routes.pop(route, None)
            if backend is None:
                return
            self._persist_routes(routes)
            self.api.change(f"del map {self.paths.map_file} {route}")
            self._set_split_locked(route, ())
            for server in self.api.servers_state(backend):
                self._delete_server(backend, server.name)

    def split(self, route: str, shares: Sequence[Share]) -> None:
        """Spread ``route`` over its variants' routes (see :mod:`.config`): the split map
        is rewritten and swapped in whole at runtime; nothing else changes."""
        check_route(route)
        for share in shares:
            check_route(share.route)
        with self._locked():
            self._set_split_locked(route, tuple(shares))

    def splits(self) -> dict[str, tuple[Share, ...]]:
        """Every split route's shares, as last set."""
        return dict(self._read_splits())

    # -- targets ------------------------------------------------------------------------

    def targets(self, route: str) -> list[Target]:
        """Targets of ``route`` as HAProxy holds them now (empty for an unknown route).

        ``in_flight`` is the number of connections in use towards each server, read with
        one ``show servers conn`` for the whole route: what a draining target has left.
        """
        backend = self._backend_of(check_route(route))
        if backend is None:
            return []
        servers = self.api.servers_state(backend)
        # connections matter only for targets on their way out: ask only then
        leaving = any(s.draining or s.in_maintenance for s in servers)
        in_use = self.api.servers_conn(backend) if leaving else {}
        return [
            Target(
                target_name(s.name),
                s.address,
                target_health(s),
                in_use.get(f"{backend}/{s.name}", 0),
            )
            for s in servers
        ]

    def register(self, route: str, target: Target) -> None:
        """Put ``target`` in service for ``route`` (created if needed), without waiting.

        The server takes requests as soon as this returns; HAProxy's checks start at
        once and may take it out of rotation (and bring it back) between two passes of
        the control plane. Same name and address: kept as it is, only put back in
        service if it was drained or being removed. Same name, new address: the server
        is pointed at the new address (its idle connections to the old one are closed)
        and marked UP, as a new replica would be.
        """
        check_route(route)
        address = check_address(target.address)
        server = server_name(target.name)
        with self._locked():
            backend = self._ensure_route_locked(route)
            ref = f"{backend}/{server}"
            current = self._server(backend, server)
            if current is None:
                options = self.options.health.server_options() + self._slow_start(backend)
                self.api.change(
                    f"add server {ref} {address} {options}", ok=("New server registered",)
                )
                self.api.change(f"enable health {ref}")  # checks of dynamic servers start off
                self.api.change(f"enable server {ref}")  # out of maintenance: UP at once
            elif current.address != address:
                host, port = address.rsplit(":", 1)
                self.api.change(
                    f"set server {ref} addr {host.strip('[]')} port {port}",
                    ok=("IP changed", "no need to change"),
                )
                self.api.change(f"set server {ref} state ready")
                self.api.change(f"set server {ref} health up")
            elif current.draining or current.in_maintenance:
                self.api.change(f"enable health {ref}")  # if an earlier call stopped short
                self.api.change(f"set server {ref} state ready")

    def drain(self, route: str, target_name: str) -> None:
        """Send the target no new request; those in flight finish (see ``in_flight``).

        Unknown route or target, or a target already draining or being removed: nothing
        to do.
        """
        server = server_name(target_name)
        with self._locked():
            backend = self._routes().get(check_route(route))
            if backend is None:
                return
            current = self._server(backend, server)
            if current is None or current.draining or current.in_maintenance:
                return
            self.api.change(f"set server {backend}/{server} state drain", ok=_NO_SUCH)

    def remove(self, route: str, target_name: str) -> bool:
        """Take the target out for good, cutting what is still in flight; one attempt.

        The server goes into maintenance (no new request; its idle connections are
        closed), its requests in flight are cut, and HAProxy is asked to delete it.
        HAProxy refuses while connections are still closing: then this returns False,
        the server stays in maintenance, and the caller asks again on a later pass.
        Unknown route or target: True.
        """
        server = server_name(target_name)
        with self._locked():
            backend = self._routes().get(check_route(route))
            return backend is None or self._remove_once(backend, server)

    def deregister(self, route: str, target_name: str, drain_seconds: float = 5.0) -> None:
        """Drain the target, wait for its requests in flight, then remove it: blocking.

        A convenience for tools and tests, made of the non-blocking steps that the
        control plane takes one per pass. Waits until the target has nothing in flight
        or ``drain_seconds`` pass (what is still in flight then is cut, as an ALB does at
        the end of its deregistration delay), then retries :meth:`remove` for up to
        ``options.delete_timeout``. Unknown route or target: nothing to do.
        """
        self.drain(route, target_name)
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline and self._in_flight(route, target_name) > 0:
            time.sleep(self.options.poll_interval)
        self._until_removed(lambda: self.remove(route, target_name), f"{route}/{target_name}")

    # -- statistics ---------------------------------------------------------------------

    def stats(self) -> list[RouteStats]:
        """Request counters of every route and its targets (see :mod:`.stats`)."""
        return route_stats(self.api.stat(), self._routes())

    def traffic(self) -> list[RouteTraffic]:
        """The port's view of :meth:`stats`: each route's counters as a whole."""
        return [
            RouteTraffic(
                s.route,
                s.counters.requests,
                s.counters.responses_4xx,
                s.counters.responses_5xx,
                s.counters.in_flight,
            )
            for s in self.stats()
        ]

    def response_times(self) -> list[ResponseTime]:
        """New lines of the request ring (see :mod:`.request_log`), by route."""
        routes = {backend: route for route, backend in self._routes().items()}
        try:
            logged = parse_ring(self.api.events(REQUEST_RING))
        except SetupError:
            return []
        return [
            ResponseTime(routes[entry.backend], entry.status, entry.active_ms)
            for entry in self._ring.new(logged)
            if entry.backend in routes
        ]

    # -- internals ----------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.paths.lock)

    def _config(self, slots: int) -> LbConfig:
        return LbConfig(
            bind_host=self.host,
            bind_port=self.port,
            socket_path=self.paths.socket,
            map_path=self.paths.map_file,
            server_state_path=self.paths.server_state,
            split_path=self.paths.split_file,
            slots=slots,
            health=self.options.health,
            timeouts=self.options.timeouts,
            retries=self.options.retries,
            slot_settings=self._slot_settings(),
            threads=self.options.threads or default_threads(os.cpu_count() or 1),
        )

    def _slot_settings(self) -> dict[int, RouteSettings]:
        try:
            return parse_slot_settings(self._settings_file.read_text())
        except FileNotFoundError:
            return {}

    def _apply_settings(self, backend: str, settings: RouteSettings) -> None:
        """Give the slot ``settings``; reload seamlessly if its algorithm changes.

        A hashed slot (multi-model) always balances on the target-model header: its
        route's settings are not kept.
        """
        index = slot_index(backend)
        if index is None:
            return
        current = self._slot_settings()
        before = current.get(index, RouteSettings())
        if before == settings:
            return
        current[index] = settings
        processes.write_atomic(self._settings_file, render_slot_settings(current))
        if before.algorithm != settings.algorithm:
            self._grow(self.slot_count())  # same slots, the slot's new ``balance``

    def _slow_start(self, backend: str) -> str:
        """The ``slowstart`` option for a new server of ``backend``, or "".

        As on an ALB, a new target warms up only while the route has a healthy target
        in service that is not warming up itself: the first target of a route takes
        its full share at once.
        """
        index = slot_index(backend)
        settings = self._slot_settings().get(index, RouteSettings()) if index is not None else None
        seconds = settings.slow_start_s if settings is not None else 0
        if not seconds:
            return ""
        warm = any(
            s.op_state == OP_RUNNING and not s.draining and not s.in_maintenance
            for s in self.api.servers_state(backend)
        )
        return f" slowstart {seconds}s" if warm else ""

    def _start(
        self, binary: str, slots: int, servers: list[ServerLine], take_over_from: int | None
    ) -> None:
        """Write the config, validate it, start HAProxy and wait until it answers."""
        self.paths.make_dirs()
        if not self.paths.split_file.exists():  # HAProxy refuses to start without it
            processes.write_atomic(self.paths.split_file, render_split_map(self._read_splits()))
        candidate = self.paths.config.with_name("haproxy.cfg.new")
        candidate.write_text(render_config(self._config(slots), servers))
        process.check_config(binary, candidate)
        candidate.replace(self.paths.config)
        pid = process.launch(binary, self.paths, take_over_from=take_over_from)
        process.wait_ready(self.api, pid, self.paths.log)
        processes.write_pid(self.paths.pidfile, pid)

    def _grow(self, slots: int) -> None:
        """Replace the process with one that has ``slots`` slots, keeping every target."""
        binary = process.find_binary(self._binary)
        dump = self.api.execute("show servers state")
        processes.write_atomic(self.paths.server_state, dump)
        servers = []
        for state in parse_servers_state(dump):
            index, hashed = slot_index(state.backend), False
            if index is None:
                index, hashed = hashed_slot_index(state.backend), True
            if index is not None:
                servers.append(ServerLine(index, state.name, state.address, hashed=hashed))
        old_pid = int(self.api.info()["Pid"])
        self._start(binary, slots, servers, take_over_from=old_pid)

    def _routes(self) -> dict[str, str]:
        """Route -> slot backend, from the running HAProxy (and remembered)."""
        routes = self.api.map_entries(self.paths.map_file)
        self._known_routes = dict(routes)
        return routes

    def _backend_of(self, route: str) -> str | None:
        """The route's slot, from what this adapter last read or wrote; HAProxy is asked
        again only for a route not seen yet (reads of targets are the hot path)."""
        backend = self._known_routes.get(route)
        if backend is None:
            backend = self._routes().get(route)
        return backend

    def _routes_from_file(self) -> dict[str, str]:
        routes: dict[str, str] = {}
        try:
            lines = self.paths.map_file.read_text().splitlines()
        except FileNotFoundError:
            return routes
        for line in lines:
            fields = line.split()
            if len(fields) == 2 and is_slot(fields[1]):
                routes[fields[0]] = fields[1]
        return routes

    def _persist_routes(self, routes: dict[str, str]) -> None:
        self._known_routes = dict(routes)
        processes.write_atomic(
            self.paths.map_file,
            render_backend_map({r: b for r, b in routes.items() if is_slot(b)}),
        )

    def _ensure_route_locked(
        self, route: str, settings: RouteSettings | None = None, *, affinity: bool = False
    ) -> str:
        """The route's slot backend, assigning a free slot (growing if none) if new,
        with ``settings`` applied (None: an existing route keeps its own, a new one
        gets the defaults). A free slot that has the wanted algorithm comes first;
        ``affinity``: a hashed slot (see :meth:`_add_hashed_route`)."""
        routes = self._routes()
        if route in routes:
            if settings is not None:
                self._apply_settings(routes[route], settings)
            return routes[route]
        if affinity:
            return self._add_hashed_route(route, routes)
        wanted = settings or RouteSettings()
        used = {slot_index(backend) for backend in routes.values()}
        slots = self.slot_count()
        current = self._slot_settings()
        free = sorted(
            (index for index in range(slots) if index not in used),
            key=lambda i: (current.get(i, RouteSettings()).algorithm != wanted.algorithm, i),
        )
        if not free:
            self._grow(slots + self.options.pool_size)
            free = [slots]
        backend = slot_backend(free[0])
        for leftover in self.api.servers_state(backend):  # from an interrupted removal
            self._delete_server(backend, leftover.name)
        self._persist_routes({**routes, route: backend})
        self.api.change(f"add map {self.paths.map_file} {route} {backend}")
        self._apply_settings(backend, wanted)
        return backend

    def _add_hashed_route(self, route: str, routes: dict[str, str]) -> str:
        """Give ``route`` a free hashed slot (their pool is fixed: see :mod:`.config`)."""
        used = {backend for backend in routes.values() if hashed_slot_index(backend) is not None}
        free = [
            name
            for index in range(self.hashed_slot_count())
            if (name := hashed_slot_backend(index)) not in used
        ]
        if not free:
            raise Conflict(
                f"every one of the load balancer's {len(used)} multi-model routes is in use",
                resource=f"endpoint/{route}",
                hint="delete a multi-model endpoint that is no longer needed",
            )
        backend = free[0]
        for leftover in self.api.servers_state(backend):  # from an interrupted removal
            self._delete_server(backend, leftover.name)
        self._persist_routes({**routes, route: backend})
        self.api.change(f"add map {self.paths.map_file} {route} {backend}")
        return backend

    def hashed_slot_count(self) -> int:
        """How many hashed slots the running HAProxy has."""
        return sum(1 for name in self.api.backends() if hashed_slot_index(name) is not None)

    def _read_splits(self) -> dict[str, tuple[Share, ...]]:
        try:
            doc = json.loads(self.paths.split_file.with_suffix(".json").read_text())
        except FileNotFoundError:
            return {}
        return {route: tuple(Share(**share) for share in shares) for route, shares in doc.items()}

    def _set_split_locked(self, route: str, shares: tuple[Share, ...]) -> None:
        """Store the split (JSON, to read it back) and its map, and swap the running
        process's map in one commit. Unchanged: nothing is done."""
        splits = self._read_splits()
        if splits.get(route, ()) == shares:
            return
        if shares:
            splits[route] = shares
        else:
            splits.pop(route, None)
        text = render_split_map(splits)
        processes.write_atomic(self.paths.split_file, text)  # what a new process loads
        if self.api.answers():
            answer = self.api.change(f"prepare map {self.paths.split_file}", ok=("New version",))
            version = answer.split()[-1]
            for chunk in _chunks(text, PAYLOAD_BYTES):
                self.api.change(f"add map @{version} {self.paths.split_file}", payload=chunk)
            self.api.change(f"commit map @{version} {self.paths.split_file}")
        # recorded last: a change that failed half-way is made again by the next call
        doc = {r: [asdict(share) for share in s] for r, s in sorted(splits.items())}
        processes.write_atomic(self.paths.split_file.with_suffix(".json"), json.dumps(doc))

    def _server(self, backend: str, server: str) -> ServerState | None:
        return next((s for s in self.api.servers_state(backend) if s.name == server), None)

    def _in_flight(self, route: str, target_name: str) -> int:
        return next((t.in_flight for t in self.targets(route) if t.name == target_name), 0)

    def _remove_once(self, backend: str, server: str) -> bool:
        """Maintenance, cut what is left, one ``del server``: True when the server is gone."""
        ref = f"{backend}/{server}"
        if self.api.change(f"set server {ref} state maint", ok=_NO_SUCH).startswith(_NO_SUCH):
            return True
        self.api.execute(f"shutdown sessions server {ref}")
        answer = self.api.execute(f"del server {ref}").strip()
        if answer.startswith(("Server deleted", *_NO_SUCH)):
            return True
        if answer.startswith(_STILL_CONNECTED):
            return False
        raise RuntimeApiError(f"HAProxy would not delete {ref}: {answer}", resource=ref)

    def _delete_server(self, backend: str, server: str) -> None:
        """Remove the server now, retrying while its connections close (caller holds the lock)."""
        self._until_removed(lambda: self._remove_once(backend, server), f"{backend}/{server}")

    def _until_removed(self, attempt: Callable[[], bool], ref: str) -> None:
        """Repeat a removal ``attempt`` until it succeeds or ``delete_timeout`` passes."""
        deadline = time.monotonic() + self.options.delete_timeout
        while not attempt():
            if time.monotonic() >= deadline:
                raise RuntimeApiError(
                    f"HAProxy would not delete {ref}: its connections did not close in "
                    f"{self.options.delete_timeout:g} s",
                    resource=ref,
                    hint="try again; HAProxy deletes the target once its connections close",
                )
            time.sleep(self.options.poll_interval)


def _chunks(text: str, size: int) -> list[str]:
    """``text``'s lines in runs of at most ``size`` bytes (HAProxy's CLI reads a payload
    into one buffer: a longer one is refused)."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        if current and length + len(line) > size:
            chunks.append("".join(current))
            current, length = [], 0
        current.append(line)
        length += len(line)
    if current:
        chunks.append("".join(current))
    return chunks


def target_health(state: ServerState) -> TargetHealth:
    """ALB-style health of a server.

    Dockyard puts a server in maintenance only to remove it, so maintenance reads as
    ``draining`` too: a deregistration under way, like a drained server. Otherwise the
    checks decide between ``healthy`` and ``unhealthy``.
    """
    if state.draining or state.in_maintenance:
        return "draining"
    return "healthy" if state.running else "unhealthy"
