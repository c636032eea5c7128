"""Scheduled tasks' due times: the three expression forms, once per firing, missed
firings collapsed into one run, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.control.scheduled_tasks import next_due, parse_task_schedule, plan_schedule
from dockyard.control.schedules import Cron, Rate
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


CREATED = ts("2026-11-23T10:17:00")  # a Monday


def test_standard_cron_runs_nightly_at_two() -> None:
    schedule = parse_task_schedule("0 2 * * *")
    assert isinstance(schedule, Cron)
    assert next_due(schedule, CREATED, None) == ts("2026-11-24T02:00:00")
    assert next_due(schedule, CREATED, ts("2026-11-24T02:00:00")) == ts("2026-11-25T02:00:00")


def test_eventbridge_cron_and_standard_cron_agree() -> None:
    standard = parse_task_schedule("30 6 * * 1-5")  # Unix: 1 is Monday
    eventbridge = parse_task_schedule("cron(30 6 ? * 2-6 *)")  # EventBridge: 2 is Monday
    after = ts("2026-11-27T12:00:00")  # a Friday
    assert next_due(standard, after, None) == ts("2026-11-30T06:30:00")
    assert next_due(standard, after, None) == next_due(eventbridge, after, None)


def test_standard_cron_sunday_is_zero_or_seven_or_a_name() -> None:
    saturday = ts("2026-11-28T12:00:00")
    sunday_two = ts("2026-11-29T02:00:00")
    for expression in ("0 2 * * 0", "0 2 * * 7", "0 2 * * sun"):
        assert next_due(parse_task_schedule(expression), saturday, None) == sunday_two


def test_standard_cron_with_both_day_fields_fires_on_either() -> None:
    schedule = parse_task_schedule("0 0 1 * MON")  # the 1st, and every Monday
    assert next_due(schedule, ts("2026-11-24T00:00:00"), None) == ts("2026-11-30T00:00:00")
    assert next_due(schedule, ts("2026-11-30T00:00:00"), None) == ts("2026-12-01T00:00:00")


def test_steps_and_lists() -> None:
    schedule = parse_task_schedule("*/15 9,17 * * *")
    assert next_due(schedule, ts("2026-11-24T09:16:00"), None) == ts("2026-11-24T09:30:00")
    assert next_due(schedule, ts("2026-11-24T09:45:00"), None) == ts("2026-11-24T17:00:00")


def test_rate_counts_from_creation() -> None:
    schedule = parse_task_schedule("rate(5 minutes)")
    assert schedule == Rate(300)
    assert next_due(schedule, CREATED, None) == CREATED + 300


def test_not_due_yet_runs_nothing_and_says_when() -> None:
    schedule = parse_task_schedule("rate(5 minutes)")
    plan = plan_schedule(schedule, CREATED, None, CREATED + 299)
    assert not plan.run
    assert plan.next_at == CREATED + 300


def test_due_runs_once_and_moves_on() -> None:
    schedule = parse_task_schedule("rate(5 minutes)")
    plan = plan_schedule(schedule, CREATED, None, CREATED + 301)
    assert plan.run and plan.due_at == CREATED + 300 and plan.missed == 0
    assert plan.next_at == CREATED + 600
    again = plan_schedule(schedule, CREATED, plan.due_at, CREATED + 302)
    assert not again.run  # the same firing is never run twice


def test_missed_firings_run_once_not_n_times() -> None:
    schedule = parse_task_schedule("0 2 * * *")
    last = ts("2026-11-24T02:00:00")
    back = ts("2026-11-27T09:00:00")  # down over three nightly firings
    plan = plan_schedule(schedule, CREATED, last, back)
    assert plan.run
    assert plan.due_at == ts("2026-11-27T02:00:00")  # the latest passed firing
    assert plan.missed == 2
    assert plan.next_at == ts("2026-11-28T02:00:00")
    assert not plan_schedule(schedule, CREATED, plan.due_at, back).run


def test_a_very_long_outage_still_runs_once() -> None:
    schedule = parse_task_schedule("rate(1 minute)")
    now = CREATED + 30 * 86400
    plan = plan_schedule(schedule, CREATED, None, now)
    assert plan.run and plan.missed > 0
    assert plan.next_at is not None and plan.next_at > now
    assert plan.due_at is not None
    assert not plan_schedule(schedule, CREATED, plan.due_at, now).run


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * *",  # 4 fields
        "0 25 * * *",
        "0 2 ? * *",  # ? is EventBridge's
        "0 2 * * 8",
        "cron(0 2 * * *)",  # EventBridge wants 6 fields
        "rate(0 minutes)",
        "rate(5 weeks)",
        "at(2026-12-01T08:00:00)",  # a one-off is run-task's
        "every night",
    ],
)
def test_refusals_name_the_field(expression: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_task_schedule(expression)
    assert caught.value.field == "scheduleExpression"
