"""Figures → summaries, the machine's description, the results file and the table.

Kept apart from the measuring code so that a results file can be re-read and
re-printed (``foundation.py --print``) without running anything.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import dockyard

GOALS = {
    "deploy": "deploy → first 200 < 2 s (2 replicas)",
    "rebuild": "code-only rebuild < 3 s",
    "size": "as small as the content allows",
    "quickstart": "first run: minutes; second run: seconds",
}


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 4) if present else None


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """median/min/max of a list of seconds (``None`` = that round failed)."""
    present = [v for v in values if v is not None]
    return {
        "median": median(present),
        "min": min(present) if present else None,
        "max": max(present) if present else None,
        "n": len(present),
        "failed": len(values) - len(present),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def paired_ratios(a: Sequence[float | None], b: Sequence[float | None]) -> list[float | None]:
    """Round-by-round ratio a/b (the two were measured back to back)."""
    return [ratio(x, y) for x, y in zip(a, b, strict=True)]


def column(rounds: list[dict[str, Any]], key: str) -> list[float | None]:
    return [r.get(key) for r in rounds]


def differences(a: Sequence[float | None], b: Sequence[float | None]) -> list[float | None]:
    """Round-by-round difference a - b, in seconds."""
    return [None if x is None or y is None else round(x - y, 4) for x, y in zip(a, b, strict=True)]


Rounds = list[dict[str, Any]]


def summarize_deploy(
    dy: Rounds, fm: Rounds, ft: Rounds
) -> tuple[dict[str, Any], dict[str, list[float | None]]]:
    """Spreads, ratios to the floors and the differences that explain them.

    ``dy``: Dockyard rounds; ``fm``: ``docker run`` of the model image; ``ft``: of the
    trivial server. Ratios are per round (measured back to back), then the median.
    """
    summary: dict[str, Any] = {
        "dockyard_first_200": spread(column(dy, "first_200_s")),
        "dockyard_in_service": spread(column(dy, "in_service_s")),
        "dockyard_api_call": spread(column(dy, "api_s")),
        "dockyard_delete": spread(column(dy, "delete_s")),
        "loadavg_1m": spread(column(dy, "loadavg_1m")),
        "floor_model_first_200": spread(column(fm, "first_200_s")),
        "floor_model_all_200": spread(column(fm, "all_200_s")),
        "floor_trivial_first_200": spread(column(ft, "first_200_s")),
        "floor_trivial_all_200": spread(column(ft, "all_200_s")),
    }
    pairs = {
        "first_200": paired_ratios(column(dy, "first_200_s"), column(fm, "first_200_s")),
        "in_service": paired_ratios(column(dy, "in_service_s"), column(fm, "all_200_s")),
    }
    summary |= {
        "ratio_first_200": median(pairs["first_200"]),
        "ratio_in_service": median(pairs["in_service"]),
        "ratio_first_200_vs_trivial": ratio(
            summary["dockyard_first_200"]["median"], summary["floor_trivial_first_200"]["median"]
        ),
        "model_start_cost_s": median(
            differences(column(fm, "first_200_s"), column(ft, "first_200_s"))
        ),
        "dockyard_overhead_first_200_s": median(
            differences(column(dy, "first_200_s"), column(fm, "first_200_s"))
        ),
        "dockyard_overhead_in_service_s": median(
            differences(column(dy, "in_service_s"), column(fm, "all_200_s"))
        ),
    }
    return summary, pairs


# -- the machine ------------------------------------------------------------------------


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _meminfo_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def machine(engine_version: dict[str, Any] | None) -> dict[str, Any]:
    """Where and with what the figures were taken."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _meminfo_gib(),
        "kernel": platform.release(),
        "os": _os_name(),
        "engine": {
            "kind": "docker",
            "version": (engine_version or {}).get("Version"),
            "api_version": (engine_version or {}).get("ApiVersion"),
        },
        "haproxy": _first_line(["haproxy", "-v"]),
        "dockyard": dockyard.__version__,
        "python": sys.version.split()[0],
        "docker_py": version("docker"),
    }


