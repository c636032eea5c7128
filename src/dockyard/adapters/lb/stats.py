"""Request counters per route and per target, read from HAProxy's ``show stat``.

Counters are cumulative since HAProxy started (a reload or restart starts them again
at zero) and belong to the route's slot: a slot reused by a new route keeps counting
from where its previous route left off. So consumers compute rates from the
difference of two readings, and treat a decrease as a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard.adapters.lb.naming import target_name


def _int(row: Mapping[str, str], key: str) -> int:
    value = row.get(key) or ""
    return int(value) if value.isdigit() else 0


@dataclass(frozen=True)
class Counters:
    """HTTP responses by class, and what is in flight now."""

    requests: int  # HTTP requests received (route) or sent to it (target)
    responses_2xx: int
    responses_4xx: int
    responses_5xx: int
    in_flight: int  # requests being served right now
    connection_errors: int  # failed connection attempts to targets
    retries: int  # attempts re-sent (to the same or another target)

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> Counters:
        return cls(
            requests=_int(row, "req_tot"),
            responses_2xx=_int(row, "hrsp_2xx"),
            responses_4xx=_int(row, "hrsp_4xx"),
            responses_5xx=_int(row, "hrsp_5xx"),
            in_flight=_int(row, "scur"),
            connection_errors=_int(row, "econ"),
            retries=_int(row, "wretr") + _int(row, "wredis"),
        )


@dataclass(frozen=True)
class TargetStats:
    name: str  # the registered target name
    status: str  # HAProxy's own words: UP, DOWN, DRAIN, MAINT, "UP 1/2"...
    counters: Counters


@dataclass(frozen=True)
class RouteStats:
    route: str
    counters: Counters  # the route as a whole, including answers HAProxy made (503...)
    targets: tuple[TargetStats, ...]


def route_stats(rows: Iterable[Mapping[str, str]], slots: Mapping[str, str]) -> list[RouteStats]:
    """Per-route statistics from ``show stat`` rows; ``slots`` maps route -> backend."""
    by_backend: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        by_backend.setdefault(row["pxname"], []).append(row)
    result: list[RouteStats] = []
    for route, backend in sorted(slots.items()):
        backend_rows = by_backend.get(backend, [])
        total = next((r for r in backend_rows if r["svname"] == "BACKEND"), {})
        targets = tuple(
            TargetStats(target_name(r["svname"]), r.get("status", ""), Counters.from_row(r))
            for r in backend_rows
            if r["svname"] not in ("BACKEND", "FRONTEND")
        )
        result.append(RouteStats(route, Counters.from_row(total), targets))
    return result
