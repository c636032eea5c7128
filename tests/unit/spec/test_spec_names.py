"""Name rules and references shared by the specs."""

from __future__ import annotations

import pytest

from dockyard.spec.errors import SpecValueError
from dockyard.spec.names import (
    TaskDefinitionRef,
    host_order,
    parse_task_definition_ref,
    target_group_name,
    training_hosts,
)
from dockyard.spec.uris import DataUri, parse_data_uri

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("web", TaskDefinitionRef("web")),
        ("web:3", TaskDefinitionRef("web", 3)),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:12", TaskDefinitionRef("web", 12)),
        ("my_app-2", TaskDefinitionRef("my_app-2")),
    ],
)
def test_task_definition_references(text: str, ref: TaskDefinitionRef) -> None:
    assert parse_task_definition_ref(text) == ref


@pytest.mark.parametrize("text", ["", "web:0", "web:x", "web:1:2", "we b", "web:-1"])
def test_bad_task_definition_references_say_how_to_write_one(text: str) -> None:
    with pytest.raises(SpecValueError) as caught:
        parse_task_definition_ref(text)
    assert caught.value.hint is not None and '"family:revision"' in caught.value.hint


def test_reference_prints_as_written() -> None:
    assert str(TaskDefinitionRef("web", 3)) == "web:3"
    assert str(TaskDefinitionRef("web")) == "web"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067",
            "web-tg",
        ),
        ("web-tg", "web-tg"),
    ],
)
def test_target_group_names(text: str, name: str) -> None:
    assert target_group_name(text) == name


def test_bad_target_group_is_refused() -> None:
    with pytest.raises(SpecValueError, match="target group"):
        target_group_name("not a name/")


def test_training_hosts_are_algo_1_to_n() -> None:
    assert training_hosts(3) == ("algo-1", "algo-2", "algo-3")


def test_hosts_sort_numerically() -> None:
    hosts = ["algo-10", "algo-2", "algo-1"]
    assert sorted(hosts, key=host_order) == ["algo-1", "algo-2", "algo-10"]
    assert host_order("odd") == (0, "odd")


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("s3://bucket/some/key", DataUri("s3", bucket="bucket", key="some/key")),
        ("s3://bucket", DataUri("s3", bucket="bucket", key="")),
        ("file:///data/train", DataUri("file", path="/data/train")),
    ],
)
def test_data_uris(text: str, uri: DataUri) -> None:
    parsed = parse_data_uri(text)
    assert parsed == uri
    assert str(parsed) in (text, text + "/")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("s3:///key", "s3://bucket/prefix"),
        ("file://data", "absolute path"),
        ("https://bucket.s3.amazonaws.com/k", "s3://bucket/key"),
        ("/data/train", "file:///absolute/path"),
        ("s3://b/" + "k" * 1100, "s3://bucket/prefix"),
    ],
)
def test_bad_data_uris_say_what_to_write(text: str, hint: str) -> None:
    with pytest.raises(SpecValueError) as caught:
        parse_data_uri(text)
    assert caught.value.hint is not None and hint in caught.value.hint
