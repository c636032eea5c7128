"""`dockyard transform`'s options become a CreateTransformJob request SageMaker accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.cli.transform_cmd import _request_from_options
from dockyard.errors import SpecError
from dockyard.spec.transform_job import parse_transform_job

pytestmark = pytest.mark.unit


def options(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "content_type": "text/csv",
        "accept": None,
        "split_type": "Line",
        "compression": "None",
        "strategy": "MultiRecord",
        "max_payload_mb": 6,
        "max_concurrent": 2,
        "assemble_with": "Line",
        "instances": 2,
        "input_filter": None,
        "output_filter": None,
        "join_source": None,
        "env": {},
    }
    values.update(changes)
    return values


def test_options_make_a_request_that_validates(tmp_path: Path) -> None:
    request = _request_from_options(
        "score", "my-image:1", None, None, str(tmp_path / "in"), "s3://data/out/", options()
    )
    spec = parse_transform_job(request)
    assert spec.transform_input.data_source.s3_data_source.s3_uri == (tmp_path / "in").as_uri()
    assert spec.transform_output.s3_output_path == "s3://data/out/"
    assert (spec.max_payload_in_mb, spec.max_concurrent_transforms) == (6, 2)
    assert spec.batch_strategy == "MultiRecord"
    assert spec.transform_resources.instance_count == 2
    assert spec.container is not None and spec.container.image == "my-image:1"
    assert spec.model_name == "score"  # an image is no model name: the job's own


def test_a_model_name_is_sent_as_the_model_name(tmp_path: Path) -> None:
    request = _request_from_options("score", "iris", None, None, "/in", "/out", options())
    assert request["ModelName"] == "iris"


def test_filters_are_sent_only_when_given() -> None:
    plain = _request_from_options("score", "iris", None, None, "/in", "/out", options())
    assert "DataProcessing" not in plain
    joined = _request_from_options(
        "score", "iris", None, None, "/in", "/out",
        options(input_filter="$[1:]", join_source="Input"),
    )  # fmt: skip
    assert joined["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input"}


@pytest.mark.parametrize(
    ("model", "framework", "data", "source", "field"),
    [
        ("iris", None, None, None, "--input"),
        (None, None, None, "/in", "--model/--framework"),
        ("iris", "sklearn", None, "/in", "--model/--framework"),
        (None, "sklearn", None, "/in", "--model-data"),
    ],
)
def test_missing_or_clashing_options_name_the_option(
    model: str | None, framework: str | None, data: str | None, source: str | None, field: str
) -> None:
    with pytest.raises(SpecError) as raised:
        _request_from_options("score", model, framework, data, source, "/out", options())
    assert raised.value.field == field
