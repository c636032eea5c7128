"""`dockyard metrics NAME [--watch]`: what an endpoint or service is doing now."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from dockyard.cli.context import api
from dockyard.cli.output import console

TRAFFIC_COLUMNS = (
    ("requests_per_s", "req/s", "{:.1f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("responses_4xx_per_s", "4xx/s", "{:.1f}"),
    ("responses_5xx_per_s", "5xx/s", "{:.1f}"),
    ("in_flight", "in flight", "{:.0f}"),
)


def _latest(series: list[dict[str, Any]], source: str, metric: str) -> float | None:
    for entry in series:
        if entry["Source"] == source and entry["MetricName"] == metric and entry["Values"]:
            return float(entry["Values"][-1])
    return None


def _cell(value: float | None, form: str) -> str:
    return "—" if value is None else form.format(value)


def render(usage: dict[str, Any]) -> Group:
    """The traffic line of the route and one line per running task, latest values."""
    series = usage["Series"]
    traffic = Table(
        title=f"{usage['Kind']} {usage['Name']}: route {usage['Route'] or '(not load balanced)'}",
        title_justify="left",
        header_style="bold",
    )
    for _, header, _ in TRAFFIC_COLUMNS:
        traffic.add_column(header, justify="right")
    route_series = [s for s in series if s["Series"].startswith("route/")]
    traffic.add_row(*(_cell(_latest(route_series, "lb", m), f) for m, _, f in TRAFFIC_COLUMNS))
    tasks = Table(title="tasks", title_justify="left", header_style="bold")
    for header in ("task", "cpu % (of one core)", "memory MiB"):
        tasks.add_column(header, justify="left" if header == "task" else "right")
    for task in usage["RunningTasks"]:
        tasks.add_row(
            task[:12],
            _cell(_latest(series, task, "cpu_percent"), "{:.1f}"),
            _cell(_latest(series, task, "memory_mib"), "{:.1f}"),
        )
    return Group(traffic, tasks)


def metrics(
    name: str = typer.Argument(..., help="An endpoint's or a service's name."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until Ctrl-C."),
    interval: float = typer.Option(2.0, min=0.5, help="Seconds between refreshes."),
) -> None:
    """Requests/s, p50/p99 latency, 4xx/5xx and in-flight requests of the route; CPU and
    memory per task (collected every few seconds by the daemon)."""
    client = api()

    def fetch() -> dict[str, Any]:
        since = time.time() - 60
        return dict(client.request("GET", f"/v1/metrics/{name}", params={"since": since}))

    if not watch:
        console.print(render(fetch()))
        return
    with Live(render(fetch()), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render(fetch()))
        except KeyboardInterrupt:
            pass
