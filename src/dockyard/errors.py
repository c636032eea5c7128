"""One exception family for everything Dockyard tells a user.

Every error carries what went wrong (``message``), where (``field`` for input,
``resource`` for things that exist) and what to do about it (``hint``). The API maps
the class to an HTTP status in one place (``status_code``); the CLI prints the same
three parts without a traceback. A message is written for the person who typed the
command, not for the person who wrote the code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DockyardError(Exception):
    """Base of every error a user may see."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        resource: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.resource = resource
        self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        """The error as the API returns it (and the CLI reads it back)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.resource is not None:
            body["resource"] = self.resource
        if self.hint is not None:
            body["hint"] = self.hint
        return body

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else (f"{self.resource}: " if self.resource else "")
        text = f"{where}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class SpecError(DockyardError):
    """Input that does not describe something Dockyard can do. Nothing was changed."""

    status_code = 400
    code = "ValidationException"


class NotFound(DockyardError):
    """A named resource does not exist."""

    status_code = 404
    code = "ResourceNotFound"


class Conflict(DockyardError):
    """The request clashes with what exists (a name in use, a state that forbids it)."""

    status_code = 409
    code = "ResourceInUse"


class Unauthorized(DockyardError):
    """The caller did not prove it may use the API."""

    status_code = 401
    code = "Unauthorized"


class Forbidden(DockyardError):
    """The caller is known, but this request may not be made this way."""

    status_code = 403
    code = "Forbidden"


class EngineUnavailable(DockyardError):
    """No container engine answers, and none could be started."""

    status_code = 503
    code = "EngineUnavailable"


class BuildFailed(DockyardError):
    """An image build failed; the message carries the builder's last words."""

    status_code = 422
    code = "BuildFailed"


class SetupError(DockyardError):
    """The machine lacks something Dockyard needs and could not install it."""

    status_code = 500
    code = "SetupError"


class DaemonUnavailable(DockyardError):
    """The CLI could not reach (or start) the control-plane daemon."""

    status_code = 503
    code = "DaemonUnavailable"


def error_from_dict(body: dict[str, Any], status_code: int) -> DockyardError:
    """Rebuild the error the API sent, so the CLI raises the same type it would locally."""
    wanted = body.get("code")
    cls: type[DockyardError] = DockyardError
    stack: list[type[DockyardError]] = [DockyardError]
    while stack:
        candidate = stack.pop()
        if candidate.code == wanted:
            cls = candidate
            break
        stack.extend(candidate.__subclasses__())
    error = cls(
        str(body.get("message") or f"the API answered {status_code}"),
        field=body.get("field"),
        resource=body.get("resource"),
        hint=body.get("hint"),
    )
    return error
