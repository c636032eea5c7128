"""Batch transform's data path: split a file into records, group them into requests,
assemble the answers into ``X.out`` (pure).

* **split** (TransformInput.SplitType): ``None`` — the whole file is one record;
  ``Line`` — one record per line (``\\n`` or ``\\r\\n``; a last line without newline
  counts, an empty file has none); ``RecordIO`` — MXNet RecordIO frames (magic
  ``0xced7230a``, a length word whose top 3 bits continue a record over several
  frames, data padded to 4 bytes), each logical record kept with its framing;
  ``TFRecord`` — ``uint64 length, uint32 crc, data, uint32 crc`` frames, kept whole
  (the CRCs are not checked: the container reading them does).
* **batch** (BatchStrategy): ``MultiRecord`` packs as many records in input order as
  fit in MaxPayloadInMB; ``SingleRecord`` sends each alone. Line records travel as
  lines (each with its ``\\n``), framed records with their framing. A record larger
  than the payload limit cannot be sent: :class:`RecordTooLarge`.
* **assemble** (TransformOutput.AssembleWith): ``Line`` ends each answer with a
  newline (unless it has one), ``None`` writes answers back to back.

Records are numbered from 0 in file order; a Line record ``i`` is line ``i + 1``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

RECORDIO_MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1


class SplitError(ValueError):
    """The file is not framed the way its SplitType says."""


class RecordTooLarge(ValueError):
    def __init__(self, index: int, size: int, limit: int) -> None:
        super().__init__(
            f"record {index + 1} is {size} bytes, more than MaxPayloadInMB allows ({limit} bytes)"
        )
        self.index = index


@dataclass(frozen=True)
class Batch:
    """Records ``first`` .. ``first + count - 1`` of one file, as one request ``body``."""

    first: int
    count: int
    body: bytes
    split_type: str

    @property
    def records(self) -> list[bytes]:
        """The records again, one by one (for filters, joins and naming a failed one)."""
        return list(split(self.body, self.split_type))

    @classmethod
    def of(cls, first: int, records: Sequence[bytes], split_type: str) -> Batch:
        return cls(first, len(records), encode(records, split_type), split_type)


def encode(records: Sequence[bytes], split_type: str) -> bytes:
    """Records as one request body: lines end with a newline, frames go back to back."""
    if split_type == "Line":
        return b"".join(record + b"\n" for record in records)
    return b"".join(records)


def split(data: bytes, split_type: str) -> Iterator[bytes]:
    """The records of one input file, in order."""
    if split_type == "Line":
        yield from _lines(data)
    elif split_type == "RecordIO":
        yield from _recordio(data)
    elif split_type == "TFRecord":
        yield from _tfrecord(data)
    else:
        yield data


def _lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        line = data[start:end]
        yield line[:-1] if line.endswith(b"\r") else line
        start = end + 1


def _recordio(data: bytes) -> Iterator[bytes]:
    at, begun = 0, None
    while at < len(data):
        if at + 8 > len(data):
            raise SplitError(f"RecordIO: a truncated header at byte {at}")
        magic, word = struct.unpack_from("<II", data, at)
        if magic != RECORDIO_MAGIC:
            raise SplitError(f"RecordIO: no record magic at byte {at}")
        flag, length = word >> 29, word & _LENGTH_MASK
        end = at + 8 + length + (-length % 4)
        if at + 8 + length > len(data):
            raise SplitError(f"RecordIO: the record at byte {at} runs past the end of the file")
        if flag in (0, 1):
            begun = at
        if begun is None:
            raise SplitError(f"RecordIO: a continuation frame at byte {at} with no start")
        if flag in (0, 3):
            yield data[begun:end]
            begun = None
        at = end
    if begun is not None:
        raise SplitError("RecordIO: the last record is never finished")


def _tfrecord(data: bytes) -> Iterator[bytes]:
    at = 0
    while at < len(data):
        if at + 12 > len(data):
            raise SplitError(f"TFRecord: a truncated header at byte {at}")
        (length,) = struct.unpack_from("<Q", data, at)
        end = at + 12 + length + 4
        if end > len(data):
            raise SplitError(f"TFRecord: the record at byte {at} runs past the end of the file")
        yield data[at:end]
        at = end


def count_records(data: bytes, split_type: str) -> int:
    """How many records ``split`` yields, without making them where it can."""
    if split_type == "Line":
        return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return sum(1 for _ in split(data, split_type))


def batches(
    data: bytes,
    split_type: str,
    strategy: str,
    max_bytes: int | None,
    *,
    start: int = 0,
) -> Iterator[Batch]:
    """Requests in input order, from record ``start`` on (the records before are skipped).

    ``max_bytes`` None means no limit: MultiRecord then sends the rest of the file at once.
    Lines without a carriage return are cut straight out of ``data`` (each request is a
    slice of the file, found with a search for its last newline); the rest go record by
    record.
    """
    if split_type == "Line" and b"\r" not in data:
        yield from _line_slices(data, strategy, max_bytes, start)
        return
    newline = 1 if split_type == "Line" else 0
    pending: list[bytes] = []
    size, first = 0, start
    for index, record in enumerate(split(data, split_type)):
        if index < start:
            continue
        cost = len(record) + newline
        if max_bytes is not None and cost > max_bytes:
            raise RecordTooLarge(index, cost, max_bytes)
        full = max_bytes is not None and size + cost > max_bytes
        if pending and (strategy == "SingleRecord" or full):
            yield Batch.of(first, pending, split_type)
            pending, size, first = [], 0, index
        pending.append(record)
        size += cost
    if pending:
        yield Batch.of(first, pending, split_type)


def _line_slices(data: bytes, strategy: str, max_bytes: int | None, start: int) -> Iterator[Batch]:
    at = 0
    for _ in range(start):  # skip the lines already written
        at = data.find(b"\n", at) + 1
        if at == 0:
            return
    if not data.endswith(b"\n") and data:
        data += b"\n"  # the last line travels with its newline like the others
    index = start
    while at < len(data):
        if strategy == "SingleRecord":
            end = data.index(b"\n", at) + 1
        elif max_bytes is None:
            end = len(data)
        else:
            end = data.rfind(b"\n", at, at + max_bytes) + 1
            if end == 0:  # not even one whole line fits
                size = data.index(b"\n", at) + 1 - at
                raise RecordTooLarge(index, size, max_bytes)
        if max_bytes is not None and end - at > max_bytes:
            raise RecordTooLarge(index, end - at, max_bytes)
        body = data[at:end]
        count = body.count(b"\n")
        yield Batch(index, count, body, "Line")
        index += count
        at = end


def assemble(answer: bytes, assemble_with: str) -> bytes:
    """One answer as it is written to ``X.out``."""
    if assemble_with == "Line" and not answer.endswith(b"\n"):
        return answer + b"\n"
    return answer


def answer_lines(answer: bytes) -> list[bytes]:
    """An answer to a Line batch, one entry per line (for joins and output filters)."""
    return list(_lines(answer))
