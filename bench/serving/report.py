"""Reduce the runs: medians, per-round ratios, the summary; the README table and the chart.

Every ratio is taken **per round** (the two servers measured minutes apart at most, in
the same round) and the median of those is reported. The summary is end to end at
c=32; latency ratios use the uncorrected p99 (what requests saw).
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

SUMMARY_C = 32
BEGIN = "<!-- serving-results:begin -->"
END = "<!-- serving-results:end -->"


def _runs(doc: dict[str, Any], group: str) -> list[dict[str, Any]]:
    return list(doc["groups"].get(group, {}).get("runs", []))


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """{target: {c: {metric: median over rounds}}}, errors summed."""
    keys = ("rps", "p50_ms", "p99_ms", "p50_corrected_ms", "p99_corrected_ms", "timed_rps")
    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by[(run["target"], run["c"])].append(run)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (target, c), items in sorted(by.items()):
        figures: dict[str, float] = {}
        for k in keys:
            values = [r[k] for r in items if r.get(k) is not None]
            if values:
                figures[k] = round(statistics.median(values), 3)
        figures["errors"] = sum(r["errors"] for r in items)
        figures["rounds"] = len(items)
        hops = _cpu_medians(items)
        if hops:
            figures["cpu_us"] = hops  # type: ignore[assignment]
        out[target][str(c)] = figures
    return dict(out)


#: Hops in the order a request meets them (``cpu.py``), then what no process was charged.
HOPS = ("load", "balancer", "proxy", "server", "rest", "total")
HOP_TITLES = {
    "load": "wrk",
    "balancer": "HAProxy",
    "proxy": "userland proxy",
    "server": "server",
    "rest": "rest of the machine",
    "total": "machine total",
}


def _cpu_medians(items: list[dict[str, Any]]) -> dict[str, float]:
    """{hop: median µs per request over the rounds that measured it}."""
    out = {}
    for hop in HOPS:
        values = [r["cpu_us"][hop] for r in items if r.get("cpu_us", {}).get(hop) is not None]
        if values:
            out[hop] = round(statistics.median(values), 1)
    return out


def cpu_line(cpu_us: dict[str, float | None]) -> str:
    """The progress line's tail: CPU µs per request by hop."""
    shown = [f"{hop} {cpu_us[hop]:.0f}" for hop in HOPS if cpu_us.get(hop) is not None]
    return f"  cpu µs/req: {', '.join(shown)}" if shown else ""


def per_round_ratio(
    runs: list[dict[str, Any]], a: str, b: str, c: int, key: str = "rps"
) -> float | None:
    """Median over rounds of ``a[key] / b[key]`` at concurrency ``c``."""
    values: dict[int, dict[str, float]] = defaultdict(dict)
    for run in runs:
        if run["c"] == c and run["target"] in (a, b) and run.get(key) is not None:
            values[run["round"]][run["target"]] = run[key]
    ratios = [v[a] / v[b] for v in values.values() if a in v and b in v and v[b] > 0]
    return round(statistics.median(ratios), 3) if ratios else None


def summarize(doc: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    runs = _runs(doc, "e2e")
    kinds = doc["groups"].get("e2e", {}).get("targets", {})
    table = medians(runs)
    peers = [n for n, t in kinds.items() if t["kind"] == "peer" and n in table]
    c = str(SUMMARY_C)
    best = max(peers, key=lambda n: table[n].get(c, {}).get("rps", 0.0), default=None)
    have = "dockyard" in table
    batching: float | None = None
    batch_reason = doc.get("batching_unavailable")
    if best and "dockyard-batch" in table:
        batching = per_round_ratio(runs, "dockyard-batch", best, SUMMARY_C)
    elif batch_reason is None:
        batch_reason = "the batching endpoint was not measured"
    all_runs = [r for g in doc["groups"].values() for r in g.get("runs", [])]
    return {
        "ratio_vs_best_peer_c32": (
            per_round_ratio(runs, "dockyard", best, SUMMARY_C) if best and have else None
        ),
        "p99_ratio_vs_best_peer_c32": (
            per_round_ratio(runs, "dockyard", best, SUMMARY_C, "p99_ms") if best and have else None
        ),
        "ceiling_fraction_c32": (
            per_round_ratio(runs, "dockyard", "const-lb", SUMMARY_C)
            if have and "const-lb" in table
            else None
        ),
        "batching_ratio_vs_best_peer": batching,
        "best_peer": best,
        "errors": sum(r["errors"] for r in all_runs),
    }, batch_reason


def reduce(doc: dict[str, Any]) -> None:
    """Fill ``medians``, ``ratios``, ``summary`` (and its notes) in ``doc``."""
    doc["medians"] = {g: medians(_runs(doc, g)) for g in doc["groups"]}
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for group, body in doc["groups"].items():
        runs = _runs(doc, group)
        peers = [n for n, t in body.get("targets", {}).items() if t["kind"] != "dockyard"]
        ratios[group] = {
            str(c): {p: per_round_ratio(runs, "dockyard", p, c) for p in peers}
            for c in doc["settings"]["concurrency"]
        }
    doc["ratios_dockyard_over"] = ratios
    summary, batch_reason = summarize(doc)
    doc["summary"] = summary
    doc["summary_basis"] = (
        f"end to end, c={SUMMARY_C}, medians of per-round ratios; p99 is the uncorrected "
        "p99 (wrk's coordinated-omission-corrected figures are in the raw runs); "
        "ceiling = constant image through the same HAProxy"
    )
    if summary["batching_ratio_vs_best_peer"] is None:
        doc["summary_batching_note"] = batch_reason


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def table_markdown(doc: dict[str, Any], group: str) -> str:
    meds = doc["medians"].get(group, {})
    targets = doc["groups"][group]["targets"]
    cs = [str(c) for c in doc["settings"]["concurrency"]]
    head = "| server | " + " | ".join(f"c={c} req/s (p50 / p99 ms)" for c in cs) + " | peak RSS |"
    lines = [head, "|---|" + "---|" * len(cs) + "---|"]
    for name, info in targets.items():
        if name not in meds:
            continue
        cells = []
        for c in cs:
            m = meds[name].get(c)
            cells.append(
                "—"
                if m is None
                else f"{_fmt(m['rps'])} ({_fmt(m.get('p50_ms'), 1)} / {_fmt(m.get('p99_ms'), 1)})"
                + (f" **{m['errors']} err**" if m["errors"] else "")
            )
        rss = info.get("rss_total_mib")
        label = f"**{info['title']}**" if info["kind"] == "dockyard" else info["title"]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(rss)} MiB |")
    return "\n".join(lines)


