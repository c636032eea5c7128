"""DataProcessing: InputFilter, JoinSource and OutputFilter on each record (pure).

As SageMaker defines them ("Associate Prediction Results with Input Records"):

* ``InputFilter`` picks, from each input record, what is sent to the model: a CSV
  record is an array of its columns (``$[1:]`` drops an id column), a JSON record is
  its decoded value (``$.features``);
* ``JoinSource: Input`` joins each *original* input record with its answer: a JSON
  object gets the answer as member ``SageMakerOutput``, a JSON array gets it appended,
  a CSV row gets the answer's columns appended;
* ``OutputFilter`` picks from the joined record (or, without a join, from the answer)
  what is written (``$['id','SageMakerOutput']``, ``$[0,-1]``).

The format of input records follows TransformInput.ContentType, that of answers
TransformOutput.Accept (CSV when the type names csv, JSON when it names json). With
the defaults (``$``, ``None``, ``$``) records pass through untouched, byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from dockyard.control.jsonpath import JsonPath, JsonPathError, parse, select

JOINED_MEMBER = "SageMakerOutput"


class FilterError(ValueError):
    """A record the filters cannot read or select from; the message says why."""


def data_format(content_type: str | None) -> str | None:
    """``csv``, ``json`` or None (a format the filters cannot read)."""
    kind = (content_type or "").lower()
    if "csv" in kind:
        return "csv"
    if "json" in kind:
        return "json"
    return None


@dataclass(frozen=True)
class RecordFilters:
    input_filter: JsonPath
    output_filter: JsonPath
    join: bool
    input_format: str | None
    output_format: str | None

    @property
    def passthrough(self) -> bool:
        """Nothing to do: answers are written as they come."""
        return self.input_filter.is_root and self.output_filter.is_root and not self.join

    @property
    def per_record_output(self) -> bool:
        """Answers must be read record by record (one line per input record)."""
        return self.join or not self.output_filter.is_root


def record_filters(
    input_filter: str,
    output_filter: str,
    join_source: str,
    content_type: str | None,
    accept: str | None,
) -> RecordFilters:
    """The job's filters; FilterError when a filter needs a format it cannot read."""
    try:
        filters = RecordFilters(
            parse(input_filter or "$"),
            parse(output_filter or "$"),
            join_source == "Input",
            data_format(content_type),
            data_format(accept) or data_format(content_type),
        )
    except JsonPathError as error:
        raise FilterError(str(error)) from None
    if not filters.input_filter.is_root and filters.input_format is None:
        raise FilterError(
            f"InputFilter needs CSV or JSON input; ContentType is {content_type or 'not set'}"
        )
    if filters.per_record_output and (filters.input_format or filters.output_format) is None:
        raise FilterError("JoinSource and OutputFilter need CSV or JSON records")
    return filters


def filter_input(filters: RecordFilters, record: bytes) -> bytes:
    """What the model gets of ``record``."""
    if filters.input_filter.is_root:
        return record
    value = _decode(record, filters.input_format, "input")
    return _encode(_select(filters.input_filter, value), filters.input_format)


def filter_output(filters: RecordFilters, record: bytes, answer: bytes) -> bytes:
    """What is written for ``record`` given the model's ``answer`` to it (one line)."""
    if filters.join:
        joined, fmt = _join(filters, record, answer)
    else:
        fmt = filters.output_format
        joined = _decode(answer, fmt, "output")
    return _encode(_select(filters.output_filter, joined), fmt)


def _join(filters: RecordFilters, record: bytes, answer: bytes) -> tuple[Any, str | None]:
    source = _decode(record, filters.input_format, "input")
    if filters.input_format == "json":
        output: Any = answer.decode("utf-8", "replace")
        if filters.output_format == "json":
            output = _decode(answer, "json", "output")
        if isinstance(source, dict):
            return {**source, JOINED_MEMBER: output}, "json"
        if isinstance(source, list):
            return [*source, output], "json"
        raise FilterError("JoinSource Input needs JSON objects or arrays as input records")
    columns: list[Any] = [answer.decode("utf-8", "replace")]
    if filters.output_format == "csv":
        columns = _decode(answer, "csv", "output")
    return [*source, *columns], "csv"


def _select(path: JsonPath, value: Any) -> Any:
    try:
        return select(path, value)
    except JsonPathError as error:
        raise FilterError(str(error)) from None


def _decode(data: bytes, fmt: str | None, what: str) -> Any:
    text = data.decode("utf-8", "replace")
    if fmt == "csv":
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except ValueError:
        raise FilterError(f"the {what} record is not JSON: {text[:80]!r}") from None


def _encode(value: Any, fmt: str | None) -> bytes:
    if fmt == "csv":
        row = value if isinstance(value, list) else [value]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            [json.dumps(v) if isinstance(v, dict | list) else v for v in row]
        )
        return out.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()
