"""When a scheduled scaling action fires (pure): AAS's ``at()``, ``rate()`` and ``cron()``.

Application Auto Scaling's ``Schedule`` takes three forms, all in UTC:

* ``at(yyyy-mm-ddThh:mm:ss)`` fires once;
* ``rate(N unit)`` fires every N minutes, hours or days, counted from the action's
  ``StartTime`` (or from when it was created);
* ``cron(minutes hours day-of-month month day-of-week year)``, EventBridge's six
  fields: ``*``, ``?``, lists, ranges and ``/`` steps; months ``1-12`` or
  ``JAN-DEC``, weekdays ``1-7`` (1 is Sunday) or ``SUN-SAT``. ``L``, ``W`` and ``#``
  are refused rather than misread.

:func:`next_run` answers "the first firing strictly after ``after``", which is all the
reconciler needs: an action is due when that time has passed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dockyard.errors import SpecError

FIELD = "Schedule"
HINT = (
    'write "at(2026-12-01T08:00:00)", "rate(5 minutes)" or "cron(0 8 * * ? *)" '
    "(minutes hours day-of-month month day-of-week year, UTC)"
)
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: how far ahead a cron expression is searched (an impossible date gives no run)
SEARCH_DAYS = 366 * 8


@dataclass(frozen=True)
class At:
    when: float


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: any (``*`` or ``?``)
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday … 7 = Saturday; None: any
    years: frozenset[int] | None
    #: standard (5-field) cron: when both day fields are restricted, either matches
    either_day: bool = False


Schedule = At | Rate | Cron


def _bad(text: str, why: str) -> SpecError:
    return SpecError(f"Schedule {text!r}: {why}", field=FIELD, hint=HINT)


def parse_schedule(text: str) -> Schedule:
    """Read an AAS ``Schedule``; a SpecError naming ``Schedule`` if it is not one."""
    match = re.fullmatch(r"\s*(at|rate|cron)\((.*)\)\s*", text)
    if match is None:
        raise _bad(text, "not an at(), rate() or cron() expression")
    form, body = match.group(1), match.group(2).strip()
    if form == "at":
        try:
            moment = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise _bad(text, "at() takes yyyy-mm-ddThh:mm:ss") from None
        return At(moment.timestamp())
    if form == "rate":
        parts = body.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in _UNITS:
            raise _bad(
                text, "rate() takes a positive whole number and minute(s), hour(s) or day(s)"
            )
        if int(parts[0]) < 1:
            raise _bad(text, "a rate must be at least 1")
        return Rate(int(parts[0]) * _UNITS[parts[1]])
    return _cron(text, body)


def _cron(text: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise _bad(text, f"cron() takes 6 fields, not {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    days_of_month = _field(text, dom, 1, 31, (), "day-of-month")
    days_of_week = _field(text, dow, 1, 7, _DAYS, "day-of-week")
    if days_of_month is not None and days_of_week is not None:
        raise _bad(text, "give day-of-month or day-of-week, and ? for the other")
    return Cron(
        minutes=_all(_field(text, minute, 0, 59, (), "minutes"), 0, 59),
        hours=_all(_field(text, hour, 0, 23, (), "hours"), 0, 23),
        days_of_month=days_of_month,
        months=_all(_field(text, month, 1, 12, _MONTHS, "month"), 1, 12),
        days_of_week=days_of_week,
        years=_field(text, year, 1970, 2199, (), "year"),
    )


def parse_standard_cron(text: str) -> Cron:
    """Read a standard 5-field cron line (``0 2 * * *``: minute hour day month weekday).

    Unix semantics, not EventBridge's: weekdays ``0-7`` (0 and 7 are Sunday) or
    ``SUN-SAT``; when day-of-month and day-of-week are both restricted a day matching
    either fires (``0 2 1 * MON`` is the 1st and every Monday). Stored as a
    :class:`Cron` with EventBridge's weekday numbering, so one matcher serves both.
    """
    fields = text.split()
    if len(fields) != 5:
        raise _bad(text, f"a standard cron line takes 5 fields, not {len(fields)}")
    minute, hour, dom, month, dow = fields
    if "?" in (dom, dow):
        raise _bad(text, "? belongs to cron(...) with 6 fields; a 5-field line uses *")
    weekdays = _field(text, dow, 0, 7, (), "day-of-week", names0=_DAYS)
    return Cron(
        minutes=_all(_field(text, minute, 0, 59, (), "minutes"), 0, 59),
        hours=_all(_field(text, hour, 0, 23, (), "hours"), 0, 23),
        days_of_month=_field(text, dom, 1, 31, (), "day-of-month"),
        months=_all(_field(text, month, 1, 12, _MONTHS, "month"), 1, 12),
        days_of_week=None if weekdays is None else frozenset(d % 7 + 1 for d in weekdays),
        years=None,
        either_day=True,
    )


def _all(values: frozenset[int] | None, low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1)) if values is None else values


def _field(
    text: str,
    spec: str,
    low: int,
    high: int,
    names: tuple[str, ...],
    what: str,
    *,
    names0: tuple[str, ...] = (),
) -> frozenset[int] | None:
    """One cron field's values; None for ``*`` and ``?`` (anything).

    ``names`` count from 1 (EventBridge), ``names0`` from 0 (Unix weekdays).
    """
    if spec in ("*", "?"):
        return None
    values: set[int] = set()
    for part in spec.split(","):
        base, _, step_text = part.partition("/")
        step = _number(text, step_text, (), what) if step_text else 1
        number = functools.partial(_number, text, names=names, what=what, names0=names0)
        if step < 1:
            raise _bad(text, f"the {what} step must be at least 1")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
        else:
            start = number(base)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise _bad(text, f"{what} {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(
    text: str, value: str, names: tuple[str, ...], what: str, names0: tuple[str, ...] = ()
) -> int:
    upper = value.upper()
    if upper in names:
        return names.index(upper) + 1
    if upper in names0:
        return names0.index(upper)
    if not value.isdigit():
        named = " or a name" if names or names0 else ""
        raise _bad(text, f"{what} {value!r} is not a number" + named)
    return int(value)


def next_run(
    schedule: Schedule,
    after: float,
    *,
    anchor: float,
    start: float | None = None,
    end: float | None = None,
) -> float | None:
    """The first time strictly after ``after`` the schedule fires, within [start, end].

    ``anchor`` is where a rate counts from (StartTime, else the action's creation).
    """
    if start is not None:
        after = max(after, start - 1e-6)
    when = _next(schedule, after, anchor)
    if when is None or (end is not None and when > end):
        return None
    return when


def _next(schedule: Schedule, after: float, anchor: float) -> float | None:
    if isinstance(schedule, At):
        return schedule.when if schedule.when > after else None
    if isinstance(schedule, Rate):
        periods = max(1, int((after - anchor) // schedule.seconds) + 1)
        return anchor + periods * schedule.seconds
    return _next_cron(schedule, after)


def _next_cron(cron: Cron, after: float) -> float | None:
    moment = datetime.fromtimestamp(after, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(SEARCH_DAYS):
        if _day_matches(cron, day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    candidate = day.replace(hour=hour, minute=minute).timestamp()
                    if candidate > after:
                        return candidate
        day += timedelta(days=1)
    return None


def _day_matches(cron: Cron, day: datetime) -> bool:
    if cron.years is not None and day.year not in cron.years:
        return False
    if day.month not in cron.months:
        return False
    weekday = (day.isoweekday() % 7) + 1  # Sunday 1 … Saturday 7
    by_month = cron.days_of_month is None or day.day in cron.days_of_month
    by_week = cron.days_of_week is None or weekday in cron.days_of_week
    if cron.either_day and cron.days_of_month is not None and cron.days_of_week is not None:
        return by_month or by_week
    return by_month and by_week
