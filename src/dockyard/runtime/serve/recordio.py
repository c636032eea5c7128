"""``application/x-recordio-protobuf``: SageMaker's RecordIO-wrapped protobuf records.

The format of the built-in algorithms and of the SageMaker SDK's
``write_numpy_to_dense_tensor`` / ``write_spmatrix_to_sparse_tensor``. Each record is
framed as RecordIO (little-endian ``uint32`` magic ``0xced7230a``, ``uint32`` whose low
29 bits are the payload length, the payload, zero padding to 4 bytes) and holds one
``aialgs.data.Record`` protobuf message::

    Record        { map<string, Value> features = 1; map<string, Value> label = 2; ... }
    Value         { oneof { Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
                            Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    *Tensor       { repeated <number> values = 1; repeated uint64 keys = 2;
                    repeated uint64 shape = 3; }   (packed)

A record's row is its ``values`` feature: dense when it has no keys, else sparse with
``keys`` as column indices and ``shape[0]`` as the width. Labels are ignored, as at
inference. The protobuf wire format is read here directly (a few dozen lines), so the
image needs no protobuf library.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from dockyard.runtime.serve.errors import BadRequestError

MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
_FEATURES, _VALUES_KEY, _VALUE_TENSORS = 1, "values", {2: "<f4", 3: "<f8", 7: "int32"}


class _Malformed(ValueError):
    """The bytes do not follow the format; turned into a 400 naming the record."""


def decode_recordio_protobuf(body: bytes | str) -> Any:
    """The records' ``values`` features as rows: a 2-D array, or a CSR matrix if any is sparse."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    rows: list[tuple[np.ndarray, np.ndarray | None, int]] = []
    for number, payload in enumerate(_frames(data), 1):
        try:
            rows.append(_row(payload))
        except (_Malformed, IndexError, struct.error, UnicodeDecodeError) as exc:
            raise BadRequestError(f"RecordIO-protobuf record {number}: {exc}") from None
    if not rows:
        raise BadRequestError("the RecordIO-protobuf body holds no records")
    if all(keys is None for _, keys, _ in rows):
        widths = {len(values) for values, _, _ in rows}
        if len(widths) != 1:
            raise BadRequestError(
                f"the dense records have different lengths ({', '.join(map(str, sorted(widths)))})"
            )
        return np.vstack([values for values, _, _ in rows]).astype(np.float64)
    return _sparse(rows)


def _frames(data: bytes) -> list[bytes]:
    payloads = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise BadRequestError("the RecordIO-protobuf body ends inside a record header")
        magic, header = struct.unpack_from("<II", data, offset)
        if magic != MAGIC:
            raise BadRequestError(
                f"not RecordIO at byte {offset}: expected the magic number 0xced7230a"
            )
        length = header & _LENGTH_MASK
        start = offset + 8
        if start + length > len(data):
            raise BadRequestError(f"a RecordIO record at byte {offset} runs past the body's end")
        payloads.append(data[start : start + length])
        offset = start + length + (-length % 4)
    return payloads


def _row(record: bytes) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(values, keys or None, width) of the record's ``values`` feature."""
    for field, wire, entry in _fields(record):
        if field != _FEATURES or wire != 2:
            continue
        key, value = "", b""
        for entry_field, entry_wire, part in _fields(entry):
            if entry_field == 1 and entry_wire == 2:
                key = bytes(part).decode("utf-8")
            elif entry_field == 2 and entry_wire == 2:
                value = bytes(part)
        if key == _VALUES_KEY:
            return _tensor(value)
    raise _Malformed("it has no 'values' feature")


def _tensor(value: bytes) -> tuple[np.ndarray, np.ndarray | None, int]:
    for field, wire, tensor in _fields(value):
        dtype = _VALUE_TENSORS.get(field)
        if dtype is None or wire != 2:
            continue
        values: list[Any] = []
        keys: list[int] = []
        shape: list[int] = []
        for tensor_field, tensor_wire, part in _fields(tensor):
            if tensor_field == 1:
                values += _numbers(tensor_wire, part, dtype)
            elif tensor_field == 2:
                keys += _numbers(tensor_wire, part, "uint64")
            elif tensor_field == 3:
                shape += _numbers(tensor_wire, part, "uint64")
        array = np.asarray(values, dtype=np.float64)
        if not keys:
            return array, None, len(array)
        if len(keys) != len(array):
            raise _Malformed(f"{len(keys)} keys for {len(array)} values")
        width = int(shape[0]) if shape else max(keys) + 1
        return array, np.asarray(keys, dtype=np.int64), width
    raise _Malformed("its 'values' feature is not a Float32, Float64 or Int32 tensor")


def _numbers(wire: int, part: Any, dtype: str) -> list[Any]:
    """A repeated numeric field, packed (length-delimited) or one element at a time."""
    if dtype in ("<f4", "<f8"):
        raw = bytes(part) if wire == 2 else part
        numbers: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
        return numbers
    if wire == 2:
        found, offset, data = [], 0, bytes(part)
        while offset < len(data):
            number, offset = _varint(data, offset)
            found.append(number)
        varints = found
    else:
        varints = [part]
    if dtype == "int32":
        return [n - (1 << 64) if n >= 1 << 63 else n for n in varints]
    return varints


def _fields(message: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, payload) of each field of a protobuf message."""
    found: list[tuple[int, int, Any]] = []
    offset = 0
    data = bytes(message)
    while offset < len(data):
        tag, offset = _varint(data, offset)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            number, offset = _varint(data, offset)
            found.append((field, wire, number))
        elif wire == 1:
            found.append((field, wire, data[offset : offset + 8]))
            offset += 8
        elif wire == 2:
            length, offset = _varint(data, offset)
            if offset + length > len(data):
                raise _Malformed("a field runs past the end of its message")
            found.append((field, wire, data[offset : offset + length]))
            offset += length
        elif wire == 5:
            found.append((field, wire, data[offset : offset + 4]))
            offset += 4
        else:
            raise _Malformed(f"wire type {wire} is not protobuf's")
    return found


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7
        if shift > 63:
            raise _Malformed("a varint is longer than 10 bytes")


def _sparse(rows: list[tuple[np.ndarray, np.ndarray | None, int]]) -> Any:
    import scipy.sparse  # noqa: PLC0415 - scipy comes with the framework

    width = max(w for _, _, w in rows)
    data, indices, indptr = [], [], [0]
    for values, keys, _ in rows:
        columns = keys if keys is not None else np.arange(len(values))
        if len(columns) and int(columns.max()) >= width:
            raise BadRequestError(f"a sparse record has a key beyond its shape ({width})")
        data.append(values)
        indices.append(columns)
        indptr.append(indptr[-1] + len(values))
    return scipy.sparse.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)),
        shape=(len(rows), width),
    )
