"""How an invocation fails, and what the client reads when it does.

Every error response is a JSON object in the shape the SageMaker containers' toolkit
answers a 415 or 406 with (``application/json``)::

    {"error": NAME, "error-message": TEXT, "message": TEXT, "stack-trace": TRACE}

NAME is a stable word a program can branch on; TEXT says what was wrong and, where it
can, how to fix it. ``error-message`` is the toolkit's key; ``message`` carries the same
text for clients written against Dockyard's earlier shape (an extra key, which the
toolkit's readers ignore). ``stack-trace`` is there where a traceback says something: a
415/406 (the toolkit always sends one; NAME is then its ``UnsupportedFormatError``, for
the request type and the Accept alike) and an exception from user or model code. The
server's own refusals (a body that cannot be decoded, 404, 405, 413, the timeout) have
no trace to show.

User code may choose the status of its own errors the way the inference toolkit lets it:
an exception with an integer ``status_code`` attribute between 400 and 599 (for example
the toolkit's ``GenericInferenceToolkitError``) is answered with that status and its
``message`` attribute (or its text). Any other exception from user or model code is a 500.
"""

from __future__ import annotations

import json
import traceback

#: Name used for exceptions raised by user or model code.
MODEL_ERROR = "ModelError"
#: The toolkit's name for a type its codecs do not handle (415 and 406 alike).
UNSUPPORTED_FORMAT = "UnsupportedFormatError"


class InvocationError(Exception):
    """A request that cannot be served as sent; the client gets ``status`` and ``message``."""

    status = 400
    name = "BadRequest"
    #: whether the answer carries the traceback (the toolkit's 415/406 do)
    traced = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(InvocationError):
    """The body cannot be decoded: bad CSV or JSON, ragged rows, non-numbers."""


class UnsupportedMediaTypeError(InvocationError):
    """No decoder for the request's Content-Type."""

    status = 415
    name = UNSUPPORTED_FORMAT
    traced = True


class NotAcceptableError(InvocationError):
    """No encoder for anything the request's Accept allows."""

    status = 406
    name = UNSUPPORTED_FORMAT
    traced = True


class PayloadTooLargeError(InvocationError):
    """The body is over the payload limit."""

    status = 413
    name = "PayloadTooLarge"


class HandlerTimeout(BaseException):
    """Raised inside the handler when the invocation timeout expires.

    A BaseException on purpose: user code that catches ``Exception`` around its work must
    not swallow the timeout and carry on past it.
    """


def error_body(name: str, message: str, trace: str | None = None) -> bytes:
    """The JSON body of an error response (see the module docstring for its keys)."""
    body = {"error": name, "error-message": message, "message": message}
    if trace is not None:
        body["stack-trace"] = trace
    return json.dumps(body).encode()


def stack_trace(exc: BaseException) -> str:
    """The traceback of ``exc`` as Python prints it (the body's ``stack-trace``)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def user_error_status(exc: BaseException) -> tuple[int, str]:
    """Status and message for an exception from user or model code (see module docstring)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        message = getattr(exc, "message", None)
        return status, str(message) if message else str(exc)
    text = str(exc)
    return 500, f"{type(exc).__name__}: {text}" if text else type(exc).__name__
