"""The request ring HAProxy logs to, read back: parsing and handing each line out once."""

from __future__ import annotations

import pytest

from dockyard.adapters.lb.request_log import LoggedRequest, RingCursor, parse_ring

pytestmark = pytest.mark.unit

DUMP = """\
0 slot_0 200 3 s1 ---- "POST /invocations HTTP/1.1"
1 slot_1 503 0 <NOSRV> SC-- "POST /invocations HTTP/1.1"
2 endpoints 404 0 <NOSRV> PR-- "GET /nope HTTP/1.1"
3 slot_0 -1 -1 s1 CD-- "POST /invocations HTTP/1.1"
not a request line
"""


def test_request_lines_are_parsed_and_answerless_ones_skipped() -> None:
    assert parse_ring(DUMP) == [
        LoggedRequest(0, "slot_0", 200, 3.0),
        LoggedRequest(1, "slot_1", 503, 0.0),
        LoggedRequest(2, "endpoints", 404, 0.0),
    ]


def test_each_request_is_handed_out_once_across_dumps() -> None:
    cursor = RingCursor()
    first = [LoggedRequest(i, "slot_0", 200, 1.0) for i in range(3)]
    second = [*first[1:], *(LoggedRequest(i, "slot_0", 200, 1.0) for i in range(3, 5))]
    assert [r.counter for r in cursor.new(first)] == [0, 1, 2]
    assert [r.counter for r in cursor.new(second)] == [3, 4]
    assert cursor.new(second) == []


def test_a_new_haproxy_process_counting_from_zero_again_is_read_from_the_start() -> None:
    cursor = RingCursor()
    cursor.new([LoggedRequest(i, "slot_0", 200, 1.0) for i in range(100, 200)])
    restarted = [LoggedRequest(i, "slot_0", 200, 1.0) for i in range(5)]
    assert [r.counter for r in cursor.new(restarted)] == [0, 1, 2, 3, 4]