# -- the results file ---------------------------------------------------------------------


def merge_results(
    path: Path, machine_info: dict[str, Any], parts: dict[str, Any]
) -> dict[str, Any]:
    """Update ``path`` with the parts just measured; parts not run this time are kept."""
    doc: dict[str, Any] = {}
    if path.is_file():
        doc = json.loads(path.read_text())
    doc["benchmark"] = "foundation"
    doc["machine"] = machine_info
    doc.setdefault("parts", {}).update(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return doc


# -- the table ---------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _range(summary: dict[str, Any]) -> str:
    if summary.get("median") is None:
        return "—"
    return f"{summary['median']:.2f} s [{summary['min']:.2f}-{summary['max']:.2f}]"


def _mb(value: int | None) -> str:
    return "—" if not value else f"{value / 1e6:.0f} MB"


def _x(value: float | None) -> str:
    return "—" if value is None else f"x{value:.2f}"


def rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, Dockyard, peer/ceiling, ratio, goal) for every part in ``doc``."""
    parts = doc.get("parts", {})
    out: list[tuple[str, str, str, str, str]] = []
    if "deploy" in parts:
        d = parts["deploy"]["summary"]
        out += [
            (
                "deploy → first 200 via LB (2 replicas)",
                _range(d["dockyard_first_200"]),
                "docker run → first 200: " + _range(d["floor_model_first_200"]),
                _x(d["ratio_first_200"]),
                GOALS["deploy"],
            ),
            (
                "deploy → InService (both replicas)",
                _range(d["dockyard_in_service"]),
                "docker run → both 200: " + _range(d["floor_model_all_200"]),
                _x(d["ratio_in_service"]),
                "",
            ),
            (
                "Dockyard's share (Dockyard minus docker run, per round)",
                f"{_s(d['dockyard_overhead_first_200_s'])} to first 200, "
                f"{_s(d['dockyard_overhead_in_service_s'])} to InService",
                "",
                "",
                "",
            ),
            (
                "engine floor: http.server → first 200",
                "",
                _range(d["floor_trivial_first_200"]),
                "",
                "",
            ),
            (
                "model server start-up (model minus trivial floor)",
                "",
                _s(d["model_start_cost_s"]),
                "",
                "",
            ),
        ]
    if "rebuild" in parts:
        r = parts["rebuild"]["summary"]
        out.append(
            (
                "code-only rebuild",
                f"{_range(r['dockyard_wall'])} ({r['dockyard_cached']} cached)",
                f"docker build: {_range(r['peer_wall'])} ({r['peer_cached']} cached)",
                _x(r["ratio"]),
                GOALS["rebuild"],
            )
        )
    if "size" in parts:
        z = parts["size"]
        out += [
            (
                "inference image (iris)",
                _mb(z["iris_bytes"]),
                f"framework {_mb(z['framework_bytes'])}, base {_mb(z['base_bytes'])}",
                "",
                "",
            ),
            (
                "single-stage, same content",
                "",
                _mb(z.get("naive_bytes")),
                _x(ratio(z["iris_bytes"], z.get("naive_bytes"))),
                "",
            ),
        ]
    if "quickstart" in parts:
        q = parts["quickstart"]
        out += [
            (
                "make quickstart, first run (fresh state)",
                _s(q["first"]["total_s"]),
                "",
                "",
                GOALS["quickstart"],
            ),
            ("make quickstart, second run", _s(q["second"]["total_s"]), "", "", ""),
        ]
    return out


def print_table(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"Dockyard foundation benchmark — {doc['machine']['date']}")
    for name in ("measure", "Dockyard (median [min-max])", "peer / ceiling", "ratio", "goal"):
        table.add_column(escape(name))
    for row in rows(doc):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    if "quickstart" in doc.get("parts", {}):
        q = doc["parts"]["quickstart"]
        for run in ("first", "second"):
            parts = {**q[run]["steps_s"], **q[run].get("setup_steps_s", {})}
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in parts.items())
            console.print(f"quickstart {run} run: {steps}")
