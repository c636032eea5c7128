"""The Store port's contract, held by both adapters: SQLite on a file and memory.

Every test in the first part runs once per adapter, so the in-memory store the fast
tests use cannot drift from the SQLite store the daemon runs on. The last part is
what only a file can do: survive the process.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dockyard.adapters.store.memory import MemoryStore
from dockyard.adapters.store.sqlite import SqliteStore
from dockyard.control.autoscaling import (
    MetricType,
    StepAdjustment,
    StepAlarm,
    StepScaling,
    TargetTracking,
)
from dockyard.control.endpoint import EndpointStatus
from dockyard.control.service import ServiceState
from dockyard.control.task import new_task
from dockyard.control.training_status import new_training_job
from dockyard.errors import Conflict, NotFound
from dockyard.ports.store import Store
from dockyard.records.autoscaling import (
    ScalableTargetRecord,
    ScalingActivity,
    ScalingPolicyRecord,
    ScheduledActionRecord,
)
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.records.hosting import EndpointConfigRecord, ModelRecord
from dockyard.records.model_package import ModelPackageGroupRecord, ModelPackageRecord
from dockyard.records.placement import Placement
from dockyard.records.schedule import ScheduleRecord
from dockyard.records.service import ServiceRecord
from dockyard.records.tags import Tag, TagsRecord
from dockyard.records.task import TaskRecord
from dockyard.records.task_definition import TaskDefinitionRecord
from dockyard.records.training import ScriptMode, TrainingJobRecord
from dockyard.spec.endpoint import parse_endpoint_config, parse_model
from dockyard.spec.task_definition import RegisteredTaskDefinition, parse_task_definition
from dockyard.spec.training_job import parse_training_job

pytestmark = pytest.mark.unit

DEFINITION = parse_task_definition(
    {"family": "web", "containerDefinitions": [{"name": "app", "image": "app:1"}]}
)


def a_task(task_id: str, owner: str = "service/web") -> TaskRecord:
    return TaskRecord(
        task=new_task(task_id, DEFINITION, "web:1", 100.0, started_by=owner),
        owner=owner,
        definition=DEFINITION,
        placement=Placement(name_prefix="web"),
    )


def a_service(name: str, owner: str | None = None) -> ServiceRecord:
    return ServiceRecord(
        state=ServiceState(name, "web:1", 2), placement=Placement(name_prefix=name), owner=owner
    )


def an_endpoint(name: str, image_id: str = "sha256:1") -> EndpointRecord:
    model = parse_model({"ModelName": name, "PrimaryContainer": {"Image": "dockyard/sklearn:1.5"}})
    config = parse_endpoint_config(
        {
            "EndpointConfigName": f"{name}-config",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name}],
        }
    )
    return EndpointRecord(
        name=name,
        config=config,
        model=model,
        image_id=image_id,
        variants=(VariantRecord("AllTraffic", f"{name}-AllTraffic", 1, 600.0),),
        status=EndpointStatus.CREATING,
        status_since=100.0,
        created_at=100.0,
        last_modified_at=100.0,
    )


def a_training_job(name: str) -> TrainingJobRecord:
    spec = parse_training_job(
        {
            "TrainingJobName": name,
            "AlgorithmSpecification": {
                "TrainingImage": "dockyard/sklearn:1.5",
                "TrainingInputMode": "File",
            },
            "OutputDataConfig": {"S3OutputPath": "s3://models/iris"},
        }
    )
    return TrainingJobRecord(
        spec=spec,
        state=new_training_job(100.0),
        script=ScriptMode({}, None, None, None),
    )


def a_task_definition(family: str, revision: int = 1) -> TaskDefinitionRecord:
    definition = parse_task_definition(
        {"family": family, "containerDefinitions": [{"name": "app", "image": "app:1"}]}
    )
    return TaskDefinitionRecord(
        RegisteredTaskDefinition(family=family, revision=revision, definition=definition)
    )


def a_model(name: str) -> ModelRecord:
    return ModelRecord(an_endpoint(name).model, created_at=100.0, made_for=f"endpoint/{name}")


def an_endpoint_config(name: str) -> EndpointConfigRecord:
    return EndpointConfigRecord(
        an_endpoint(name).config, created_at=100.0, made_for=f"endpoint/{name}"
    )


def a_scalable_target() -> ScalableTargetRecord:
    activity = ScalingActivity(at=5.0, description="Setting desired count to 3.", cause="c")
    return ScalableTargetRecord("web", 1, 10, 1.0, last_scale_out_at=5.0, activities=(activity,))


def a_step_policy() -> ScalingPolicyRecord:
    step = StepScaling(
        StepAlarm(MetricType.CPU, 70.0),
        (StepAdjustment(1, 0.0, 20.0), StepAdjustment(3, 20.0, None)),
    )
    tracking = TargetTracking(MetricType.REQUESTS, 100.0, scale_in_cooldown_s=60)
    return ScalingPolicyRecord("web", "steps", 2.0, target_tracking=tracking, step=step)


def a_scheduled_action() -> ScheduledActionRecord:
    return ScheduledActionRecord("web", "nightly", "cron(0 2 * * ? *)", 3.0, min_capacity=0)


def a_schedule() -> ScheduleRecord:
    request = '{"taskDefinition": "prep:1", "count": 2}'
    return ScheduleRecord(
        "nightly", "0 2 * * *", "prep:1", request, 3.0, last_due_at=7200.0, last_task_ids=("t1",)
    )


def a_package_group() -> ModelPackageGroupRecord:
    return ModelPackageGroupRecord("churn", 100.0, description="churn models", last_version=2)


def a_model_package(version: int = 2) -> ModelPackageRecord:
    spec = {"Containers": [{"Image": "dockyard/sklearn:1.5", "Environment": {"A": "1"}}]}
    return ModelPackageRecord(
        "churn",
        100.0,
        150.0,
        request={"InferenceSpecification": spec, "ModelPackageDescription": "v2"},
        group="churn",
        version=version,
        approval_status="Approved",
    )


def some_tags() -> TagsRecord:
    return TagsRecord("model/iris", 100.0, (Tag("team", "ml"), Tag("stage", "")))


# one record of each collection of the port, by the collection's attribute name
SAMPLES: dict[str, Callable[[], Any]] = {
    "scalable_targets": a_scalable_target,
    "scaling_policies": a_step_policy,
    "scheduled_actions": a_scheduled_action,
    "schedules": a_schedule,
    "tasks": lambda: a_task("t1"),
    "services": lambda: a_service("web"),
    "endpoints": lambda: an_endpoint("iris"),
    "training_jobs": lambda: a_training_job("iris-1"),
    "task_definitions": lambda: a_task_definition("web"),
    "models": lambda: a_model("iris"),
    "endpoint_configs": lambda: an_endpoint_config("iris"),
    "model_package_groups": a_package_group,
    "model_packages": a_model_package,
    "tags": some_tags,
}


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store = (
        SqliteStore(tmp_path / "state.db") if request.param == "sqlite" else MemoryStore()
    )
    yield opened
    opened.close()


@pytest.mark.parametrize("collection", SAMPLES)
def test_created_record_reads_back_equal(store: Store, collection: str) -> None:
    record = SAMPLES[collection]()
    getattr(store, collection).create(record)
    assert getattr(store, collection).get(record.key) == record


def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert store.endpoints.get("nope") is None


def test_creating_a_taken_key_is_a_conflict_naming_the_resource(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    with pytest.raises(Conflict) as raised:
        store.endpoints.create(an_endpoint("iris", image_id="sha256:2"))
    assert raised.value.resource == "endpoint/iris"
    assert raised.value.message == "an endpoint named 'iris' already exists"


def test_conflict_names_a_multi_word_kind_in_the_user_s_words(store: Store) -> None:
    store.training_jobs.create(a_training_job("iris-1"))
    with pytest.raises(Conflict) as raised:
        store.training_jobs.create(a_training_job("iris-1"))
    assert raised.value.to_dict() == {
        "code": "ResourceInUse",
        "message": "a training job named 'iris-1' already exists",
        "resource": "training-job/iris-1",
        "hint": "training job names are unique: choose another name, or delete the existing one",
    }


def test_refused_create_keeps_the_first_record(store: Store) -> None:
    first = an_endpoint("iris")
    store.endpoints.create(first)
    with pytest.raises(Conflict):
        store.endpoints.create(an_endpoint("iris", image_id="sha256:2"))
    assert store.endpoints.require("iris") == first


def test_same_key_in_two_collections_is_no_conflict(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    store.services.create(a_service("iris"))
    assert store.services.require("iris").name == "iris"


def test_require_of_a_missing_key_is_not_found_naming_the_resource(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.training_jobs.require("nope")
    assert raised.value.resource == "training-job/nope"
    assert raised.value.message == "no training job named 'nope'"


@pytest.mark.parametrize(
    ("collection", "command"),
    [
        ("tasks", "dockyard tasks"),
        ("services", "dockyard endpoints"),
        ("endpoints", "dockyard endpoints"),
        ("training_jobs", "dockyard training-jobs"),
        ("task_definitions", "dockyard task-definitions"),
        ("models", "aws sagemaker list-models"),
        ("endpoint_configs", "aws sagemaker list-endpoint-configs"),
    ],
)
def test_not_found_hint_names_the_cli_listing_command(
    store: Store, collection: str, command: str
) -> None:
    with pytest.raises(NotFound) as raised:
        getattr(store, collection).require("nope")
    assert f"`{command}`" in (raised.value.hint or "")


def test_list_filters_by_owner_in_creation_order(store: Store) -> None:
    for task_id, owner in [("t3", "service/a"), ("t2", "service/b"), ("t1", "service/a")]:
        store.tasks.create(a_task(task_id, owner))
    assert [r.key for r in store.tasks.list("service/a")] == ["t3", "t1"]


def test_list_without_owner_is_every_record_in_creation_order(store: Store) -> None:
    for task_id, owner in [("t3", "service/a"), ("t2", "service/b"), ("t1", "service/a")]:
        store.tasks.create(a_task(task_id, owner))
    assert [r.key for r in store.tasks.list()] == ["t3", "t2", "t1"]


def test_list_of_an_owner_without_records_is_empty(store: Store) -> None:
    store.tasks.create(a_task("t1", "service/a"))
    assert store.tasks.list("service/other") == []


def test_records_created_within_one_clock_tick_list_in_creation_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1000.0)  # a coarse clock: one tick for all
    for name in ["web", "api", "db"]:
        store.services.create(a_service(name))
    assert [r.name for r in store.services.list()] == ["web", "api", "db"]


def test_records_list_in_creation_order_when_the_clock_steps_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([3000.0, 2000.0, 1000.0])  # e.g. NTP correcting a fast clock
    monkeypatch.setattr(time, "time", lambda: next(ticks))
    for name in ["web", "api", "db"]:
        store.services.create(a_service(name))
    assert [r.name for r in store.services.list()] == ["web", "api", "db"]


def test_put_replaces_the_record(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    updated = replace(an_endpoint("iris"), status=EndpointStatus.IN_SERVICE)
    store.endpoints.put(updated)
    assert store.endpoints.require("iris") == updated


def test_put_of_a_new_key_inserts_it(store: Store) -> None:
    store.endpoints.put(an_endpoint("iris"))
    assert store.endpoints.require("iris") == an_endpoint("iris")


def test_replaced_record_keeps_its_place_in_creation_order(store: Store) -> None:
    for name in ["web", "api"]:
        store.services.create(a_service(name))
    store.services.put(replace(a_service("web"), target=None, owner="endpoint/web"))
    assert [r.name for r in store.services.list()] == ["web", "api"]


def test_moving_a_record_to_another_owner_updates_the_owner_index(store: Store) -> None:
    store.tasks.create(a_task("t1", "service/a"))
    moved = a_task("t1", "service/b")
    store.tasks.put(moved)
    assert store.tasks.list("service/a") == []
    assert store.tasks.list("service/b") == [moved]


def test_moved_record_lists_by_creation_under_its_new_owner(store: Store) -> None:
    store.tasks.create(a_task("t1", "service/a"))
    store.tasks.create(a_task("t2", "service/b"))
    store.tasks.put(a_task("t1", "service/b"))
    assert [r.key for r in store.tasks.list("service/b")] == ["t1", "t2"]


def test_delete_of_an_existing_record_is_true_and_removes_it(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    assert store.endpoints.delete("iris") is True
    assert store.endpoints.get("iris") is None


def test_delete_of_a_missing_key_is_false(store: Store) -> None:
    assert store.endpoints.delete("nope") is False


def test_deleted_record_leaves_its_owner_s_list(store: Store) -> None:
    store.tasks.create(a_task("t1", "service/a"))
    store.tasks.create(a_task("t2", "service/a"))
    store.tasks.delete("t1")
    assert [r.key for r in store.tasks.list("service/a")] == ["t2"]


def test_deleted_key_can_be_created_again(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    store.endpoints.delete("iris")
    store.endpoints.create(an_endpoint("iris", image_id="sha256:2"))
    assert store.endpoints.require("iris").image_id == "sha256:2"


def test_writes_of_a_completed_transaction_land(store: Store) -> None:
    with store.transaction():
        store.endpoints.put(an_endpoint("iris"))
        store.services.put(a_service("iris-AllTraffic", owner="endpoint/iris"))
    assert store.endpoints.get("iris") is not None
    assert store.services.get("iris-AllTraffic") is not None


def test_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    store.endpoints.create(an_endpoint("iris"))
    with pytest.raises(RuntimeError), store.transaction():
        store.endpoints.put(replace(an_endpoint("iris"), status=EndpointStatus.IN_SERVICE))
        store.services.put(a_service("half"))
        raise RuntimeError("boom")
    assert store.endpoints.require("iris") == an_endpoint("iris")
    assert store.services.get("half") is None


def test_transactions_nest_and_land_with_the_outer_one(store: Store) -> None:
    with store.transaction():
        store.task_definitions.put(a_task_definition("web"))
        with store.transaction():
            store.services.put(a_service("web"))
    assert store.services.get("web") is not None
    assert store.task_definitions.get("web:1") is not None


def test_failed_inner_transaction_undoes_only_its_own_writes(store: Store) -> None:
    with store.transaction():
        store.services.put(a_service("kept"))
        with pytest.raises(RuntimeError), store.transaction():
            store.services.put(a_service("undone"))
            raise RuntimeError("boom")
    assert [r.name for r in store.services.list()] == ["kept"]


def test_failed_outer_transaction_undoes_its_inner_transactions(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.services.put(a_service("inner"))
        raise RuntimeError("boom")
    assert store.services.list() == []


def test_events_of_a_failed_transaction_are_undone_with_it(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_event("endpoint", "iris", "created")
        raise RuntimeError("boom")
    assert store.events() == []


def test_added_event_reads_back_equal(store: Store) -> None:
    event = store.add_event("endpoint", "iris", "created with image dockyard/sklearn:1.5")
    assert store.events() == [event]


def test_event_ids_increase(store: Store) -> None:
    ids = [store.add_event("endpoint", "iris", f"m{i}").id for i in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


def test_events_page_forward_by_id(store: Store) -> None:
    ids = [store.add_event("endpoint", "iris", f"m{i}").id for i in range(5)]
    page = store.events("endpoint", "iris", after_id=ids[1], limit=2)
    assert [e.message for e in page] == ["m2", "m3"]


def test_events_filter_by_kind(store: Store) -> None:
    store.add_event("endpoint", "iris", "endpoint event")
    store.add_event("service", "iris", "service event")
    assert [e.message for e in store.events(kind="service")] == ["service event"]


def test_events_filter_by_name(store: Store) -> None:
    store.add_event("endpoint", "iris", "iris event")
    store.add_event("endpoint", "wine", "wine event")
    assert [e.message for e in store.events("endpoint", "wine")] == ["wine event"]


# What only a file can do.


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


def test_records_survive_reopening_the_file(state_file: Path) -> None:
    first = SqliteStore(state_file)
    first.services.create(a_service("web"))
    first.close()
    second = SqliteStore(state_file)
    assert second.services.require("web") == a_service("web")


def test_the_model_registry_and_tags_survive_reopening_the_file(state_file: Path) -> None:
    first = SqliteStore(state_file)
    first.model_package_groups.create(a_package_group())
    first.model_packages.create(a_model_package(1))
    first.model_packages.create(a_model_package(2))
    first.tags.create(some_tags())
    first.close()
    second = SqliteStore(state_file)
    assert second.model_package_groups.require("churn").last_version == 2
    versions = second.model_packages.list(owner="churn")
    assert [p.key for p in versions] == ["churn/1", "churn/2"]
    assert versions[1] == a_model_package(2)
    assert second.tags.require("model/iris") == some_tags()


def test_events_survive_reopening_the_file(state_file: Path) -> None:
    first = SqliteStore(state_file)
    first.add_event("service", "web", "has started 2 tasks")
    first.close()
    second = SqliteStore(state_file)
    assert [e.message for e in second.events("service", "web")] == ["has started 2 tasks"]


def test_event_ids_keep_increasing_after_reopening_the_file(state_file: Path) -> None:
    first = SqliteStore(state_file)
    before = first.add_event("service", "web", "before")
    first.close()
    second = SqliteStore(state_file)
    after = second.add_event("service", "web", "after")
    assert after.id > before.id


def test_creation_order_survives_reopening_the_file(state_file: Path) -> None:
    first = SqliteStore(state_file)
    for name in ["web", "api", "db"]:
        first.services.create(a_service(name))
    first.close()
    second = SqliteStore(state_file)
    assert [r.name for r in second.services.list()] == ["web", "api", "db"]


def _rewrite(
    state_file: Path, kind: str, key: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Edit one stored document as an earlier (or broken) version would have left it."""
    with sqlite3.connect(state_file) as db:
        (body,) = db.execute(
            "SELECT body FROM resources WHERE kind = ? AND name = ?", (kind, key)
        ).fetchone()
        doc = json.loads(body)
        change(doc)
        db.execute(
            "UPDATE resources SET body = ? WHERE kind = ? AND name = ?",
            (json.dumps(doc), kind, key),
        )


def test_a_training_job_written_before_a_field_was_renamed_still_reads(state_file: Path) -> None:
    first = SqliteStore(state_file)
    first.training_jobs.create(a_training_job("iris-1"))
    first.close()

    def as_before(doc: dict[str, Any]) -> None:  # ScriptMode.code_source was host_code_dir
        doc["script"]["host_code_dir"] = "/srv/code"
        del doc["script"]["code_source"]

    _rewrite(state_file, "training_job", "iris-1", as_before)
    second = SqliteStore(state_file)
    assert second.training_jobs.require("iris-1").script.code_source == Path("/srv/code")


def test_a_record_this_version_cannot_read_is_left_out_not_fatal_to_the_list(
    state_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = SqliteStore(state_file)
    first.training_jobs.create(a_training_job("iris-1"))
    first.training_jobs.create(a_training_job("iris-2"))
    first.close()
    _rewrite(state_file, "training_job", "iris-1", lambda doc: doc["script"].clear())
    second = SqliteStore(state_file)
    assert [r.name for r in second.training_jobs.list()] == ["iris-2"]
    assert "cannot be read by this version" in caplog.text
