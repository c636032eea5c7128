"""SageMaker's model registry over the AWS front: model package groups and packages.

A group hands out versions (``arn:…:model-package/GROUP/N``, N from 1, never reused);
an unversioned package has a name of its own (``…:model-package/NAME``). Packages are
records in the store, so they outlive the daemon; they run nothing themselves: a
CreateModel container that names a package runs the package's first container
(:func:`package_lookup`, used by CreateModel before its request is parsed), and a
version must be Approved for that, as AWS requires before it deploys one.

Missing groups and packages are ValidationException, as SageMaker answers them; a
group that still holds versions is ConflictException, the one error
DeleteModelPackageGroup documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dockyard.errors import SpecError
from dockyard.ports.store import Store
from dockyard.records.model_package import ModelPackageGroupRecord, ModelPackageRecord
from dockyard.server.aws.errors import AwsError, validation
from dockyard.server.aws.listing import Row, page
from dockyard.server.aws.resources import find_named, resource_path
from dockyard.server.aws.service import ACCOUNT_ID, Call, Handler
from dockyard.server.aws.tags import forget
from dockyard.spec.model_package import (
    APPROVED,
    DEFAULT_APPROVAL,
    PackageLookup,
    PackageRef,
    check_create,
    group_ref,
    package_ref,
    stored_request,
    updated_request,
)

GROUP_KIND = "model-package-group"
PACKAGE_KIND = "model-package"
#: a package is usable once created: Dockyard runs no validation or image scan jobs
COMPLETED = "Completed"
#: AWS's message for a group that is not there (clients match it word for word)
NO_GROUP = "Model Package Group does not exist."


def group_arn(call: Call, name: str) -> str:
    return call.arn(f"{GROUP_KIND}/{name.lower()}")


def package_arn(call: Call, record: ModelPackageRecord) -> str:
    return call.arn(f"{PACKAGE_KIND}/{record.key.lower()}")


def _find_group(store: Store, text: str) -> ModelPackageGroupRecord | None:
    name, account = group_ref(text)
    if account not in (None, ACCOUNT_ID):
        return None
    return find_named(store.model_package_groups, name)


def _group(call: Call, text: str) -> ModelPackageGroupRecord:
    record = _find_group(call.platform.store, text)
    if record is None:
        raise validation(NO_GROUP)
    return record


def _find_package(store: Store, ref: PackageRef) -> ModelPackageRecord | None:
    if ref.account not in (None, ACCOUNT_ID):
        return None
    return find_named(store.model_packages, ref.key)


def _package(call: Call, text: str) -> ModelPackageRecord:
    record = _find_package(call.platform.store, package_ref(text))
    if record is None:
        raise validation(f"ModelPackage {text} does not exist.")
    return record


# -- groups -------------------------------------------------------------------------------


def create_model_package_group(call: Call) -> Mapping[str, Any]:
    name = str(call.params["ModelPackageGroupName"])
    arn = group_arn(call, name)
    store = call.platform.store
    if find_named(store.model_package_groups, name) is not None:
        raise validation(f'Cannot create already existing model package group "{arn}".')
    description = call.params.get("ModelPackageGroupDescription")
    store.model_package_groups.create(
        ModelPackageGroupRecord(name, call.platform.clock(), description=description)
    )
    return {"ModelPackageGroupArn": arn}


def _group_summary(call: Call, record: ModelPackageGroupRecord) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": record.name,
        "ModelPackageGroupArn": group_arn(call, record.name),
        "ModelPackageGroupDescription": record.description,
        "CreationTime": record.created_at,
        "ModelPackageGroupStatus": COMPLETED,
    }


def describe_model_package_group(call: Call) -> Mapping[str, Any]:
    record = _group(call, str(call.params["ModelPackageGroupName"]))
    return {**_group_summary(call, record), "CreatedBy": {}}


def list_model_package_groups(call: Call) -> Mapping[str, Any]:
    if call.params.get("CrossAccountFilterOption") == "CrossAccount":
        rows: list[Row] = []  # one account: no group is shared from another
    else:
        rows = [
            Row(r.name, r.created_at, None, None, _group_summary(call, r))
            for r in call.platform.store.model_package_groups.list()
        ]
    return page(rows, call.params, "ModelPackageGroupSummaryList", default_order="Ascending")


def delete_model_package_group(call: Call) -> Mapping[str, Any]:
    store = call.platform.store
    with store.transaction():
        record = _group(call, str(call.params["ModelPackageGroupName"]))
        versions = store.model_packages.list(owner=record.name)
        if versions:
            raise AwsError(
                "ConflictException",
                f"Model package group {group_arn(call, record.name)} still holds "
                f"{len(versions)} model package version(s); delete them with "
                "DeleteModelPackage first.",
            )
        store.model_package_groups.delete(record.name)
        forget(store, resource_path(GROUP_KIND, record.name))
    return {}


# -- packages -----------------------------------------------------------------------------


def create_model_package(call: Call) -> Mapping[str, Any]:
    params = call.params
    check_create(params)
    store = call.platform.store
    now = call.platform.clock()
    with store.transaction():
        if params.get("ModelPackageName") is not None:
            name = str(params["ModelPackageName"])
            earlier = _sent_before(call, find_named(store.model_packages, name))
            if earlier is None:
                record = _unversioned(call, name, now)
        else:
            group = _group(call, str(params["ModelPackageGroupName"]))
            earlier = _sent_before(call, *store.model_packages.list(owner=group.name))
            if earlier is None:
                record = _next_version(call, group, now)
        if earlier is not None:
            return {"ModelPackageArn": package_arn(call, earlier)}
        store.model_packages.create(record)
    return {"ModelPackageArn": package_arn(call, record)}


def _sent_before(call: Call, *candidates: ModelPackageRecord | None) -> ModelPackageRecord | None:
    """The package an earlier send of this very request made (botocore sends a
    ClientToken with every CreateModelPackage and the same one when it retries)."""
    token = call.params.get("ClientToken")
    if token is None:
        return None
    return next((c for c in candidates if c is not None and c.client_token == token), None)


def _unversioned(call: Call, name: str, now: float) -> ModelPackageRecord:
    existing = find_named(call.platform.store.model_packages, name)
    if existing is not None:
        raise validation(
            f'Cannot create already existing model package "{package_arn(call, existing)}".'
        )
    return ModelPackageRecord(
        name,
        now,
        now,
        request=stored_request(call.params),
        client_token=call.params.get("ClientToken"),
    )


def _next_version(call: Call, group: ModelPackageGroupRecord, now: float) -> ModelPackageRecord:
    """The group's next version; its counter moves on in the caller's transaction."""
    number = group.last_version + 1
    call.platform.store.model_package_groups.put(replace(group, last_version=number))
    return ModelPackageRecord(
        group.name,
        now,
        now,
        request=stored_request(call.params),
        group=group.name,
        version=number,
        approval_status=str(call.params.get("ModelApprovalStatus") or DEFAULT_APPROVAL),
        client_token=call.params.get("ClientToken"),
    )


def _package_summary(call: Call, record: ModelPackageRecord) -> dict[str, Any]:
    request = record.request
    return {
        "ModelPackageName": record.name,
        "ModelPackageGroupName": record.group,
        "ModelPackageVersion": record.version,
        "ModelPackageArn": package_arn(call, record),
        "ModelPackageDescription": request.get("ModelPackageDescription"),
        "CreationTime": record.created_at,
        "ModelPackageStatus": COMPLETED,
        "ModelApprovalStatus": record.approval_status,
        "ModelLifeCycle": request.get("ModelLifeCycle"),
        "ModelPackageRegistrationType": request.get("ModelPackageRegistrationType"),
    }


def describe_model_package(call: Call) -> Mapping[str, Any]:
    record = _package(call, str(call.params["ModelPackageName"]))
    return {
        **record.request,
        **_package_summary(call, record),
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "ApprovalDescription": record.approval_description,
        "LastModifiedTime": record.last_modified_at,
        "CreatedBy": {},
    }


def list_model_packages(call: Call) -> Mapping[str, Any]:
    params = call.params
    group = params.get("ModelPackageGroupName")
    group_name = None
    if group is not None:
        found = _find_group(call.platform.store, str(group))
        group_name = found.name if found is not None else None
    # a group's packages are versions: listing a group lists them unless told otherwise
    kind = params.get("ModelPackageType") or ("Versioned" if group is not None else "Unversioned")
    approval = params.get("ModelApprovalStatus")
    rows = [
        Row(r.name, r.created_at, r.last_modified_at, None, _package_summary(call, r))
        for r in call.platform.store.model_packages.list()
        if (kind == "Both" or (kind == "Versioned") == r.versioned)
        and (group is None or r.group == group_name)
        and (approval is None or r.approval_status == approval)
    ]
    return page(rows, params, "ModelPackageSummaryList", default_order="Ascending")


def update_model_package(call: Call) -> Mapping[str, Any]:
    params = call.params
    arn = str(params["ModelPackageArn"])
    store = call.platform.store
    with store.transaction():
        record = _package(call, arn)
        if not record.versioned:
            raise validation(
                f"UpdateModelPackage updates versioned model packages; {arn} is unversioned."
            )
        updated = replace(
            record,
            request=updated_request(record.request, params),
            approval_status=params.get("ModelApprovalStatus") or record.approval_status,
            approval_description=params.get("ApprovalDescription", record.approval_description),
            last_modified_at=call.platform.clock(),
        )
        store.model_packages.put(updated)
    return {"ModelPackageArn": package_arn(call, updated)}


def delete_model_package(call: Call) -> Mapping[str, Any]:
    store = call.platform.store
    with store.transaction():
        record = _package(call, str(call.params["ModelPackageName"]))
        store.model_packages.delete(record.key)
        forget(store, resource_path(PACKAGE_KIND, record.key))
    return {}


# -- models made from packages ------------------------------------------------------------


def package_lookup(call: Call) -> PackageLookup:
    """What CreateModel runs for a container that names a package: the package's first
    container. A missing package, or a version not Approved, is a SpecError naming the
    container's ModelPackageName (the front answers it as ValidationException)."""

    def lookup(name: str, field: str) -> Mapping[str, Any]:
        record = _find_package(call.platform.store, package_ref(name))
        if record is None:
            raise SpecError(
                f"model package {name} does not exist",
                field=field,
                hint="list them with `aws sagemaker list-model-packages --model-package-type Both`",
            )
        arn = package_arn(call, record)
        if record.versioned and record.approval_status != APPROVED:
            raise SpecError(
                f"model package {arn} is {record.approval_status}; a version is deployed "
                "only once Approved",
                field=field,
                hint=f"approve it: aws sagemaker update-model-package --model-package-arn {arn} "
                "--model-approval-status Approved",
            )
        containers = record.request["InferenceSpecification"]["Containers"]
        return dict(containers[0])

    return lookup


HANDLERS: dict[str, Handler] = {
    "CreateModelPackageGroup": create_model_package_group,
    "DescribeModelPackageGroup": describe_model_package_group,
    "ListModelPackageGroups": list_model_package_groups,
    "DeleteModelPackageGroup": delete_model_package_group,
    "CreateModelPackage": create_model_package,
    "DescribeModelPackage": describe_model_package,
    "ListModelPackages": list_model_packages,
    "UpdateModelPackage": update_model_package,
    "DeleteModelPackage": delete_model_package,
}
