"""The default codecs: request bodies to numpy arrays, predictions to response bodies.

Decoders (``text/csv``, ``application/json``, ``application/x-npy``,
``application/x-npz``) and encoders (``text/csv``, ``application/json``,
``application/x-npy``) are the inference toolkit's set. Where the toolkit is lenient in
ways that turn a client mistake into a confusing model error, these are strict and say
what is wrong:

* CSV and JSON decode to float64 rows; a ragged row or a cell that is not a number is a
  400 naming the row (and column). An empty CSV cell is a missing value (NaN), as with
  ``numpy.genfromtxt``. Each CSV line is one row, also for one-column data.
  :func:`decode_quoted_csv` also reads quoted cells (the scikit-learn defaults use it).
* ``.npy``/``.npz`` bodies are loaded with ``allow_pickle=False``: a request body must
  never be able to run code in the server. An ``.npz`` holding a scipy sparse matrix
  (``scipy.sparse.save_npz``) decodes to that matrix, as in the toolkit; one holding a
  single array decodes to the array.
* CSV output writes one line per row (a 1-D prediction gives one value per line), values
  as ``str`` prints them, like the toolkit's ``numpy.savetxt(fmt='%s')``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from dockyard.runtime.serve.errors import BadRequestError
from dockyard.runtime.serve.media import CSV, JSON, NPY, NPZ

_SPARSE_NPZ_KEYS = frozenset({"format", "shape", "data", "indices", "indptr"})
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def decode_csv(body: bytes | str) -> np.ndarray:
    """Comma-separated numbers, one row per line, to a 2-D float64 array."""
    return _decode_csv(_text(body, "CSV"), quoted=False)


def decode_quoted_csv(body: bytes | str) -> np.ndarray:
    """As :func:`decode_csv`, with cells read as Python's ``csv`` module reads them: a
    quoted cell (``"5.1"``) is the number inside, as in the scikit-learn container."""
    text = _text(body, "CSV")
    return _decode_csv(text, quoted='"' in text)


def _decode_csv(text: str, quoted: bool) -> np.ndarray:
    numbered = _csv_rows(text) if quoted else _split_rows(text)
    if not numbered:
        raise BadRequestError("the CSV body holds no rows")
    rows = [row for _, row in numbered]
    width = len(rows[0])
    for row in rows:
        if len(row) != width:
            _explain_rows(rows, "CSV", [number for number, _ in numbered])
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        return _csv_with_missing_values(numbered)


def _split_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank line, split at every comma (the fast path)."""
    return [
        (number, line.split(","))
        for number, line in enumerate(text.splitlines(), 1)
        if line and not line.isspace()
    ]


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank record, quotes honoured; 400 when malformed."""
    reader = csv.reader(io.StringIO(text), delimiter=",", quotechar='"', strict=True)
    rows = []
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise BadRequestError(f"CSV line {reader.line_num}: {exc}") from None
    return rows


def decode_json(body: bytes | str) -> np.ndarray:
    """A JSON array of numbers (one row) or of equal-length arrays (rows) to float64."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise BadRequestError(
            f"expected a JSON array of numbers or of rows, got a JSON {_json_kind(data)}"
        )
    if not data:
        raise BadRequestError("the JSON array is empty")
    try:
        array = np.array(data, dtype=np.float64)
    except (ValueError, TypeError):
        _explain_rows(data if isinstance(data[0], list) else [data], "JSON")
    if array.ndim > 2:
        raise BadRequestError(f"expected rows of numbers (2 dimensions), got {array.ndim}")
    return array


def decode_npy(body: bytes | str) -> np.ndarray:
    """One array in NumPy's ``.npy`` format."""
    loaded = _np_load(body, ".npy")
    if not isinstance(loaded, np.ndarray):
        raise BadRequestError("the body is an .npz archive; send it as application/x-npz")
    return loaded


def decode_npz(body: bytes | str) -> Any:
    """An ``.npz`` archive: a scipy sparse matrix, or the single array it holds."""
    archive = _np_load(body, ".npz")
    if isinstance(archive, np.ndarray):
        raise BadRequestError("the body is an .npy array; send it as application/x-npy")
    with archive:
        names = list(archive.files)
        if _SPARSE_NPZ_KEYS.issubset(names):
            import scipy.sparse  # noqa: PLC0415 - only sparse bodies need scipy

            return scipy.sparse.load_npz(io.BytesIO(_bytes(body)))
        if len(names) != 1:
            raise BadRequestError(
                f"the .npz archive holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                "send exactly one, or a sparse matrix saved with scipy.sparse.save_npz"
            )
        return archive[names[0]]


