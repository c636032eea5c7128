"""The serving benchmark's CPU-per-hop arithmetic and its table (``bench/serving/cpu.py``).

The benchmark runs by hand for an hour; these check in a second that its hop figures add
up and that a hop it could not read shows as unknown, never as zero.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
sys.path.append(str(REPO))  # after the tests' own paths: bench modules never shadow them

from bench.serving import cpu, report  # noqa: E402


def test_hops_are_divided_by_the_requests_and_the_rest_is_what_no_hop_was_charged() -> None:
    before = {"balancer": 1.0, "server": 10.0, "load": 0.5, "machine": 100.0}
    after = {"balancer": 1.2, "server": 11.0, "load": 0.6, "machine": 101.5}
    used = cpu.per_request_us(before, after, 10_000)
    assert used == {
        "balancer": 20.0,
        "server": 100.0,
        "load": 10.0,
        "rest": 20.0,  # 1.5 s busy, 1.3 s charged to hops
        "total": 150.0,
    }


def test_a_hop_that_could_not_be_read_is_unknown_and_no_requests_gives_nothing() -> None:
    before = {"server": None, "load": 0.0, "machine": 0.0}
    after = {"server": 3.0, "load": 0.1, "machine": 1.0}
    used = cpu.per_request_us(before, after, 1000)
    assert used["server"] is None
    assert used["load"] == 100.0
    assert cpu.per_request_us(before, after, 0) == {}


def test_the_meter_reads_this_process_tree_and_the_machine() -> None:
    meter = cpu.Meter({"server": cpu.tree_reader(os.getpid()), "broken": _broken})
    values = meter.read()
    assert values["server"] is not None and values["server"] > 0
    assert values["broken"] is None
    assert values["machine"] is not None and values["machine"] > 0


def _broken() -> float:
    raise OSError("gone")


def test_the_cpu_table_lists_each_hop_in_path_order() -> None:
    doc = {
        "medians": {
            "e2e": {
                "dockyard": {
                    "32": {
                        "rps": 8000.0,
                        "cpu_us": {
                            "load": 18,
                            "balancer": 40,
                            "server": 160,
                            "rest": 17,
                            "total": 235,
                        },
                    }
                },
                "fastapi": {
                    "32": {
                        "rps": 5300.0,
                        "cpu_us": {
                            "load": 31,
                            "proxy": 80,
                            "server": 234,
                            "rest": 24,
                            "total": 369,
                        },
                    }
                },
            }
        },
        "groups": {
            "e2e": {
                "targets": {
                    "dockyard": {"title": "Dockyard endpoint", "kind": "dockyard"},
                    "fastapi": {"title": "FastAPI + uvicorn", "kind": "peer"},
                }
            }
        },
    }
    table = report.cpu_table_markdown(doc, "e2e").splitlines()
    assert table[0] == (
        "| server | req/s | wrk | HAProxy | userland proxy | server | rest of the machine "
        "| machine total |"
    )
    assert table[2] == "| **Dockyard endpoint** | 8,000 | 18 | 40 | — | 160 | 17 | 235 |"
    assert table[3] == "| FastAPI + uvicorn | 5,300 | 31 | — | 80 | 234 | 24 | 369 |"
