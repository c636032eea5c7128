"""The benchmarks' simulated control planes still run (``bench/control_plane_fakes.py``,
``bench/swarm_fakes.py``): a few endpoints converge and a steady pass changes nothing.

The benchmarks run by hand; without this, a change to what the core asks of an
engine (a swarm's nodes pulling images from a registry) breaks them unseen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.append(str(BENCH))  # after the tests own: bench modules never shadow them

from control_plane_fakes import measure_scale  # noqa: E402
from swarm_fakes import measure_swarm_scale  # noqa: E402


def test_the_swarm_scale_measure_converges_and_stays_steady() -> None:
    result = measure_swarm_scale(3, 1, lambda _: None)
    assert result["tasks"] == 3 * result["replicas"]
    assert result["loop_pass_ms"] > 0


def test_the_local_scale_measure_converges() -> None:
    result = measure_scale(3, "passing", 1, lambda _: None)
    assert result["tasks"] == 3 * result["replicas"]