def encode_json(prediction: Any) -> bytes:
    """A JSON document: arrays become nested lists."""
    if type(prediction) is np.ndarray:
        return json.dumps(prediction.tolist()).encode()
    return json.dumps(prediction, default=_jsonable).encode()


def encode_csv(prediction: Any) -> bytes:
    """One line per row; a 1-D prediction gives one value per line."""
    array = _dense(prediction)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim > 2:
        raise ValueError(f"a {array.ndim}-dimensional prediction cannot be written as CSV")
    if array.dtype.kind == "f" and array.dtype.itemsize < 8:
        array = array.astype(str)  # float32 prints shortest as float32, not as a double
    values = array.tolist()
    if array.ndim == 1:
        lines = [str(value) for value in values]
    else:
        lines = [",".join([str(value) for value in row]) for row in values]
    return ("\n".join(lines) + "\n").encode()


def encode_npy(prediction: Any) -> bytes:
    """NumPy's ``.npy`` format."""
    buffer = io.BytesIO()
    np.save(buffer, _dense(prediction))
    return buffer.getvalue()


DECODERS: dict[str, Callable[[bytes | str], Any]] = {
    CSV: decode_csv,
    JSON: decode_json,
    NPY: decode_npy,
    NPZ: decode_npz,
}
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    JSON: encode_json,
    CSV: encode_csv,
    NPY: encode_npy,
}


def _text(body: bytes | str, what: str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"the {what} body is not UTF-8 text: {exc}") from None


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _np_load(body: bytes | str, what: str) -> Any:
    data = _bytes(body)
    if not data.startswith((_NPY_MAGIC, _ZIP_MAGIC)):
        raise BadRequestError(f"the body is not a {what} file (it lacks the format's header)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise BadRequestError(
                f"the {what} body holds Python objects, which are not accepted "
                "(loading them could run code); send numeric arrays"
            ) from None
        raise BadRequestError(f"the body is not a valid {what} file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise BadRequestError(f"the body is not a valid {what} file: {exc}") from None


def _csv_with_missing_values(numbered: list[tuple[int, list[str]]]) -> np.ndarray:
    """Second pass for CSV the fast path refused: empty cells become NaN, else explain."""
    rows: list[list[float]] = []
    for number, cells in numbered:
        row: list[float] = []
        for column, cell in enumerate(cells, 1):
            if not cell.strip():
                row.append(float("nan"))
                continue
            try:
                row.append(float(cell))
            except ValueError:
                raise BadRequestError(
                    f"CSV row {number}, column {column}: {_shorten(cell)!r} is not a number"
                ) from None
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def _explain_rows(rows: Sequence[Any], what: str, numbers: Sequence[int] = ()) -> NoReturn:
    """Raise BadRequest for the first ragged row or non-numeric cell in ``rows``."""
    width = None
    for index, row in enumerate(rows):
        number = numbers[index] if numbers else index + 1
        if not isinstance(row, list):
            raise BadRequestError(
                f"{what} row {number} is a {_json_kind(row)}; expected an array of numbers"
            )
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise BadRequestError(f"{what} row {number} has {len(row)} values, expected {width}")
        for column, cell in enumerate(row, 1):
            if not _is_number(cell):
                raise BadRequestError(
                    f"{what} row {number}, column {column}: {_shorten(cell)!r} is not a number"
                )
    raise BadRequestError(f"the {what} body could not be read as rows of numbers")


def _is_number(cell: Any) -> bool:
    if isinstance(cell, bool):
        return True
    if isinstance(cell, int | float):
        return True
    if isinstance(cell, str):
        try:
            float(cell)
        except ValueError:
            return False
        return True
    return cell is None


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", str: "string", bool: "boolean", list: "array"}
    if value is None:
        return "null"
    return kinds.get(type(value), "number")


def _shorten(value: Any, limit: int = 40) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return value


def _dense(prediction: Any) -> np.ndarray:
    if hasattr(prediction, "toarray"):  # scipy sparse
        prediction = prediction.toarray()
    return np.asarray(prediction)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "toarray"):
        value = value.toarray()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")
