"""Control-plane figures → summaries and the markdown table of ``bench/README.md``.

Kept apart from the measuring code so that a results file can be re-read and
re-printed (``control_plane.py --print``) without running anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from foundation_report import column, median, paired_ratios, spread

Rounds = list[dict[str, Any]]


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0-100) of ``values``; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


def latency(samples: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p99/max of latencies in ms, and how many."""
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50),
        "p99_ms": percentile(samples, 99),
        "max_ms": round(max(samples), 2) if samples else None,
    }


def _pooled(rounds: Rounds, key: str) -> list[float]:
    return [x for r in rounds for x in r.get(key, [])]


def _total(rounds: Rounds, key: str, field: str) -> int:
    return sum(int(r.get(key, {}).get(field, 0)) for r in rounds)


def summarize_deploys(
    many: Rounds, alone: Rounds, direct: Rounds, idle_empty: list[float]
) -> tuple[dict[str, Any], dict[str, list[float | None]]]:
    """Spreads, the paired ratios (per round, then the median), latencies, CPU."""
    pairs = {
        "many_over_alone": paired_ratios(
            column(many, "in_service_s"), column(alone, "in_service_s")
        ),
        "many_over_engine": paired_ratios(
            column(many, "in_service_s"), column(direct, "all_200_s")
        ),
    }
    cores = [
        r["daemon_cpu_s"] / r["in_service_s"]
        for r in many
        if r["daemon_cpu_s"] is not None and r["in_service_s"]
    ]
    summary = {
        "many_in_service": spread(column(many, "in_service_s")),
        "many_first_endpoint": spread(
            [min(filter(None, r["per_endpoint_s"]), default=None) for r in many]
        ),
        "many_post": spread([max(filter(None, r["post_s"])) for r in many]),
        "alone_in_service": spread(column(alone, "in_service_s")),
        "engine_all_200": spread(column(direct, "all_200_s")),
        "engine_first_200": spread(column(direct, "first_200_s")),
        "engine_run_returned_last": spread([max(r["run_returned_s"]) for r in direct]),
        "ratio_many_over_alone": median(pairs["many_over_alone"]),
        "ratio_many_over_engine": median(pairs["many_over_engine"]),
        "latency_during_many": latency(_pooled(many, "latency_ms")),
        "latency_during_many_p99_per_round": [
            percentile(r["latency_ms"], 99) for r in many if r["latency_ms"]
        ],
        "latency_during_alone": latency(_pooled(alone, "latency_ms")),
        "latency_idle_in_service": latency(_pooled(many, "idle_latency_ms")),
        "latency_idle_empty": latency(idle_empty),
        "daemon_cpu_during_many_s": spread(column(many, "daemon_cpu_s")),
        "daemon_cores_during_many": median(cores),
        "daemon_cpu_during_alone_s": spread(column(alone, "daemon_cpu_s")),
        "bench_cpu_during_many_s": spread(column(many, "bench_cpu_s")),
        "bench_cpu_during_engine_s": spread(column(direct, "bench_cpu_s")),
        "daemon_cpu_during_engine_s": spread(column(direct, "daemon_cpu_s")),
        "delete_many": spread(column(many, "delete_s")),
        "loadavg_1m": spread(column(many, "loadavg_1m") + column(direct, "loadavg_1m")),
        "api_errors": sum(r["api_errors"] for r in many + alone),
        "failed_reconciles_deploying": _total(many + alone, "daemon_log", "failed_reconciles"),
        "lb_admin_refused_deploying": _total(many + alone, "daemon_log", "lb_admin_refused"),
        "failed_reconciles_deleting": _total(
            many + alone, "delete_daemon_log", "failed_reconciles"
        ),
        "lb_admin_refused_deleting": _total(many + alone, "delete_daemon_log", "lb_admin_refused"),
    }
    return summary, pairs


