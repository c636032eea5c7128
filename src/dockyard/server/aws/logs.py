"""``logs`` (CloudWatch Logs, JSON 1.1, target prefix ``Logs_20140328``): reading the
output of Dockyard's jobs as SageMaker's log groups (:mod:`.log_groups`).

Served: DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents — what
the SageMaker SDK's ``fit()``/``wait(logs=True)`` and ``aws logs filter-log-events`` call. Writing
(PutLogEvents, CreateLogGroup…) answers NotImplemented: the logs are the jobs' own
output, not a store clients write to.

GetLogEvents follows CloudWatch's paging: ``startFromHead`` reads from the oldest
event, otherwise the newest page comes first; ``nextForwardToken`` is handed back
unchanged at the end of the stream (how clients know to stop), and a token names an
event's position in its stream, so it stays good while the stream grows.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from dockyard.server.aws.errors import AwsError, ErrorNames
from dockyard.server.aws.listing import token_page
from dockyard.server.aws.log_filter import PatternError, matcher
from dockyard.server.aws.log_groups import LogGroup, LogStream, log_groups
from dockyard.server.aws.service import AwsService, Call, Handler

ERRORS = ErrorNames(
    invalid="InvalidParameterException",
    missing="ResourceNotFoundException",
    conflict="InvalidParameterException",
    server="ServiceUnavailableException",
)
#: a stream's event as the pages hold it, its message last: (index, time, message) or
#: (time, stream, index, message)
Event = TypeVar("Event", tuple[int, int, str], tuple[int, str, int, str])

GROUPS_PAGE = 50  # DescribeLogGroups' and DescribeLogStreams' default limit
EVENTS_PAGE = 10_000  # GetLogEvents' and FilterLogEvents' default limit
EVENTS_BYTES = 1_048_576  # … and the most their events may add up to
EVENT_OVERHEAD = 26  # the bytes CloudWatch counts per event beside its message


def _invalid(message: str) -> AwsError:
    return AwsError(ERRORS.invalid, message)


def _group_arn(call: Call, name: str) -> str:
    return call.arn(f"log-group:{name}")


def _group(call: Call) -> LogGroup:
    """The group named by ``logGroupName`` or ``logGroupIdentifier`` (a name or ARN)."""
    name = call.params.get("logGroupName")
    identifier = call.params.get("logGroupIdentifier")
    if name and identifier:
        raise _invalid("LogGroupName and LogGroupIdentifier are mutually exclusive; give one")
    wanted = name or identifier
    if not wanted:
        raise _invalid("Either logGroupName or logGroupIdentifier is required")
    if str(wanted).startswith("arn:"):  # arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
        wanted = str(wanted).split(":log-group:", 1)[-1].removesuffix(":*")
    for group in log_groups(call.platform):
        if group.name == wanted:
            return group
    raise AwsError(ERRORS.missing, "The specified log group does not exist.")


def _stream(group: LogGroup, name: str) -> LogStream:
    for stream in group.list_streams():
        if stream.name == name:
            return stream
    raise AwsError(ERRORS.missing, "The specified log stream does not exist.")


def _in_window(params: Mapping[str, Any], timestamp: int) -> bool:
    """``startTime`` inclusive, ``endTime`` exclusive, as CloudWatch reads them."""
    start, end = params.get("startTime"), params.get("endTime")
    return (start is None or timestamp >= start) and (end is None or timestamp < end)


def _limit(params: Mapping[str, Any], default: int, most: int) -> int:
    limit = params.get("limit")
    if limit is None:
        return default
    if not 1 <= int(limit) <= most:
        raise _invalid(f"limit must be between 1 and {most}, got {limit}")
    return int(limit)


def _page(
    items: list[dict[str, Any]], params: Mapping[str, Any], limit: int, key: str
) -> dict[str, Any]:
    """One page of groups or streams (``nextToken`` is the next one's offset)."""
    return token_page(
        items,
        {**params, "limit": limit},
        key,
        default_size=GROUPS_PAGE,
        token="nextToken",
        size="limit",
        invalid=ERRORS.invalid,
    )


def _event_bytes(message: str) -> int:
    return len(message.encode()) + EVENT_OVERHEAD


# -- groups and streams -----------------------------------------------------------------------


def describe_log_groups(call: Call) -> Mapping[str, Any]:
    params = call.params
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    if prefix and pattern:
        raise _invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive")
    limit = _limit(params, GROUPS_PAGE, GROUPS_PAGE)
    groups = [
        g
        for g in log_groups(call.platform)
        if (not prefix or g.name.startswith(prefix))
        and (not pattern or str(pattern).lower() in g.name.lower())
    ]
    described = [
        {
            "logGroupName": g.name,
            "creationTime": g.created_ms,
            "metricFilterCount": 0,
            "arn": _group_arn(call, g.name) + ":*",
            "logGroupArn": _group_arn(call, g.name),
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
        }
        for g in groups
    ]
    return _page(described, params, limit, "logGroups")


def describe_log_streams(call: Call) -> Mapping[str, Any]:
    params = call.params
    group = _group(call)
    prefix = params.get("logStreamNamePrefix")
    order = params.get("orderBy") or "LogStreamName"
    if order == "LastEventTime" and prefix:
        raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = _limit(params, GROUPS_PAGE, GROUPS_PAGE)
    rows = []
    for stream in group.list_streams():
        if prefix and not stream.name.startswith(prefix):
            continue
        events = stream.events()
        row: dict[str, Any] = {
            "logStreamName": stream.name,
            "creationTime": stream.created_ms,
            "arn": f"{_group_arn(call, group.name)}:log-stream:{stream.name}",
            "storedBytes": 0,
        }
        if events:
            row["firstEventTimestamp"] = events[0][0]
            row["lastEventTimestamp"] = events[-1][0]
            row["lastIngestionTime"] = events[-1][0]
        rows.append(row)
    if order == "LastEventTime":
        rows.sort(key=lambda r: (r.get("lastEventTimestamp", 0), r["logStreamName"]))
    else:
        rows.sort(key=lambda r: r["logStreamName"])
    if params.get("descending"):
        rows.reverse()
    return _page(rows, params, limit, "logStreams")


# -- events -----------------------------------------------------------------------------------


def _position(token: Any) -> tuple[str, int] | None:
    """``("f"|"b", index)`` of a GetLogEvents token; None when there is none."""
    if token is None:
        return None
    direction, _, index = str(token).partition("/")
    if direction not in ("f", "b") or not index.isdigit():
        raise _invalid("The specified nextToken is invalid.")
    return direction, int(index)


def get_log_events(call: Call) -> Mapping[str, Any]:
    params = call.params
    limit = _limit(params, EVENTS_PAGE, EVENTS_PAGE)
    position = _position(params.get("nextToken"))
    stream = _stream(_group(call), str(params["logStreamName"]))
    events = stream.events()
    indexed = [
        (index, stamp, message)
        for index, (stamp, message) in enumerate(events)
        if _in_window(params, stamp)
    ]
    if position is None:
        direction = "f" if params.get("startFromHead") else "b"
        at = 0 if direction == "f" else len(events)
    else:
        direction, at = position
    if direction == "f":
        chosen = _forward([e for e in indexed if e[0] >= at], limit)
    else:
        chosen = _backward([e for e in indexed if e[0] < at], limit)
    first = chosen[0][0] if chosen else at
    after = chosen[-1][0] + 1 if chosen else at
    return {
        "events": [
            {"timestamp": stamp, "message": message, "ingestionTime": stamp}
            for _, stamp, message in chosen
        ],
        "nextForwardToken": f"f/{after:056d}",
        "nextBackwardToken": f"b/{first:056d}",
    }


def _forward(events: Sequence[Event], limit: int) -> list[Event]:
    """The first events that fit the page's count and size (an event's last member is
    its message)."""
    chosen: list[Event] = []
    size = 0
    for event in events[:limit]:
        size += _event_bytes(event[-1])
        if chosen and size > EVENTS_BYTES:
            break
        chosen.append(event)
    return chosen


def _backward(events: Sequence[Event], limit: int) -> list[Event]:
    """The last events that fit the page's count and size, oldest first."""
    return list(reversed(_forward(list(reversed(events)), limit)))


def _filter_token(token: Any) -> tuple[int, str, int] | None:
    """The last event a FilterLogEvents page returned: ``(timestamp, stream, index)``."""
    if token is None:
        return None
    try:
        stamp, stream, index = json.loads(base64.urlsafe_b64decode(str(token)))
        return int(stamp), str(stream), int(index)
    except (ValueError, TypeError):
        raise _invalid("The specified nextToken is invalid.") from None


def filter_log_events(call: Call) -> Mapping[str, Any]:
    params = call.params
    group = _group(call)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive")
    try:
        matches = matcher(params.get("filterPattern"))
    except PatternError as error:
        raise _invalid(str(error)) from None
    limit = _limit(params, EVENTS_PAGE, EVENTS_PAGE)
    streams = [
        s
        for s in group.list_streams()
        if (not names or s.name in names) and (not prefix or s.name.startswith(prefix))
    ]
    if names and len(streams) < len(set(names)):
        raise AwsError(ERRORS.missing, "The specified log stream does not exist.")
    found = sorted(
        (stamp, stream.name, index, message)
        for stream in streams
        for index, (stamp, message) in enumerate(stream.events())
        if _in_window(params, stamp) and matches(message)
    )
    last = _filter_token(params.get("nextToken"))
    if last is not None:
        found = [event for event in found if event[:3] > last]
    page = _forward(found, limit)
    answer: dict[str, Any] = {
        "events": [
            {
                "logStreamName": stream,
                "timestamp": stamp,
                "message": message,
                "ingestionTime": stamp,
                "eventId": f"{stamp:020d}{zlib.crc32(stream.encode()):010d}{index:016d}",
            }
            for stamp, stream, index, message in page
        ],
        "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": True} for s in streams
        ],
    }
    if len(page) < len(found):
        stamp, stream, index, _ = page[-1]
        encoded = json.dumps([stamp, stream, index]).encode()
        answer["nextToken"] = base64.urlsafe_b64encode(encoded).decode()
    return answer


HANDLERS: dict[str, Handler] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}

SERVICE = AwsService(name="logs", arn_namespace="logs", handlers=HANDLERS, errors=ERRORS)
