"""AWS's error shapes: what a client reads as the exception's name, message and code.

Botocore takes the error's name from the ``x-amzn-ErrorType`` header or the body's
``__type`` and the message from ``message``/``Message``; members of a modelled error
(InvokeEndpoint's ``ModelError``: ``OriginalStatusCode``…) are read from the body too.
:func:`from_dockyard` turns Dockyard's own errors into the names the operation
documents in botocore's model, so a client catches ``ResourceNotFound`` where AWS
says it raises it and ``ValidationException`` where AWS has no such name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, DockyardError, EngineUnavailable, NotFound, SpecError


class AwsError(Exception):
    """An error as AWS names it: ``code`` (the exception's name), HTTP status, message,
    and any further members of a modelled error shape."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        members: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = dict(members or {})

    def body(self) -> dict[str, Any]:
        """The JSON body: ``__type`` and ``message`` as JSON-protocol services send them
        (``Message`` too, the spelling modelled error shapes use)."""
        return {
            "__type": self.code,
            "message": self.message,
            "Message": self.message,
            **self.members,
        }

    def headers(self) -> dict[str, str]:
        return {"x-amzn-ErrorType": self.code}


def validation(message: str, code: str = "ValidationException") -> AwsError:
    return AwsError(code, message)


@dataclass(frozen=True)
class ErrorNames:
    """What a service calls the errors every operation may meet.

    AWS's services do not agree: SageMaker and Application Auto Scaling answer a bad
    request with ValidationException, ECS and ECR with InvalidParameterException; a
    missing resource is ECS's ClientException and AAS's ObjectNotFoundException. Each
    service module declares its names, read from the errors its operations document.
    """

    invalid: str = "ValidationException"  # input the model or Dockyard's rules refuse
    missing: str = "ValidationException"  # a named resource that does not exist
    conflict: str = "ValidationException"  # a name in use, a state that forbids it
    server: str = "InternalFailure"  # a bug or an unusable daemon (HTTP 500)


SAGEMAKER_ERRORS = ErrorNames()


def from_dockyard(
    error: DockyardError,
    documented: Collection[str] = (),
    names: ErrorNames = SAGEMAKER_ERRORS,
) -> AwsError:
    """Dockyard's error as the operation's AWS error.

    ``documented`` are the error shapes botocore's model lists for the operation. Bad
    input is the service's validation error; a missing or conflicting resource whose
    own code the operation documents keeps it (``ResourceNotFound`` in
    SageMaker's DescribeTrainingJob, ``RepositoryNotFoundException`` in ECR's
    DescribeImages); others take the service's names (``names``).
    """
    message = str(error)
    if isinstance(error, SpecError):
        return validation(message, names.invalid)
    if isinstance(error, NotFound | Conflict) and error.code in documented:
        return AwsError(error.code, message)
    if isinstance(error, NotFound):
        return AwsError(names.missing, message)
    if isinstance(error, Conflict):
        return AwsError(names.conflict, message)
    if isinstance(error, EngineUnavailable):
        return AwsError("ServiceUnavailable", message, 503)
    return AwsError(names.server, message, 500)
