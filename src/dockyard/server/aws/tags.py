"""AddTags, ListTags, DeleteTags, and the ``Tags`` of SageMaker's Create* calls.

Tags are kept per resource in their own collection (:mod:`dockyard.records.tags`),
tied to the resource's creation time: what a deleted resource carried never shows on
a new one of the same name. An ARN of a resource Dockyard does not hold is
ValidationException, which is what SageMaker answers (these operations document no
error of their own); botocore's model has already held ``Tags`` to its limits (50 per
request, key and value lengths and characters), and a resource carries at most 50.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.ports.store import Store
from dockyard.records.tags import MAX_TAGS, Tag, TagsRecord
from dockyard.server.aws.errors import validation
from dockyard.server.aws.listing import token_page
from dockyard.server.aws.resources import TAGGABLE_KINDS, Resource, resource_at, resource_of
from dockyard.server.aws.service import Call, Handler

#: ListTags' page when MaxResults is not given (the most a resource carries)
DEFAULT_PAGE = MAX_TAGS


def _resource(store: Store, arn: str) -> Resource:
    found = resource_of(store, arn)
    if found is None:
        raise validation(
            f'Could not find resource "{arn}". Dockyard tags the SageMaker resources it '
            f"keeps: {', '.join(TAGGABLE_KINDS)}."
        )
    return found


def _current(store: Store, resource: Resource) -> TagsRecord:
    """The resource's tags: none when the record is absent or was left by an earlier
    resource of the same name."""
    record = store.tags.get(resource.path)
    if record is None or record.resource_created_at != resource.created_at:
        return TagsRecord(resource.path, resource.created_at)
    return record


def add_tags(store: Store, arn: str, tags: Iterable[Mapping[str, Any]]) -> TagsRecord:
    """Set ``tags`` on the resource ``arn`` names; its tags afterwards."""
    with store.transaction():
        resource = _resource(store, arn)
        record = _current(store, resource).added(Tag(t["Key"], t.get("Value", "")) for t in tags)
        if len(record.tags) > MAX_TAGS:
            raise validation(
                f"A resource carries at most {MAX_TAGS} tags; this would make "
                f"{len(record.tags)} on {arn}. Delete some with DeleteTags first."
            )
        store.tags.put(record)
    return record


def forget(store: Store, path: str) -> None:
    """Drop the tags of a resource being deleted (``model/iris``)."""
    store.tags.delete(path)


def sweep(store: Store) -> list[str]:
    """Drop the tags of resources that are gone (an endpoint deleted by its reconciler,
    a job forgotten) or replaced by a new one of the same name; the paths dropped.

    Such records are never shown (:func:`_current` checks the creation time); sweeping
    them keeps the collection the size of what exists."""
    dropped = []
    for record in store.tags.list():
        resource = resource_at(store, record.resource)
        if resource is None or resource.created_at != record.resource_created_at:
            store.tags.delete(record.resource)
            dropped.append(record.resource)
    return dropped


def _wire(tags: Iterable[Tag]) -> list[dict[str, str]]:
    return [{"Key": tag.key, "Value": tag.value} for tag in tags]


def add(call: Call) -> Mapping[str, Any]:
    record = add_tags(call.platform.store, str(call.params["ResourceArn"]), call.params["Tags"])
    return {"Tags": _wire(record.tags)}


def list_tags(call: Call) -> Mapping[str, Any]:
    store = call.platform.store
    record = _current(store, _resource(store, str(call.params["ResourceArn"])))
    return token_page(
        _wire(record.tags),
        call.params,
        "Tags",
        default_size=DEFAULT_PAGE,
        token="NextToken",
        size="MaxResults",
    )


def delete(call: Call) -> Mapping[str, Any]:
    store = call.platform.store
    with store.transaction():
        resource = _resource(store, str(call.params["ResourceArn"]))
        record = _current(store, resource).without(call.params["TagKeys"])
        if record.tags:
            store.tags.put(record)
        else:
            store.tags.delete(resource.path)
    return {}


def tagged(create: Handler) -> Handler:
    """A Create* handler whose request's ``Tags`` land on what it created (found by the
    ARN it answers). A refused create raises before any tag is written."""

    def create_and_tag(call: Call) -> Mapping[str, Any]:
        answer = create(call)
        tags = call.params.get("Tags")
        if tags:
            arn = next(str(v) for k, v in answer.items() if k.endswith("Arn"))
            add_tags(call.platform.store, arn, tags)
        return answer

    return create_and_tag


HANDLERS: dict[str, Handler] = {
    "AddTags": add,
    "ListTags": list_tags,
    "DeleteTags": delete,
}
