"""Which SageMaker resource an ARN names, among those Dockyard keeps.

AddTags, ListTags and DeleteTags take any SageMaker ARN; this finds the record behind
one (a model, endpoint config, endpoint, training job, transform job, model package
or group) and says when it was created, which ties tags to that resource and not to
an earlier one of the same name. ARNs carry names lower-cased, as SageMaker writes
them, so a name not found as given is looked for without case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dockyard.ports.store import Collection, Store
from dockyard.server.aws.service import ACCOUNT_ID
from dockyard.spec.sagemaker_arns import parse_arn


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


R = TypeVar("R", bound=_Keyed)


def find_named(collection: Collection[R], name: str) -> R | None:
    """The record keyed ``name``, or else the one whose key differs only in case."""
    record = collection.get(name)
    if record is not None:
        return record
    folded = name.lower()
    return next((r for r in collection.list() if r.key.lower() == folded), None)


def resource_path(kind: str, key: str) -> str:
    """The path a resource's tags are kept under (``model/iris``)."""
    return f"{kind}/{key}"


@dataclass(frozen=True)
class Resource:
    """``path``: the ARN's resource part with the stored name (``model/Iris``)."""

    path: str
    created_at: float


def _finder(
    kind: str, collection: Callable[[Store], Collection[Any]], created: Callable[[Any], float]
) -> Callable[[Store, str], Resource | None]:
    def find(store: Store, name: str) -> Resource | None:
        record = find_named(collection(store), name)
        if record is None:
            return None
        return Resource(resource_path(kind, record.key), created(record))

    return find


_KINDS: dict[str, Callable[[Store, str], Resource | None]] = {
    "model": _finder("model", lambda s: s.models, lambda r: r.created_at),
    "endpoint-config": _finder(
        "endpoint-config", lambda s: s.endpoint_configs, lambda r: r.created_at
    ),
    "endpoint": _finder("endpoint", lambda s: s.endpoints, lambda r: r.created_at),
    "training-job": _finder(
        "training-job", lambda s: s.training_jobs, lambda r: r.state.created_at
    ),
    "transform-job": _finder(
        "transform-job", lambda s: s.transform_jobs, lambda r: r.state.created_at
    ),
    "model-package-group": _finder(
        "model-package-group", lambda s: s.model_package_groups, lambda r: r.created_at
    ),
    # NAME or GROUP/N: the package's store key either way
    "model-package": _finder("model-package", lambda s: s.model_packages, lambda r: r.created_at),
}

#: the kinds of SageMaker resource Dockyard keeps (and so can tag)
TAGGABLE_KINDS = tuple(_KINDS)


def resource_at(store: Store, path: str) -> Resource | None:
    """The resource kept under ``path`` (``endpoint/iris``) now, or None."""
    kind, _, name = path.partition("/")
    find = _KINDS.get(kind)
    return None if find is None else find(store, name)


def resource_of(store: Store, arn: str) -> Resource | None:
    """The resource ``arn`` names; None when it is not one Dockyard keeps."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.account != ACCOUNT_ID:
        return None
    find = _KINDS.get(parsed.kind)
    return None if find is None else find(store, parsed.name)
