"""Following many containers: each followed once, frames back into whole lines, the
lines already shown skipped, tails counted from the end."""

from __future__ import annotations

import pytest

from dockyard.control.log_follow import LineBuffer, Stream, last_lines, prefix, to_follow

pytestmark = pytest.mark.unit


def test_only_new_containers_are_followed_once_each() -> None:
    a, b = Stream("t1", "web", "c1"), Stream("t2", "web", "c2")
    assert to_follow([], [a, b]) == [a, b]
    assert to_follow(["c1"], [a, b]) == [b]
    assert to_follow(["c1", "c2"], [a, b, b]) == []
    assert to_follow([], [a, a]) == [a]


def test_a_line_split_across_frames_comes_out_whole() -> None:
    buffer = LineBuffer()
    assert buffer.feed("hel") == []
    assert buffer.feed("lo\nwor") == ["hello"]
    assert buffer.feed("ld\r\n") == ["world"]
    assert buffer.feed("no newline") == []
    assert buffer.close() == ["no newline"]
    assert buffer.close() == []


def test_lines_already_shown_are_skipped() -> None:
    buffer = LineBuffer(skip=2)
    assert buffer.feed("one\ntwo\nthree\n") == ["three"]
    assert buffer.feed("four\n") == ["four"]


def test_tail_counts_from_the_end() -> None:
    lines = ["a", "b", "c"]
    assert last_lines(lines, 2) == ["b", "c"]
    assert last_lines(lines, 10) == lines
    assert last_lines(lines, 0) == []


def test_prefix_is_the_short_task_id_and_the_container() -> None:
    assert prefix("0123456789abcdef0123", "web") == "0123456789ab/web"
