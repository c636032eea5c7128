"""Scheduled scaling's expressions: at(), rate() and cron(), in UTC, and their refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.control.schedules import At, Cron, Rate, next_run, parse_schedule
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_at_fires_once() -> None:
    schedule = parse_schedule("at(2026-12-01T08:00:00)")
    assert isinstance(schedule, At)
    assert next_run(schedule, ts("2026-11-30T00:00:00"), anchor=0) == ts("2026-12-01T08:00:00")
    assert next_run(schedule, ts("2026-12-01T08:00:00"), anchor=0) is None


def test_rate_counts_from_its_anchor() -> None:
    schedule = parse_schedule("rate(5 minutes)")
    assert schedule == Rate(300)
    anchor = ts("2026-01-01T00:00:00")
    assert next_run(schedule, anchor, anchor=anchor) == anchor + 300
    assert next_run(schedule, anchor + 301, anchor=anchor) == anchor + 600


def test_cron_every_weekday_at_eight() -> None:
    schedule = parse_schedule("cron(0 8 ? * MON-FRI *)")
    assert isinstance(schedule, Cron)
    friday_noon = ts("2026-11-27T12:00:00")  # a Friday
    assert next_run(schedule, friday_noon, anchor=0) == ts("2026-11-30T08:00:00")  # Monday


def test_cron_steps_lists_and_years() -> None:
    schedule = parse_schedule("cron(0/15 9,17 1 JAN ? 2027)")
    first = next_run(schedule, ts("2026-06-01T00:00:00"), anchor=0)
    assert first == ts("2027-01-01T09:00:00")
    assert next_run(schedule, first or 0, anchor=0) == ts("2027-01-01T09:15:00")
    assert next_run(schedule, ts("2027-01-01T17:45:00"), anchor=0) is None


def test_start_and_end_time_bound_the_runs() -> None:
    schedule = parse_schedule("rate(1 hour)")
    anchor = ts("2026-01-01T00:00:00")
    end = anchor + 3600
    assert next_run(schedule, anchor + 3600, anchor=anchor, end=end) is None


@pytest.mark.parametrize(
    "text",
    [
        "every 5 minutes",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "at(2026-13-01T00:00:00)",
        "cron(0 8 * * *)",
        "cron(0 8 1 * MON *)",
        "cron(0 8 L * ? *)",
        "cron(61 8 * * ? *)",
    ],
)
def test_bad_schedules_name_the_field(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_schedule(text)
    assert caught.value.field == "Schedule"
