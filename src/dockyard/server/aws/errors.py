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


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def from_dockyard(error: DockyardError, documented: Collection[str] = ()) -> AwsError:
    """Dockyard's error as the operation's AWS error.

    ``documented`` are the error shapes botocore's model lists for the operation: a
    missing resource is ``ResourceNotFound`` and a name in use ``ResourceInUse`` only
    where the operation documents them; elsewhere AWS answers ValidationException.
    """
    message = str(error)
    if isinstance(error, SpecError):
        return validation(message)
    if isinstance(error, NotFound):
        code = "ResourceNotFound" if "ResourceNotFound" in documented else "ValidationException"
        return AwsError(code, message)
    if isinstance(error, Conflict):
        code = "ResourceInUse" if "ResourceInUse" in documented else "ValidationException"
        return AwsError(code, message)
    if isinstance(error, EngineUnavailable):
        return AwsError("ServiceUnavailable", message, 503)
    return AwsError("InternalFailure", message, 500)
