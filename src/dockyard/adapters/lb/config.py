"""HAProxy's configuration as a pure function of Dockyard's load-balancer settings.

Why slots: HAProxy 2.6 can add *servers* at runtime but not *backends*. So the config
declares a pool of identical backends (``slot_0`` ... ``slot_<n-1>``) up front and a map
file says which route uses which slot. Routes and targets then change through the
runtime API with no reload; only running out of slots costs a (seamless) reload with a
bigger pool. See :mod:`dockyard.adapters.lb.haproxy` for that life cycle.

Request path (the SageMaker Runtime shape)::

    POST /endpoints/<route>/invocations  ->  POST /invocations   on a target of <route>
    GET  /endpoints/<route>/ping         ->  GET  /ping          on a target of <route>

Routes of multi-model endpoints use a second, fixed pool of backends (``hslot_0`` ...):
the same as a slot, but balanced by a consistent hash of the
``X-Amzn-SageMaker-Target-Model`` header, so the requests for one model go to the
replicas that already hold it and a replica joining or leaving moves only its share of
the models (see :func:`_slot`).

The query string is kept. Answers HAProxy gives itself, ALB-style:

- 404 unknown path or unknown route (JSON body naming the route);
- 503 known route with no registered healthy target;
- 502 a target refused or reset the connection (after retries);
- 504 a target did not answer within ``timeouts.server_ms``.

HAProxy itself says 503 both when no server is available and when every connection
attempt failed. A slot notes (``txn.lb_code``) that it had usable servers when the
request arrived; the front end turns an HAProxy-made 503 (marked with a private header)
into 502 when that note is there. A 503 that a target sends itself passes unchanged.

Production variants: a route may be *split* over other routes (an endpoint over its
variants' routes, see :meth:`dockyard.ports.lb.LoadBalancer.split`). The split map
(:func:`render_split_map`) holds, per split route ``R``: ``R`` itself (the one variant
that takes every request, or ``*`` to draw), ``R/VARIANT`` for each variant a request
may pin with ``X-Amzn-SageMaker-Target-Variant``, and ``R.N`` for each of
:data:`SPLIT_BUCKETS` buckets, apportioned by weight, that a random draw picks. Values
are ``ROUTE:VARIANT``; the route is then looked up in the route map as usual, so a
split never names a slot and survives slots being reassigned. The map changes at
runtime as a whole (``prepare map`` / ``add map`` / ``commit map``): no request sees a
half-written split, and no server or process is touched, so weights change without
any replica restarting.

Logging: HAProxy runs in the foreground with stderr going to Dockyard's log, so its
own messages (server UP/DOWN, start-up warnings) land there, and so does one line per
failed request (``log-separate-errors`` raises those to ``err``, the only level that
goes to stderr). Every request is also logged, in :data:`REQUEST_LOG_FORMAT`, to an
in-memory ring (:data:`REQUEST_RING`) that the daemon reads through the runtime API
for response-time percentiles; the ring keeps only the newest lines, so a burst
costs no memory and no disk, and the daemon sees a sample of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from dockyard.ports.lb import Algorithm, RouteSettings, Share

SLOT_PREFIX = "slot_"
HASHED_SLOT_PREFIX = "hslot_"
#: multi-model endpoints one HAProxy serves (their backends are declared up front)
HASHED_SLOTS = 16
#: the header whose hash picks the target on a hashed slot
AFFINITY_HEADER = "X-Amzn-SageMaker-Target-Model"
REQUEST_RING = "requests"
#: request counter, backend, status, active time (ms), then what helps a human reading
#: an error line: server, termination state, request line
REQUEST_LOG_FORMAT = "%rt %b %ST %Ta %s %tsc %{+Q}r"
REQUEST_RING_BYTES = 1 << 20  # about 16,000 request lines
SPLIT_BUCKETS = 1000  # weights take effect to 0.1 %
PIN_HEADER = "X-Amzn-SageMaker-Target-Variant"
INVOKED_HEADER = "X-Amzn-Invoked-Production-Variant"
DRAW = "*"
LB_ERROR_HEADER = "x-dockyard-lb-error"  # marks HAProxy-made errors; removed before sending


def slot_backend(index: int) -> str:
    """Name of the backend of slot ``index``."""
    return f"{SLOT_PREFIX}{index}"


def slot_index(backend: str) -> int | None:
    """Slot number of a backend name, or None for anything that is not a slot."""
    if not backend.startswith(SLOT_PREFIX):
        return None
    digits = backend[len(SLOT_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def hashed_slot_backend(index: int) -> str:
    """Name of the hashed backend ``index`` (a multi-model endpoint's route)."""
    return f"{HASHED_SLOT_PREFIX}{index}"


def hashed_slot_index(backend: str) -> int | None:
    """Number of a hashed backend, or None for anything else."""
    if not backend.startswith(HASHED_SLOT_PREFIX):
        return None
    digits = backend[len(HASHED_SLOT_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def is_slot(backend: str) -> bool:
    """Whether a backend is one a route can use (a slot or a hashed slot)."""
    return slot_index(backend) is not None or hashed_slot_index(backend) is not None


@dataclass(frozen=True)
class HealthCheck:
    """How HAProxy checks a target: ``GET /ping`` must answer 200 (SageMaker's contract).

    These options go on every ``server`` line and every runtime ``add server`` command,
    because servers added at runtime do not inherit ``default-server``. The checks only
    steer requests between two passes of the control plane, which alone decides which
    replicas are targets. ``fastinter`` and ``downinter`` are short so that a target
    whose check starts failing is confirmed down, and a target that is down comes back,
    within a fraction of a second, while a steady healthy target is only checked every
    ``inter_ms``.
    """

    path: str = "/ping"
    inter_ms: int = 2000
    fastinter_ms: int = 100
    downinter_ms: int = 100
    rise: int = 2
    fall: int = 2
    timeout_ms: int = 2000  # SageMaker: /ping must answer within 2 s

    def server_options(self) -> str:
        """Options of a ``server`` line: health checks, and a pool of idle connections.

        The pool settings are HAProxy's defaults for servers in the config, but a server
        added at runtime starts with none: without them every request would open a new
        connection to the target.
        """
        return (
            f"check inter {self.inter_ms} fastinter {self.fastinter_ms} "
            f"downinter {self.downinter_ms} rise {self.rise} fall {self.fall} "
            "pool-max-conn -1 pool-purge-delay 5s"
        )


@dataclass(frozen=True)
class Timeouts:
    """Time limits, in milliseconds.

    ``server_ms`` is SageMaker's 60 s invocation limit plus a margin, so that a model
    server enforcing its own 60 s limit gets to answer (with a body that explains)
    before HAProxy cuts the request with a 504.
    """

    connect_ms: int = 2000
    client_ms: int = 60_000
    server_ms: int = 65_000
    http_request_ms: int = 10_000  # time to receive a request's headers
    keep_alive_ms: int = 60_000  # idle client connection, like an ALB's idle timeout
    queue_ms: int = 10_000
    hard_stop_after_ms: int = 90_000  # bound on an old process's life after a reload


@dataclass(frozen=True)
class LbConfig:
    """Everything the rendered configuration depends on."""

    bind_host: str
    bind_port: int
    socket_path: Path
    map_path: Path
    server_state_path: Path
    split_path: Path
    slots: int = 64
    hashed_slots: int = HASHED_SLOTS
    health: HealthCheck = field(default_factory=HealthCheck)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retries: int = 2
    #: settings of the slots whose route asked for other than :class:`RouteSettings`'s
    slot_settings: Mapping[int, RouteSettings] = field(default_factory=dict)
    #: HAProxy's threads (``nbthread``): see :func:`default_threads`
    threads: int = 1


#: HAProxy's ``balance`` for each ALB algorithm. HAProxy's ``leastconn`` counts, per
#: server, the requests assigned to it and not yet answered (idle connections kept for
#: reuse do not count), which is what least outstanding requests means in HTTP mode.
BALANCE: dict[Algorithm, str] = {
    "round_robin": "roundrobin",
    "least_outstanding_requests": "leastconn",
}


def render_slot_settings(settings: Mapping[int, RouteSettings]) -> str:
    """The slot settings file: ``<slot backend> <algorithm> <slow start s>`` per slot
    whose settings are not the defaults, sorted."""
    default = RouteSettings()
    return "".join(
        f"{slot_backend(index)} {s.algorithm} {s.slow_start_s}\n"
        for index, s in sorted(settings.items())
        if s != default
    )


def parse_slot_settings(text: str) -> dict[int, RouteSettings]:
    """Read :func:`render_slot_settings`'s file back; malformed lines are skipped."""
    known: dict[str, Algorithm] = {name: name for name in get_args(Algorithm)}
    settings: dict[int, RouteSettings] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3 or (index := slot_index(fields[0])) is None:
            continue
        algorithm, slow_start = known.get(fields[1]), fields[2]
        if algorithm is not None and slow_start.isdigit():
            settings[index] = RouteSettings(algorithm, int(slow_start))
    return settings


@dataclass(frozen=True)
class ServerLine:
    """A server to declare in the config (only when reloading with live targets)."""

    slot: int
    name: str  # HAProxy server name (already escaped)
    address: str
    hashed: bool = False  # the slot is a hashed one (``hslot_<slot>``)

    @property
    def backend(self) -> str:
        return hashed_slot_backend(self.slot) if self.hashed else slot_backend(self.slot)


def render_map(routes: dict[str, int]) -> str:
    """The route map file: one ``<route> <slot backend>`` line per route, sorted."""
    return render_backend_map({route: slot_backend(slot) for route, slot in routes.items()})


def render_backend_map(routes: dict[str, str]) -> str:
    """The route map file from route -> backend name (slots and hashed slots)."""
    return "".join(f"{route} {backend}\n" for route, backend in sorted(routes.items()))


def apportion(weights: Sequence[float], buckets: int = SPLIT_BUCKETS) -> list[int]:
    """How many of ``buckets`` each weight gets (largest remainders; a positive weight
    gets at least one). All zero: none."""
    total = sum(w for w in weights if w > 0)
    if total <= 0:
        return [0] * len(weights)
    exact = [max(w, 0.0) / total * buckets for w in weights]
    counts = [int(x) if w <= 0 else max(1, int(x)) for x, w in zip(exact, weights, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    step = 0
    while sum(counts) != buckets:
        index = order[step % len(order)]
        step += 1
        if sum(counts) < buckets and weights[index] > 0:
            counts[index] += 1
        elif sum(counts) > buckets and counts[index] > 1:
            counts[index] -= 1
    return counts


def render_split_map(splits: Mapping[str, Sequence[Share]]) -> str:
    """The split map file (see the module's docstring), sorted by route."""
    lines: list[str] = []
    for route, shares in sorted(splits.items()):
        if not shares:
            continue
        drawn = [s for s in shares if s.weight > 0]
        only = drawn[0] if len(drawn) == 1 else None
        lines.append(f"{route} {only.route}:{only.name}" if only else f"{route} {DRAW}")
        lines.extend(f"{route}/{s.name} {s.route}:{s.name}" for s in shares if s.pinnable)
        if only is None:
            bucket = 0
            counts = apportion([s.weight for s in shares])
            for share, count in zip(shares, counts, strict=True):
                for index in range(bucket, bucket + count):
                    lines.append(f"{route}.{index} {share.route}:{share.name}")
                bucket += count
    return "".join(line + "\n" for line in lines)


def render_config(cfg: LbConfig, servers: Iterable[ServerLine] = ()) -> str:
    """The whole ``haproxy.cfg`` text."""
    by_backend: dict[str, list[ServerLine]] = {}
    for server in servers:
        by_backend.setdefault(server.backend, []).append(server)
    parts = [_global(cfg), _defaults(cfg), _frontend(cfg)]
    for index in range(cfg.slots):
        name = slot_backend(index)
        parts.append(_slot(cfg, name, by_backend.get(name, [])))
    for index in range(cfg.hashed_slots):
        name = hashed_slot_backend(index)
        parts.append(_slot(cfg, name, by_backend.get(name, []), hashed=True))
    return "\n".join(parts)


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_threads(cores: int) -> int:
    """HAProxy's threads on a machine of ``cores``: a quarter of them, at least one.

    HAProxy would take one thread per core, but it shares the cores with the model
    servers it feeds, whose work dominates a request. Measured on 2 cores (one
    endpoint of 2 replicas at 32 connections, three alternating rounds): 1 thread
    answered 3.8 to 18 % more requests than 2 in every round. Larger machines were
    not measured; ``DOCKYARD_LB_THREADS`` overrides.
    """
    return max(1, cores // 4)


def _global(cfg: LbConfig) -> str:
    return f"""\
global
    nbthread {cfg.threads}
    stats socket {cfg.socket_path} level admin mode 600 expose-fd listeners
    stats timeout 30s
    stats maxconn 200
    server-state-file {cfg.server_state_path}
    hard-stop-after {cfg.timeouts.hard_stop_after_ms}ms

ring {REQUEST_RING}
    format raw
    maxlen 512
    size {REQUEST_RING_BYTES}
"""


_ROUTE_JSON = "%[var(txn.route),json(utf8s)]"  # JSON-escaped route, in log-format
# A slot sets txn.lb_code when it had usable servers: a 503 made after that means every
# connection attempt failed, which an ALB reports as 502.
_CODE_503 = "%[var(txn.lb_code,ServiceUnavailable)]"


def _lf_json(template: str) -> str:
    """A JSON body as a quoted HAProxy log-format string."""
    return '"' + template.replace('"', '\\"') + '"'


def _json_error(status: int, code: str, message: str) -> str:
    body = _lf_json(f'{{"code":"{code}","message":"{message}","route":"{_ROUTE_JSON}"}}')
    return (
        f"    http-error status {status} content-type application/json lf-string {body} "
        f"hdr {LB_ERROR_HEADER} {status}\n"
    )


def _defaults(cfg: LbConfig) -> str:
    t = cfg.timeouts
    return (
        f"""\
defaults
    mode http
    option dontlognull
    option log-separate-errors
    log-format "{REQUEST_LOG_FORMAT}"
    load-server-state-from-file global
    timeout connect {t.connect_ms}ms
    timeout client {t.client_ms}ms
    timeout server {t.server_ms}ms
    timeout http-request {t.http_request_ms}ms
    timeout http-keep-alive {t.keep_alive_ms}ms
    timeout queue {t.queue_ms}ms
    timeout check {cfg.health.timeout_ms}ms
"""
        + _json_error(503, _CODE_503, "No target of this route could take the request.")
        + _json_error(502, "BadGateway", "The target closed the connection without an answer.")
        + _json_error(504, "GatewayTimeout", "The target did not answer in time.")
    )


def _frontend(cfg: LbConfig) -> str:
    not_found = _lf_json(
        f'{{"code":"ResourceNotFound","message":"No endpoint or service named {_ROUTE_JSON}.",'
        f'"route":"{_ROUTE_JSON}"}}'
    )
    bad_path = _lf_json(
        '{"code":"ResourceNotFound",'
        '"message":"Use /endpoints/NAME/invocations or /endpoints/NAME/ping."}'
    )
    return f"""\
frontend endpoints
    bind {_bind_address(cfg.bind_host, cfg.bind_port)}
    log stderr format iso local0 err
    log ring@{REQUEST_RING} local0 info
    option forwardfor
    acl routed_path path_reg ^/endpoints/[^/]+/(invocations|ping)$
    http-request return status 404 content-type application/json lf-string {bad_path} \
if !routed_path
    http-request set-var(txn.route) path,field(3,/)
    http-request set-var(txn.action) path,field(4,/)
{_split_rules(cfg)}    http-request set-var(txn.slot) var(txn.lbroute),map({cfg.map_path})
    http-request return status 404 content-type application/json lf-string {not_found} \
if !{{ var(txn.slot) -m found }}
    http-request set-path /%[var(txn.action)]
    use_backend %[var(txn.slot)]
    http-after-response set-status 502 reason "Bad Gateway" if {{ status 503 }} \
{{ res.hdr({LB_ERROR_HEADER}) -m found }} {{ var(txn.lb_code) -m found }}
    http-after-response del-header {LB_ERROR_HEADER}
    http-after-response set-header {INVOKED_HEADER} %[var(txn.variant)] \
if {{ var(txn.variant) -m found }}
"""


def _split_rules(cfg: LbConfig) -> str:
    """Pick the route that serves a request of a split route (see the module's docstring):
    the pinned variant, the only one, or a random bucket; unsplit routes serve themselves."""
    split = f"map({cfg.split_path})"
    unknown = _lf_json(
        '{"code":"ValidationError","message":"Variant %[var(txn.pin),json(utf8s)] not found '
        f'for endpoint {_ROUTE_JSON}.","route":"{_ROUTE_JSON}"}}'
    )
    pinned = "{ var(txn.pin) -m found }"
    picked = "{ var(txn.pick) -m found }"
    return f"""    http-request set-var(txn.split) var(txn.route),{split}
    http-request set-var(txn.pin) req.hdr({PIN_HEADER}) \
if {{ var(txn.split) -m found }} {{ req.hdr({PIN_HEADER}) -m found }}
    http-request set-var(txn.pick) var(txn.route),concat(/,txn.pin),{split} if {pinned}
    http-request return status 400 content-type application/json lf-string {unknown} \
if {pinned} !{picked}
    http-request set-var(txn.pick) var(txn.split) \
if {{ var(txn.split) -m found }} !{{ var(txn.split) -m str {DRAW} }} !{pinned}
    http-request set-var(txn.draw) rand({SPLIT_BUCKETS}) \
if {{ var(txn.split) -m str {DRAW} }} !{pinned}
    http-request set-var(txn.pick) var(txn.route),concat(.,txn.draw),{split} \
if {{ var(txn.draw) -m found }}
    http-request set-var(txn.lbroute) var(txn.pick),field(1,:) if {picked}
    http-request set-var(txn.variant) var(txn.pick),field(2,:) if {picked}
    http-request set-var(txn.lbroute) var(txn.route) unless {{ var(txn.lbroute) -m found }}
"""


def _slot(cfg: LbConfig, name: str, servers: list[ServerLine], hashed: bool = False) -> str:
    """One slot backend (``hashed``: a multi-model endpoint's).

    ``leastconn`` (ALB's least_outstanding_requests) unless the slot's route asked for
    another algorithm (:data:`BALANCE`): inference requests vary a lot in
    cost and a model server runs few at a time, so a new request should go to the
    replica with the fewest in flight rather than to the next in turn; replicas with
    equal load still take turns.

    Retries (``retry-on conn-failure``) re-send only a request that no target
    received: the connection was refused or could not be made. ``redispatch 1``
    sends each retry to another target, so a replica that has stopped (it refuses
    connections) costs no failed request. A request that was sent and whose
    connection then closed with no answer (``empty-response``), or that got no answer
    in time (``response-timeout``), is never re-sent: the replica may have crashed
    *because of* that request, and re-sending it would crash the next replica, and
    the next, until the whole route answers 502. Such a request costs at most the
    replica it reached, and its client gets a 502 (504 for a timeout). Replicas the
    control plane stops are drained first, so no request is in flight when they go.
    ``http-buffer-request`` reads the body (up to a buffer) before a target is picked,
    so that a retry still has the request in hand.

    A hashed slot balances on :data:`AFFINITY_HEADER` with consistent hashing instead:
    a replica that loaded a model keeps getting its requests (no reload of the model on
    another replica), and adding or removing a replica remaps only the models that
    hashed to it. A request without the header is sent round-robin.
    """
    index = slot_index(name)
    settings = cfg.slot_settings.get(index, RouteSettings()) if index is not None else None
    balance = (
        [f"    balance hdr({AFFINITY_HEADER})", "    hash-type consistent"]
        if hashed or settings is None
        else [f"    balance {BALANCE[settings.algorithm]}"]
    )
    lines = [
        f"backend {name}",
        *balance,
        "    http-request set-var(txn.lb_code) str(BadGateway) if { nbsrv gt 0 }",
        f"    option httpchk GET {cfg.health.path}",
        "    http-check expect status 200",
        "    option http-buffer-request",
        "    retry-on conn-failure",
        f"    retries {cfg.retries}",
        "    option redispatch 1",
    ]
    options = cfg.health.server_options()
    lines.extend(f"    server {s.name} {s.address} {options}" for s in servers)
    return "\n".join(lines) + "\n"
