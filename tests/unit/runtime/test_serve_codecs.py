"""The default codecs and Accept negotiation, in-process."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import scipy.sparse

from dockyard.runtime.serve.codecs import (
    decode_csv,
    decode_json,
    decode_npy,
    decode_npz,
    encode_csv,
    encode_json,
    encode_npy,
)
from dockyard.runtime.serve.errors import BadRequestError
from dockyard.runtime.serve.media import (
    CSV,
    JSON,
    NPY,
    AcceptNegotiator,
    media_type,
    parse_accept,
)

pytestmark = pytest.mark.unit


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_csv_one_row_decodes_to_one_row_matrix() -> None:
    decoded = decode_csv(b"5.1,3.5,1.4,0.2\n")
    assert decoded.shape == (1, 4)
    assert decoded.tolist() == [[5.1, 3.5, 1.4, 0.2]]


def test_csv_lines_are_rows_and_crlf_and_blank_lines_are_tolerated() -> None:
    decoded = decode_csv("1,2\r\n\r\n3, 4 \r\n")
    assert decoded.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_csv_single_column_keeps_one_value_per_row() -> None:
    assert decode_csv(b"1\n2\n3").shape == (3, 1)


def test_csv_ragged_row_names_row_and_counts() -> None:
    with pytest.raises(BadRequestError, match="CSV row 3 has 5 values, expected 4"):
        decode_csv(b"1,2,3,4\n5,6,7,8\n1,2,3,4,5\n")


def test_csv_non_numeric_cell_names_row_and_column() -> None:
    with pytest.raises(BadRequestError, match=r"CSV row 2, column 3: 'abc' is not a number"):
        decode_csv(b"1,2,3\n4,5,abc\n")


def test_csv_header_row_is_reported_as_non_numeric() -> None:
    with pytest.raises(BadRequestError, match="row 1, column 1: 'sepal_length'"):
        decode_csv(b"sepal_length,sepal_width\n1,2\n")


def test_csv_empty_cell_is_a_missing_value() -> None:
    decoded = decode_csv(b"1,,3\n")
    assert decoded[0, 0] == 1.0
    assert np.isnan(decoded[0, 1])


def test_csv_empty_body_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="no rows"):
        decode_csv(b"\n \n")


def test_csv_body_that_is_not_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="not UTF-8"):
        decode_csv(b"\xff\xfe1,2")


def test_json_flat_list_and_rows_decode() -> None:
    assert decode_json(b"[1, 2.5]").tolist() == [1.0, 2.5]
    assert decode_json(b"[[1, 2], [3, 4]]").shape == (2, 2)


def test_json_ragged_rows_name_the_row() -> None:
    with pytest.raises(BadRequestError, match="JSON row 2 has 1 values, expected 2"):
        decode_json(b"[[1, 2], [3]]")


def test_json_non_numeric_value_names_row_and_column() -> None:
    with pytest.raises(BadRequestError, match=r"JSON row 1, column 2: 'x' is not a number"):
        decode_json(b'[[1, "x"]]')


def test_json_object_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="got a JSON object"):
        decode_json(b'{"instances": [1, 2]}')


def test_json_syntax_error_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="not valid JSON"):
        decode_json(b"[[1, 2]")


def test_npy_round_trips() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    decoded = decode_npy(_npy(array))
    assert decoded.dtype == np.float32
    assert np.array_equal(decoded, array)


def test_npy_with_pickled_objects_is_refused() -> None:
    with pytest.raises(BadRequestError, match="Python objects"):
        decode_npy(_npy(np.array([{"a": 1}], dtype=object)))


def test_npy_garbage_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match=r"not a \.npy file"):
        decode_npy(b"not an array")


def test_npz_with_one_array_decodes_to_it() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, features=np.ones((2, 2)))
    assert decode_npz(buffer.getvalue()).tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_npz_with_sparse_matrix_decodes_to_sparse() -> None:
    matrix = scipy.sparse.csr_matrix(np.eye(3))
    buffer = io.BytesIO()
    scipy.sparse.save_npz(buffer, matrix)
    decoded = decode_npz(buffer.getvalue())
    assert scipy.sparse.issparse(decoded)
    assert np.array_equal(decoded.toarray(), np.eye(3))


def test_npz_with_several_arrays_is_a_bad_request() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones(1), b=np.ones(1))
    with pytest.raises(BadRequestError, match="holds 2 arrays"):
        decode_npz(buffer.getvalue())


def test_encode_json_writes_lists() -> None:
    assert json.loads(encode_json(np.array([0, 2]))) == [0, 2]
    assert json.loads(encode_json({"p": np.float64(0.5)})) == {"p": 0.5}


def test_encode_csv_writes_one_line_per_row() -> None:
    assert encode_csv(np.array([0, 2])) == b"0\n2\n"
    assert encode_csv(np.array([[0.5, 1.0], [2.0, 3.0]])) == b"0.5,1.0\n2.0,3.0\n"
    assert encode_csv(np.array([0.1], dtype=np.float32)) == b"0.1\n"
    assert encode_csv(np.array(["setosa"])) == b"setosa\n"


def test_encode_npy_round_trips() -> None:
    assert np.load(io.BytesIO(encode_npy(np.array([1, 2])))).tolist() == [1, 2]


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Text/CSV; charset=utf-8") == CSV


def test_parse_accept_reads_weights() -> None:
    assert parse_accept("text/csv;q=0.5, */*") == [("text/csv", 0.5), ("*/*", 1.0)]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("text/csv", CSV),
        ("application/json;q=0.2, text/csv;q=0.9", CSV),
        ("image/png, application/x-npy;q=0.1", NPY),
        ("*/*", JSON),
        ("text/*", CSV),
        ("application/*", JSON),
        ("application/json;q=0, */*", CSV),
        ("image/png", None),
        ("text/csv;q=0", None),
    ],
)
def test_accept_negotiation(accept: str, chosen: str | None) -> None:
    negotiator = AcceptNegotiator((JSON, CSV, NPY), JSON)
    assert negotiator.choose(accept) == chosen
