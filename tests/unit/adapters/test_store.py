"""The SQLite store: documents by (kind, name), owners, events, survival across reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.store.sqlite import Store
from dockyard.errors import Conflict, NotFound

pytestmark = pytest.mark.unit


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def test_created_document_reads_back(store: Store) -> None:
    store.create("endpoint", "iris", {"EndpointName": "iris", "n": 2})
    assert store.get("endpoint", "iris") == {"EndpointName": "iris", "n": 2}


def test_creating_a_taken_name_is_a_conflict_and_keeps_the_first(store: Store) -> None:
    store.create("endpoint", "iris", {"v": 1})
    with pytest.raises(Conflict) as raised:
        store.create("endpoint", "iris", {"v": 2})
    assert raised.value.resource == "endpoint/iris"
    assert store.get("endpoint", "iris") == {"v": 1}


def test_require_names_the_missing_resource(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.require("training_job", "nope")
    assert raised.value.resource == "training_job/nope"
    assert "dockyard training-jobs" in (raised.value.hint or "")


def test_list_filters_by_owner_in_creation_order(store: Store) -> None:
    store.put("task", "t1", {"id": "t1"}, owner="service/a")
    store.put("task", "t2", {"id": "t2"}, owner="service/b")
    store.put("task", "t3", {"id": "t3"}, owner="service/a")
    assert [t["id"] for t in store.list("task", owner="service/a")] == ["t1", "t3"]
    assert len(store.list("task")) == 3


def test_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put("endpoint", "half", {})
        raise RuntimeError("boom")
    assert store.get("endpoint", "half") is None


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    first = Store(tmp_path / "state.db")
    first.put("service", "s", {"desiredCount": 2})
    first.add_event("service", "s", "has started 2 tasks")
    first.close()
    second = Store(tmp_path / "state.db")
    assert second.get("service", "s") == {"desiredCount": 2}
    assert [e.message for e in second.events("service", "s")] == ["has started 2 tasks"]


def test_events_page_forward_by_id(store: Store) -> None:
    ids = [store.add_event("endpoint", "iris", f"m{i}").id for i in range(5)]
    page = store.events("endpoint", "iris", after_id=ids[1], limit=2)
    assert [e.message for e in page] == ["m2", "m3"]
