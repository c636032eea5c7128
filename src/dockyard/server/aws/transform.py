"""Batch transform over the AWS front: Create/Describe/List/StopTransformJob.

The same functions Dockyard's own API calls (:mod:`dockyard.server.transform`); the
answers are SageMaker's shapes, without Dockyard's ``Progress`` member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.server import transform
from dockyard.server.aws.errors import validation
from dockyard.server.aws.listing import Row, page
from dockyard.server.aws.service import Call, Handler


def transform_job_arn(call: Call, name: str) -> str:
    return call.arn(f"transform-job/{name.lower()}")


def create_transform_job(call: Call) -> Mapping[str, Any]:
    described = transform.create(call.platform, dict(call.params))
    return {"TransformJobArn": transform_job_arn(call, described["TransformJobName"])}


def describe_transform_job(call: Call) -> Mapping[str, Any]:
    name = str(call.params["TransformJobName"])
    described = transform.describe(call.platform.store.transform_jobs.require(name))
    described.pop("Progress", None)
    described.pop("LastModifiedTime", None)  # not a member of DescribeTransformJobResponse
    described["TransformJobArn"] = transform_job_arn(call, name)
    return described


def stop_transform_job(call: Call) -> Mapping[str, Any]:
    name = str(call.params["TransformJobName"])
    record = call.platform.store.transform_jobs.require(name)
    if record.state.is_terminal:
        raise validation(
            f"The request was rejected because the transform job is in status "
            f"{record.state.status}."
        )
    transform.stop(call.platform, name)
    return {}


def list_transform_jobs(call: Call) -> Mapping[str, Any]:
    rows = []
    for record in call.platform.store.transform_jobs.list():
        summary = transform.summary(record)
        summary.pop("Progress", None)
        summary["TransformJobArn"] = transform_job_arn(call, record.name)
        state = record.state
        rows.append(
            Row(record.name, state.created_at, state.last_modified_at, state.status, summary)
        )
    return page(rows, call.params, "TransformJobSummaries")


HANDLERS: dict[str, Handler] = {
    "CreateTransformJob": create_transform_job,
    "DescribeTransformJob": describe_transform_job,
    "StopTransformJob": stop_transform_job,
    "ListTransformJobs": list_transform_jobs,
}
