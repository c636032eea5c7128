"""The List* operations' common request: filters, sort and pages (NextToken).

SageMaker's list calls share their members: ``NameContains``, ``StatusEquals``,
``CreationTimeAfter``/``Before``, ``LastModifiedTimeAfter``/``Before``, ``SortBy``,
``SortOrder``, ``MaxResults`` (default 10, at most 100) and ``NextToken``. The token
is the offset of the next page in the sorted, filtered list, so a page is exact for
a list that does not change between calls (as AWS promises no more).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.server.aws.errors import validation

DEFAULT_MAX_RESULTS = 10


@dataclass(frozen=True)
class Row:
    """One resource as the list filters and sorts it, and its summary."""

    name: str
    created_at: float
    modified_at: float | None
    status: str | None
    summary: Mapping[str, Any]


def page(
    rows: Sequence[Row],
    params: Mapping[str, Any],
    key: str,
    *,
    default_order: str = "Descending",
) -> dict[str, Any]:
    """``{key: [summaries…], "NextToken": …}`` for one page of ``rows``."""
    wanted = [row for row in rows if _matches(row, params)]
    sort_by = str(params.get("SortBy") or "CreationTime")
    sort_key: Callable[[Row], Any] = {
        "Name": lambda r: r.name,
        "Status": lambda r: (r.status or "", r.created_at),
    }.get(sort_by, lambda r: r.created_at)
    descending = str(params.get("SortOrder") or default_order) == "Descending"
    wanted.sort(key=sort_key, reverse=descending)
    start = _offset(params.get("NextToken"))
    size = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
    chunk = wanted[start : start + size]
    answer: dict[str, Any] = {key: [dict(row.summary) for row in chunk]}
    if start + size < len(wanted):
        answer["NextToken"] = str(start + size)
    return answer


def _matches(row: Row, params: Mapping[str, Any]) -> bool:
    contains = params.get("NameContains")
    if contains and str(contains).lower() not in row.name.lower():
        return False
    status = params.get("StatusEquals")
    if status and row.status != status:
        return False
    bounds = (
        ("CreationTimeAfter", row.created_at, 1),
        ("CreationTimeBefore", row.created_at, -1),
        ("LastModifiedTimeAfter", row.modified_at, 1),
        ("LastModifiedTimeBefore", row.modified_at, -1),
    )
    for member, value, side in bounds:
        limit = params.get(member)
        if limit is None or value is None:
            continue
        if (side == 1 and not value > float(limit)) or (side == -1 and not value < float(limit)):
            return False
    return True


def _offset(token: object, invalid: str = "ValidationException") -> int:
    if token is None or token == "":
        return 0
    if isinstance(token, str) and token.isdigit():
        return int(token)
    raise validation(f"NextToken {token!r} is not a token this list returned", invalid)


def token_page(
    items: Sequence[Any],
    params: Mapping[str, Any],
    key: str,
    *,
    default_size: int,
    token: str = "nextToken",
    size: str = "maxResults",
    invalid: str = "ValidationException",
) -> dict[str, Any]:
    """One page of ``items`` for the ECS, ECR and Application Auto Scaling lists:
    ``{key: [...], token: …}`` (their members are ``nextToken``/``maxResults``, or
    ``NextToken``/``MaxResults`` for AAS). The token is the next page's offset, as in
    :func:`page`; one this list did not hand out is refused as ``invalid``."""
    start = _offset(params.get(token), invalid)
    count = int(params.get(size) or default_size)
    answer: dict[str, Any] = {key: list(items[start : start + count])}
    if start + count < len(items):
        answer[token] = str(start + count)
    return answer
