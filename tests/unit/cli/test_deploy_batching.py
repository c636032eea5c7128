"""``dockyard deploy --batch-size/--batch-wait-ms``: the variables the replicas get."""

from __future__ import annotations

import pytest

from dockyard.cli.endpoint_cmd import batching_environment
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit


def test_no_option_means_no_batching_variables() -> None:
    assert batching_environment(None, None, {}) == {}


def test_options_become_the_runtime_variables() -> None:
    assert batching_environment(16, 2.5, {}) == {
        "DOCKYARD_BATCH_SIZE": "16",
        "DOCKYARD_BATCH_WAIT_MS": "2.5",
    }
    assert batching_environment(8, None, {}) == {"DOCKYARD_BATCH_SIZE": "8"}


@pytest.mark.parametrize(
    ("size", "wait_ms", "given", "field"),
    [
        (None, 5.0, {}, "--batch-size"),
        (1, None, {}, "--batch-size"),
        (8, -1.0, {}, "--batch-wait-ms"),
        (8, None, {"DOCKYARD_BATCH_SIZE": "4"}, "--env"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    size: int | None, wait_ms: float | None, given: dict[str, str], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        batching_environment(size, wait_ms, given)
    assert caught.value.field == field