def scale_growth(sizes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Smallest to largest size with the same probe: how the pass grows with tasks."""
    same = [s for s in sizes if s["probe"] == "passing"]
    if len(same) < 2:
        return None
    small, large = same[0], same[-1]
    factor = large["tasks"] / small["tasks"]

    def grew(key: str) -> float | None:
        return round(large[key] / small[key], 2) if small[key] else None

    return {
        "tasks": [small["tasks"], large["tasks"]],
        "tasks_factor": factor,
        "loop_pass_factor": grew("loop_pass_ms"),
        "serial_pass_factor": grew("serial_pass_ms"),
        "serial_own_factor": grew("serial_own_ms"),
        "plan_service_factor": grew("plan_service_ms"),
    }


# -- the table ----------------------------------------------------------------------------


def _s(spread_: dict[str, Any]) -> str:
    if spread_.get("median") is None:
        return "—"
    return f"{spread_['median']:.2f} s [{spread_['min']:.2f}-{spread_['max']:.2f}]"


def _lat(figure: dict[str, Any]) -> str:
    if not figure.get("n"):
        return "—"
    return f"p50 {figure['p50_ms']:.1f} ms, p99 {figure['p99_ms']:.1f} ms (n={figure['n']})"


def _x(value: float | None) -> str:
    return "—" if value is None else f"x{value:.2f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def deploy_rows(part: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    d, n, r = part["summary"], part["endpoints"], part["replicas"]
    during, idle = d["latency_during_many"], d["latency_idle_in_service"]
    p99_ratio = round(during["p99_ms"] / idle["p99_ms"], 2) if during["n"] and idle["n"] else None
    return [
        (
            f"{n} endpoints x {r} replicas deployed at once → all InService",
            "—",
            _s(d["many_in_service"]),
            f"one endpoint alone: {_s(d['alone_in_service'])}",
            _x(d["ratio_many_over_alone"]),
        ),
        (
            "same, against the engine alone",
            "—",
            _s(d["many_in_service"]),
            f"{n * r} containers via the engine → all /ping 200: {_s(d['engine_all_200'])}",
            _x(d["ratio_many_over_engine"]),
        ),
        (
            f"`GET /v1/endpoints` during the {n} deploys (every {part['poll_ms']} ms)",
            "p99 < 50 ms",
            _lat(during),
            f"idle, {n} in service: {_lat(idle)}; idle, none: {_lat(d['latency_idle_empty'])}",
            _x(p99_ratio) + " (p99)",
        ),
        (
            f"daemon CPU during the {n} deploys",
            "—",
            f"{d['daemon_cpu_during_many_s']['median']:.1f} CPU-s "
            f"({d['daemon_cores_during_many']:.2f} cores on average)",
            f"one alone: {d['daemon_cpu_during_alone_s']['median']:.1f} CPU-s",
            "",
        ),
    ]


def scale_rows(part: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for size in part["sizes"]:
        ports = ", ".join(f"{p} {_ms(v)}" for p, v in size["serial_ports_ms"].items())
        rows.append(
            (
                f"one reconcile pass, {size['tasks']:,} tasks "
                f"({size['services']:,} services; {size['probe']} probe)",
                "< 100 ms" if size["tasks"] <= 1000 else "grows ~linearly",
                f"{_ms(size['loop_pass_ms'])} (loop, {size['workers']} workers); "
                f"{_ms(size['serial_pass_ms'])} serial",
                f"serial split: own {_ms(size['serial_own_ms'])}; {ports}; "
                f"plan_service {_ms(size['plan_service_ms'])}",
                f"{size['serial_own_us_per_task']:.0f} µs/task own",
            )
        )
    growth = part.get("growth")
    if growth:
        rows.append(
            (
                f"growth {growth['tasks'][0]:,} → {growth['tasks'][1]:,} tasks "
                f"(x{growth['tasks_factor']:.0f})",
                "x10 (linear)",
                f"loop pass x{growth['loop_pass_factor']}, serial x{growth['serial_pass_factor']}",
                f"own x{growth['serial_own_factor']}, "
                f"plan_service x{growth['plan_service_factor']}",
                "",
            )
        )
    return rows


def markdown(doc: dict[str, Any]) -> str:
    """The results table for ``bench/README.md``."""
    lines = [
        "| measure | goal | Dockyard (median [min-max]) | peer / ceiling (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    parts = doc.get("parts", {})
    rows = []
    if "deploy" in parts:
        rows += deploy_rows(parts["deploy"])
    if "scale" in parts:
        rows += scale_rows(parts["scale"])
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def calls_line(size: dict[str, Any]) -> str:
    """Port calls of one steady pass, for the text under the table."""
    calls = ", ".join(f"{k} {v:,}" for k, v in size["calls_per_pass"].items())
    store = ", ".join(f"{k} {v:,}" for k, v in size["store_calls_per_pass"].items())
    return f"{size['tasks']:,} tasks: {calls}; {store}"
