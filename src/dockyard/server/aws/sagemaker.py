"""``sagemaker`` (JSON 1.1, target prefix ``SageMaker``): the operations Dockyard runs.

Training jobs go to :mod:`dockyard.server.training`, hosting (models, endpoint configs,
endpoints) to :mod:`.hosting`; both are the same functions Dockyard's own API calls.
The model registry is :mod:`.model_packages`, tags :mod:`.tags`: every Create* of a
resource Dockyard keeps sets the request's ``Tags`` on what it made.
ARNs are AWS's: ``arn:aws:sagemaker:<region>:000000000000:training-job/<name>``, the
name lower-cased as SageMaker writes it, the region the one the request was signed for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.control.training_status import TrainingJobStatus
from dockyard.server import training
from dockyard.server.aws import hosting, model_packages, tags
from dockyard.server.aws import transform as transform_jobs
from dockyard.server.aws.errors import validation
from dockyard.server.aws.listing import Row, page
from dockyard.server.aws.service import AwsService, Call, Handler


def training_job_arn(call: Call, name: str) -> str:
    return call.arn(f"training-job/{name.lower()}")


def create_training_job(call: Call) -> Mapping[str, Any]:
    described = training.create(call.platform, dict(call.params))
    return {"TrainingJobArn": training_job_arn(call, described["TrainingJobName"])}


def describe_training_job(call: Call) -> Mapping[str, Any]:
    name = str(call.params["TrainingJobName"])
    record = call.platform.store.training_jobs.require(name)
    described = training.describe(record)
    described["TrainingJobArn"] = training_job_arn(call, name)
    return described


def stop_training_job(call: Call) -> Mapping[str, Any]:
    name = str(call.params["TrainingJobName"])
    record = call.platform.store.training_jobs.require(name)
    if record.state.status is not TrainingJobStatus.IN_PROGRESS:
        raise validation(
            f"The request was rejected because the training job is in status {record.state.status}."
        )
    training.stop(call.platform, name)
    return {}


def list_training_jobs(call: Call) -> Mapping[str, Any]:
    rows = []
    for record in call.platform.store.training_jobs.list():
        state = record.state
        summary = {
            "TrainingJobName": record.name,
            "TrainingJobArn": training_job_arn(call, record.name),
            "CreationTime": state.created_at,
            "TrainingEndTime": state.training_ended_at,
            "LastModifiedTime": state.last_modified_at,
            "TrainingJobStatus": state.status,
            "SecondaryStatus": state.secondary_status,
        }
        rows.append(
            Row(record.name, state.created_at, state.last_modified_at, state.status, summary)
        )
    return page(rows, call.params, "TrainingJobSummaries", default_order="Ascending")


_UNTAGGED: dict[str, Handler] = {
    "CreateTrainingJob": create_training_job,
    "DescribeTrainingJob": describe_training_job,
    "StopTrainingJob": stop_training_job,
    "ListTrainingJobs": list_training_jobs,
    **hosting.HANDLERS,
    **transform_jobs.HANDLERS,
    **model_packages.HANDLERS,
    **tags.HANDLERS,
}

#: the operations, each Create* that takes ``Tags`` setting them on what it made
HANDLERS: dict[str, Handler] = {
    name: tags.tagged(handler) if name.startswith("Create") else handler
    for name, handler in _UNTAGGED.items()
}

SERVICE = AwsService(name="sagemaker", arn_namespace="sagemaker", handlers=HANDLERS)
