"""From pydantic's failures to one SpecError with a JSON path, a message and a fix."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from dockyard.spec.errors import (
    SpecValueError,
    did_you_mean,
    format_path,
    spec_error,
)
from dockyard.spec.fields import Bool, Float, Int, in_range

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("family",), "family"),
        (
            ("containerDefinitions", 0, "portMappings", 1, "containerPort"),
            "containerDefinitions[0].portMappings[1].containerPort",
        ),
        (("HyperParameters", "learning-rate"), "HyperParameters.learning-rate"),
        (("Environment", "1BAD"), 'Environment["1BAD"]'),
        (("HyperParameters", "a b"), 'HyperParameters["a b"]'),
        (("Environment", "x", "[key]"), "Environment.x"),
        ((0, "name"), "[0].name"),
        ((), ""),
    ],
)
def test_locations_become_json_paths(loc: tuple[str | int, ...], path: str) -> None:
    assert format_path(loc) == path


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("ContainerPort", "containerPort"),
        ("container_port", "containerPort"),
        ("containerPrt", "containerPort"),
        ("hostport", "hostPort"),
        ("zzzzzz", None),
    ],
)
def test_did_you_mean_ignores_case_and_separators_then_catches_typos(
    word: str, meant: str | None
) -> None:
    assert did_you_mean(word, ["containerPort", "hostPort", "protocol"]) == meant


def test_did_you_mean_without_candidates_is_none() -> None:
    assert did_you_mean("x", []) is None


class Sample(BaseModel):
    count: Annotated[Int, in_range(1, 10)] = 1
    ratio: Float = 1.0
    flag: Bool = False
    name: str = "n"
    tags: list[str] = Field(default_factory=list, max_length=2)
    label: str = Field(default="", max_length=3)
    mode: str = Field(default="a", pattern="^[ab]$")
    low: int = Field(default=5, ge=5)


def explain(doc: dict[str, Any]) -> tuple[str | None, str, str | None]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(doc)
    error = spec_error(caught.value)
    return error.field, error.message, error.hint


@pytest.mark.parametrize(
    ("doc", "field", "message", "hint"),
    [
        ({"count": "5"}, "count", "whole number, not a string", "write 5 without quotes"),
        ({"count": 1.5}, "count", "must be a whole number", "without quotes"),
        ({"count": 11}, "count", "between 1 and 10 (got 11)", "from 1 to 10"),
        ({"ratio": "x"}, "ratio", "must be a number", "without quotes"),
        ({"flag": "yes"}, "flag", "true or false", "true or false without quotes"),
        ({"name": 3}, "name", "must be a string", 'write "3"'),
        ({"name": True}, "name", "must be a string", 'write "true"'),
        ({"tags": "a"}, "tags", "must be a list", "[ ]"),
        ({"tags": ["a", "b", "c"]}, "tags", "at most 2 entries (it has 3)", "remove"),
        ({"label": "abcd"}, "label", "at most 3 characters", "3 characters or fewer"),
        ({"low": 4}, "low", "at least 5", None),
    ],
)
def test_pydantic_errors_are_explained(
    doc: dict[str, Any], field: str, message: str, hint: str | None
) -> None:
    got_field, got_message, got_hint = explain(doc)
    assert got_field == field
    assert message in got_message
    if hint is None:
        assert got_hint is None
    else:
        assert got_hint is not None and hint in got_hint


def test_unexplained_errors_keep_pydantics_message() -> None:
    field, message, _ = explain({"mode": "c"})
    assert field == "mode"
    assert "match" in message


def test_rule_errors_are_located_below_the_model_that_raised_them() -> None:
    class Rule(BaseModel):
        value: int = 0

        def model_post_init(self, context: Any) -> None:
            raise SpecValueError("bad", hint="fix it", at=("deep", 0))

    class Outer(BaseModel):
        items: list[Rule]

    with pytest.raises(ValidationError) as caught:
        Outer.model_validate({"items": [{}]})
    error = spec_error(caught.value, prefix=("Top",))
    assert (error.field, error.message, error.hint) == ("Top.items[0].deep[0]", "bad", "fix it")


def test_more_than_four_problems_are_summarised() -> None:
    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int

    with pytest.raises(ValidationError) as caught:
        Many.model_validate({})
    error = spec_error(caught.value)
    assert error.field == "a"
    assert "b: is required" in error.message
    assert "and 2 more" in error.message
