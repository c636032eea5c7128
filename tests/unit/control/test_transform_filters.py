"""DataProcessing: JSONPath as batch transform speaks it, filters and joins."""

from __future__ import annotations

import pytest

from dockyard.control.jsonpath import JsonPathError, parse, select
from dockyard.control.transform_filters import (
    FilterError,
    filter_input,
    filter_output,
    record_filters,
)

pytestmark = pytest.mark.unit

RECORD = {"id": 7, "features": [1, 2, 3], "meta": {"source": "a"}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", RECORD),
        ("$.id", 7),
        ("$.meta.source", "a"),
        ("$['id','features']", {"id": 7, "features": [1, 2, 3]}),
        ("$.features[1:]", [2, 3]),
        ("$.features[0,2]", [1, 3]),
        ("$.features[-1]", 3),
        ("$.features[*]", [1, 2, 3]),
    ],
)
def test_selects_what_aws_documents(path: str, expected: object) -> None:
    assert select(parse(path), RECORD) == expected


def test_indexes_and_slices_mix_in_one_bracket() -> None:
    assert select(parse("$[0,5:]"), list("abcdefg")) == ["a", "f", "g"]


@pytest.mark.parametrize("path", ["features", "$.", "$[1", "$[x]", "$..id"])
def test_unreadable_paths_are_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse(path)


def test_selecting_what_the_record_lacks_is_an_error() -> None:
    with pytest.raises(JsonPathError, match="outside"):
        select(parse("$[5]"), [1, 2])
    with pytest.raises(JsonPathError, match="no member"):
        select(parse("$.nope"), RECORD)


def test_defaults_pass_records_through_untouched() -> None:
    filters = record_filters("$", "$", "None", "text/csv", None)
    assert filters.passthrough
    assert filter_input(filters, b" raw , bytes") == b" raw , bytes"


def test_csv_input_filter_drops_the_id_column() -> None:
    filters = record_filters("$[1:]", "$", "None", "text/csv", "text/csv")
    assert filter_input(filters, b"17,5.1,3.5") == b"5.1,3.5"


def test_csv_join_appends_the_answer_and_output_filter_keeps_id_and_answer() -> None:
    filters = record_filters("$[1:]", "$[0,-1]", "Input", "text/csv", "text/csv")
    assert filter_output(filters, b"17,5.1,3.5", b"setosa") == b"17,setosa"


def test_json_join_adds_sagemaker_output_and_output_filter_picks_members() -> None:
    filters = record_filters(
        "$.features", "$['id','SageMakerOutput']", "Input", "application/json", "application/json"
    )
    assert filter_input(filters, b'{"id": 1, "features": [1, 2]}') == b"[1,2]"
    written = filter_output(filters, b'{"id": 1, "features": [1, 2]}', b"[0.9]")
    assert written == b'{"id":1,"SageMakerOutput":[0.9]}'


def test_json_array_input_gets_the_answer_appended() -> None:
    filters = record_filters("$", "$", "Input", "application/json", "application/json")
    assert filter_output(filters, b"[1,2]", b"3") == b"[1,2,3]"


def test_filters_on_a_format_they_cannot_read_are_refused() -> None:
    with pytest.raises(FilterError, match="CSV or JSON"):
        record_filters("$[1:]", "$", "None", "application/x-npy", None)


def test_a_record_without_the_selected_column_fails() -> None:
    filters = record_filters("$[3]", "$", "None", "text/csv", None)
    with pytest.raises(FilterError, match="outside"):
        filter_input(filters, b"1,2")
