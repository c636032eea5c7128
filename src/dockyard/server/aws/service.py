"""What a service module declares, and what each of its operations receives.

A service module (:mod:`.sagemaker`, :mod:`.runtime`, :mod:`.ecs`, :mod:`.ecr`,
:mod:`.application_autoscaling`) builds one :class:`AwsService`: botocore's name of the
service, a handler per operation it implements, and the names its errors take. The
front routes a request to the service (by ``X-Amz-Target`` prefix or by the REST path
in the model), checks the signature, reads and validates the input, and hands the
handler a :class:`Call`. Operations the model
has but the service leaves out answer NotImplemented naming the operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel

from dockyard.server.aws.errors import SAGEMAKER_ERRORS, ErrorNames
from dockyard.server.aws.shapes import service_model
from dockyard.server.aws.sigv4 import Caller
from dockyard.server.platform import Platform

#: the account every ARN names: one local account per installation
ACCOUNT_ID = "000000000000"
#: the ARNs Dockyard's own API writes (region ``local``), re-regioned for AWS clients
_LOCAL_ARN = re.compile(rf"^arn:aws:([a-z0-9-]+):local:{ACCOUNT_ID}:")


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

    def regional(self, value: Any) -> Any:
        """``value`` with the ARNs of Dockyard's own API (``arn:aws:ecs:local:…``) in the
        region the request was signed for, as AWS writes them; a client may send them
        back, since every lookup reads a name or an ARN's last part."""
        if isinstance(value, str):
            return _LOCAL_ARN.sub(rf"arn:aws:\1:{self.region}:{ACCOUNT_ID}:", value)
        if isinstance(value, Mapping):
            return {k: self.regional(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.regional(v) for v in value]
        return value


Handler = Callable[[Call], Mapping[str, Any]]


@dataclass(frozen=True)
class AwsService:
    """A service as botocore names it, and the operations Dockyard implements."""

    name: str  # botocore's service name: "sagemaker", "sagemaker-runtime"
    arn_namespace: str  # the ARNs' service part: "sagemaker"
    handlers: Mapping[str, Handler]
    errors: ErrorNames = SAGEMAKER_ERRORS

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
