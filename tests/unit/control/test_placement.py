"""EC2 placement: reserved capacity, binpack and spread, distinctInstance, and ECS's
words and RunTask failure reasons when nothing fits."""

from __future__ import annotations

import pytest

from dockyard.control.placement import (
    Instance,
    Placed,
    PlacedTask,
    Request,
    Strategy,
    Unplaceable,
    place,
    reserved,
    unable_to_place,
)

pytestmark = pytest.mark.unit

ONE = Instance("1", cpu=2048, memory=4096)
TWO = Instance("2", cpu=4096, memory=8192)
BINPACK_MEMORY = Strategy("binpack", "memory")
SPREAD = Strategy("spread", "instanceId")


def test_reserved_is_the_sum_of_running_tasks_per_instance() -> None:
    tasks = [
        PlacedTask("1", 256, 512, "g"),
        PlacedTask("1", 256, 1024, "g"),
        PlacedTask("2", 1, 1, "h"),
    ]
    assert reserved(tasks) == {"1": (512, 1536), "2": (1, 1)}


def test_binpack_memory_fills_the_fullest_instance_that_still_fits() -> None:
    request = Request(256, 1024, "service:web", (BINPACK_MEMORY,))
    assert place(request, [ONE, TWO], []) == Placed("1")
    full = [PlacedTask("1", 256, 3584, "service:other")]  # 512 MiB left on 1
    assert place(request, [ONE, TWO], full) == Placed("2")


def test_spread_puts_the_next_task_where_its_group_has_fewest() -> None:
    request = Request(256, 512, "service:web", (SPREAD,))
    tasks = [PlacedTask("1", 256, 512, "service:web")]
    assert place(request, [ONE, TWO], tasks) == Placed("2")
    tasks.append(PlacedTask("2", 256, 512, "service:web"))
    assert place(request, [ONE, TWO], tasks) == Placed("1")  # tie: lowest id


def test_strategies_apply_in_turn() -> None:
    request = Request(256, 512, "service:web", (SPREAD, BINPACK_MEMORY))
    three = Instance("3", cpu=4096, memory=2048)
    tasks = [PlacedTask("1", 256, 512, "service:web")]
    assert place(request, [ONE, TWO, three], tasks) == Placed("3")  # spread ties 2/3; binpack


def test_distinct_instance_refuses_a_second_task_of_the_group_on_one_host() -> None:
    request = Request(256, 512, "service:web", distinct_instance=True)
    tasks = [PlacedTask("1", 256, 512, "service:web")]
    assert place(request, [ONE], tasks) == Unplaceable(
        "DistinctInstance", "1", "distinctInstance placement constraint"
    )
    assert place(request, [ONE, TWO], tasks) == Placed("2")


def test_insufficient_memory_in_ecs_words() -> None:
    outcome = place(Request(256, 6000, "service:web"), [ONE], [])
    assert outcome == Unplaceable("RESOURCE:MEMORY", "1", "memory")
    assert isinstance(outcome, Unplaceable)
    assert unable_to_place("web", outcome) == (
        "service web was unable to place a task because no container instance met all of its "
        "requirements. The closest matching container-instance 1 has insufficient memory "
        "available."
    )


def test_insufficient_cpu_and_the_closest_instance() -> None:
    outcome = place(Request(3000, 256, "family:job"), [ONE, TWO], [PlacedTask("2", 2048, 0, "x")])
    assert outcome == Unplaceable("RESOURCE:CPU", "1", "cpu")


def test_no_instance_at_all() -> None:
    outcome = place(Request(1, 1, "g"), [], [])
    assert isinstance(outcome, Unplaceable) and outcome.closest is None
    assert "No Container Instances" in unable_to_place("web", outcome)