def cpu_table_markdown(doc: dict[str, Any], group: str, c: int = SUMMARY_C) -> str:
    """CPU µs per request by hop at concurrency ``c`` (median of rounds), one row per server."""
    meds = doc["medians"].get(group, {})
    targets = doc["groups"][group]["targets"]
    rows = {
        name: meds[name][str(c)]["cpu_us"]
        for name in targets
        if "cpu_us" in meds.get(name, {}).get(str(c), {})
    }
    hops = [h for h in HOPS if any(h in r for r in rows.values())]
    if not rows or not hops:
        return ""
    head = "| server | req/s | " + " | ".join(HOP_TITLES[h] for h in hops) + " |"
    lines = [head, "|---|---|" + "---|" * len(hops)]
    for name, row in rows.items():
        info = targets[name]
        label = f"**{info['title']}**" if info["kind"] == "dockyard" else info["title"]
        rps = _fmt(meds[name][str(c)].get("rps"))
        lines.append(f"| {label} | {rps} | " + " | ".join(_fmt(row.get(h)) for h in hops) + " |")
    return "\n".join(lines)


def readme_section(doc: dict[str, Any], chart: str | None) -> str:
    s = doc["summary"]
    parts = [
        f"### Results, {doc['date'][:10]}",
        "",
        f"{doc['machine']['summary']}. {doc['settings']['rounds']} round"
        f"{'' if doc['settings']['rounds'] == 1 else 's'} \u00d7 "
        f"{doc['settings']['duration_s']:g} s per server and concurrency, servers "
        "alternated; one-row JSON iris; p50/p99 uncorrected (what requests saw); "
        f"took {doc['elapsed_s'] / 60:.0f} min.",
        "",
        f"Summary (end to end, c=32): Dockyard / best peer ({s['best_peer']}) "
        f"**\u00d7{_fmt(s['ratio_vs_best_peer_c32'], 2)}** req/s, p99 \u00d7"
        f"{_fmt(s['p99_ratio_vs_best_peer_c32'], 2)}; "
        f"{_fmt((s['ceiling_fraction_c32'] or 0) * 100)} % of the constant through "
        f"HAProxy; with batching \u00d7{_fmt(s['batching_ratio_vs_best_peer'], 2)}"
        + (f" ({doc['summary_batching_note']})" if doc.get("summary_batching_note") else "")
        + f"; errors {s['errors']}.",
        "",
        "End to end (Dockyard's endpoint URL vs each peer in its container on a published port):",
        "",
        table_markdown(doc, "e2e"),
        "",
        "Server to server (host processes, nothing in front):",
        "",
        table_markdown(doc, "server"),
    ]
    for group, title in (("e2e", "end to end"), ("server", "server to server")):
        table = cpu_table_markdown(doc, group)
        if table:
            parts += [
                "",
                f"CPU per request by hop, {title}, c={SUMMARY_C} (µs, median of rounds; "
                "`rest of the machine` is the machine's busy time no hop was charged: "
                "softirq network work, the engine, other load):",
                "",
                table,
            ]
    if chart:
        parts += ["", f"![serving benchmark]({chart})"]
    return "\n".join(parts) + "\n"


def update_readme(readme: Path, section: str) -> None:
    text = readme.read_text()
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)


CHART = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
doc = json.load(open(sys.argv[1]))
groups = [("e2e", "end to end"), ("server", "server to server")]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=False)
for ax, (group, title) in zip(axes, groups):
    meds = doc["medians"].get(group, {})
    targets = doc["groups"].get(group, {}).get("targets", {})
    for name, info in targets.items():
        if name not in meds:
            continue
        cs = sorted(int(c) for c in meds[name])
        rps = [meds[name][str(c)]["rps"] for c in cs]
        style = {"dockyard": "-o", "peer": "--s", "ceiling": ":^"}[info["kind"]]
        width = 2.5 if info["kind"] == "dockyard" else 1.2
        ax.plot(cs, rps, style, linewidth=width, label=info["title"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(doc["settings"]["concurrency"])
    ax.set_xticklabels([str(c) for c in doc["settings"]["concurrency"]])
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("requests/s (median of rounds)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize=7)
fig.suptitle("One-row iris predictions, 2 worker processes each, " + doc["date"][:10])
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
"""


def chart(python: str, results: Path, png: Path) -> None:
    """Draw the PNG with matplotlib (in the benchmark's tools venv)."""
    subprocess.run([python, "-c", CHART, str(results), str(png)], check=True)


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
