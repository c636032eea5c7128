"""Batch transform's data path: splitting, mini-batches and X.out assembly."""

from __future__ import annotations

import struct

import pytest

from dockyard.control.transform_records import (
    RECORDIO_MAGIC,
    Batch,
    RecordTooLarge,
    SplitError,
    answer_lines,
    assemble,
    batches,
    count_records,
    split,
)

pytestmark = pytest.mark.unit


def recordio(payload: bytes, flag: int = 0) -> bytes:
    padding = b"\0" * (-len(payload) % 4)
    return struct.pack("<II", RECORDIO_MAGIC, (flag << 29) | len(payload)) + payload + padding


def tfrecord(payload: bytes) -> bytes:
    return struct.pack("<QI", len(payload), 0) + payload + struct.pack("<I", 0)


def test_line_split_yields_each_line_without_its_terminator() -> None:
    assert list(split(b"a,1\nb,2\r\nc,3", "Line")) == [b"a,1", b"b,2", b"c,3"]


def test_line_split_of_a_file_ending_in_newline_has_no_empty_last_record() -> None:
    assert list(split(b"a\nb\n", "Line")) == [b"a", b"b"]
    assert list(split(b"", "Line")) == []


def test_none_split_is_the_whole_file() -> None:
    assert list(split(b"a\nb\n", "None")) == [b"a\nb\n"]


def test_recordio_split_keeps_each_record_with_its_framing() -> None:
    first, second = recordio(b"abcde"), recordio(b"xy")
    assert list(split(first + second, "RecordIO")) == [first, second]


def test_recordio_record_over_several_frames_is_one_record() -> None:
    parts = recordio(b"ab", 1) + recordio(b"cd", 2) + recordio(b"ef", 3)
    single = recordio(b"z")
    assert list(split(parts + single, "RecordIO")) == [parts, single]


def test_recordio_without_magic_is_refused() -> None:
    with pytest.raises(SplitError, match="magic"):
        list(split(b"\0" * 12, "RecordIO"))


def test_tfrecord_split_keeps_length_and_crcs() -> None:
    first, second = tfrecord(b"one"), tfrecord(b"three")
    assert list(split(first + second, "TFRecord")) == [first, second]


def test_truncated_tfrecord_is_refused() -> None:
    with pytest.raises(SplitError, match="past the end"):
        list(split(tfrecord(b"one")[:-2], "TFRecord"))


def test_multi_record_packs_lines_up_to_the_payload_limit() -> None:
    records = [b"aaaa", b"bbbb", b"cccc", b"dddd", b"eeee"]  # 5 bytes each with newline
    made = list(batches(b"".join(r + b"\n" for r in records), "Line", "MultiRecord", 10))
    assert [(b.first, b.count) for b in made] == [(0, 2), (2, 2), (4, 1)]
    assert made[0].body == b"aaaa\nbbbb\n"


def test_single_record_sends_each_record_alone() -> None:
    made = list(batches(b"a\nb\nc", "Line", "SingleRecord", 100))
    assert [(b.first, b.records) for b in made] == [(0, [b"a"]), (1, [b"b"]), (2, [b"c"])]


def test_batches_resume_after_the_records_already_written() -> None:
    made = list(batches(b"a\nb\nc\nd\n", "Line", "MultiRecord", 100, start=3))
    assert [(b.first, b.records) for b in made] == [(3, [b"d"])]


def test_no_payload_limit_sends_the_rest_of_the_file_at_once() -> None:
    made = list(batches(b"a\n" * 1000, "Line", "MultiRecord", None))
    assert [(b.first, b.count) for b in made] == [(0, 1000)]


def test_a_record_larger_than_the_limit_is_named() -> None:
    with pytest.raises(RecordTooLarge) as raised:
        list(batches(b"a\n" + b"b" * 50, "Line", "MultiRecord", 10))
    assert raised.value.index == 1
    assert "record 2" in str(raised.value)


def test_framed_records_travel_back_to_back() -> None:
    batch = Batch.of(0, (tfrecord(b"a"), tfrecord(b"b")), "TFRecord")
    assert batch.body == tfrecord(b"a") + tfrecord(b"b")


def test_assemble_with_line_ends_each_answer_with_one_newline() -> None:
    assert assemble(b"1\n2", "Line") == b"1\n2\n"
    assert assemble(b"1\n2\n", "Line") == b"1\n2\n"
    assert assemble(b"1\n2", "None") == b"1\n2"


def test_answer_lines_reads_one_entry_per_record() -> None:
    assert answer_lines(b"x\ny\n") == [b"x", b"y"]


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
@pytest.mark.parametrize("data", [b"a,1\nbb,2\n\nccc,3", b"a,1\r\nbb,2\r\n\r\nccc,3\r\n"])
def test_lines_cut_from_the_file_and_lines_made_one_by_one_agree(
    data: bytes, strategy: str
) -> None:
    made = list(batches(data, "Line", strategy, 9))
    assert [r for b in made for r in b.records] == list(split(data, "Line"))
    assert [b.first for b in made] == [sum(b.count for b in made[:i]) for i in range(len(made))]
    assert all(len(b.body) <= 9 for b in made)


def test_counting_lines_agrees_with_splitting_them() -> None:
    for data in (b"", b"a", b"a\n", b"a\n\nb", b"a\r\nb\r\n"):
        assert count_records(data, "Line") == len(list(split(data, "Line")))


def test_recordio_batches_hold_whole_frames() -> None:
    frames = [recordio(b"x" * n) for n in (3, 5, 7)]
    made = list(batches(b"".join(frames), "RecordIO", "MultiRecord", 30))
    assert [b.records for b in made] == [frames[:2], frames[2:]]
