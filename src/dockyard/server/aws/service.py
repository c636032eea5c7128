"""What a service module declares, and what each of its operations receives.

A service module (:mod:`.sagemaker`, :mod:`.runtime`; later ECS, ECR, Application
Auto Scaling) builds one :class:`AwsService`: botocore's name of the service and a
handler per operation it implements. The front routes a request to the service (by
``X-Amz-Target`` prefix or by the REST path in the model), checks the signature, reads
and validates the input, and hands the handler a :class:`Call`. Operations the model
has but the service leaves out answer NotImplemented naming the operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel

from dockyard.server.aws.shapes import service_model
from dockyard.server.aws.sigv4 import Caller
from dockyard.server.platform import Platform

#: the account every ARN names: one local account per installation
ACCOUNT_ID = "000000000000"


@dataclass(frozen=True)
class Call:
    """One validated request as an operation's handler sees it.

    ``params`` are the input members: for JSON-protocol services the request body as
    JSON decoded it (what Dockyard's spec parsers read); for REST services the members
    read from the path, headers and body (a blob payload as bytes).
    """

    platform: Platform
    operation: OperationModel
    params: Mapping[str, Any]
    caller: Caller
    arn_namespace: str

    @property
    def region(self) -> str:
        return self.caller.region

    def arn(self, resource: str) -> str:
        """``arn:aws:sagemaker:<region>:000000000000:<resource>``."""
        return f"arn:aws:{self.arn_namespace}:{self.region}:{ACCOUNT_ID}:{resource}"


Handler = Callable[[Call], Mapping[str, Any]]


@dataclass(frozen=True)
class AwsService:
    """A service as botocore names it, and the operations Dockyard implements."""

    name: str  # botocore's service name: "sagemaker", "sagemaker-runtime"
    arn_namespace: str  # the ARNs' service part: "sagemaker"
    handlers: Mapping[str, Handler]

    @property
    def model(self) -> ServiceModel:
        return service_model(self.name)

    @property
    def protocol(self) -> str:
        return str(self.model.protocol)

    @property
    def target_prefix(self) -> str | None:
        """The ``X-Amz-Target`` prefix of a JSON-protocol service (``SageMaker``)."""
        prefix = self.model.metadata.get("targetPrefix")
        return str(prefix) if prefix else None
