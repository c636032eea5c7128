"""How an invocation fails, and what the client reads when it does.

Every error response is a small JSON object ``{"error": NAME, "message": TEXT}``: NAME is
a stable word a program can branch on, TEXT says what was wrong and, where it can, how to
fix it. (The SageMaker toolkits answer errors with free text or an undocumented JSON
shape, so there is no format to stay compatible with; this one is easy to read in both
``curl`` output and CloudWatch-style logs.)

User code may choose the status of its own errors the way the inference toolkit lets it:
an exception with an integer ``status_code`` attribute between 400 and 599 (for example
the toolkit's ``GenericInferenceToolkitError``) is answered with that status and its
``message`` attribute (or its text). Any other exception from user or model code is a 500.
"""

from __future__ import annotations

import json

#: Name used for exceptions raised by user or model code.
MODEL_ERROR = "ModelError"


class InvocationError(Exception):
    """A request that cannot be served as sent; the client gets ``status`` and ``message``."""

    status = 400
    name = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(InvocationError):
    """The body cannot be decoded: bad CSV or JSON, ragged rows, non-numbers."""


class UnsupportedMediaTypeError(InvocationError):
    """No decoder for the request's Content-Type."""

    status = 415
    name = "UnsupportedMediaType"


class NotAcceptableError(InvocationError):
    """No encoder for anything the request's Accept allows."""

    status = 406
    name = "NotAcceptable"


class PayloadTooLargeError(InvocationError):
    """The body is over the payload limit."""

    status = 413
    name = "PayloadTooLarge"


class HandlerTimeout(BaseException):
    """Raised inside the handler when the invocation timeout expires.

    A BaseException on purpose: user code that catches ``Exception`` around its work must
    not swallow the timeout and carry on past it.
    """


def error_body(name: str, message: str) -> bytes:
    """The JSON body of an error response."""
    return json.dumps({"error": name, "message": message}).encode()


def user_error_status(exc: BaseException) -> tuple[int, str]:
    """Status and message for an exception from user or model code (see module docstring)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        message = getattr(exc, "message", None)
        return status, str(message) if message else str(exc)
    text = str(exc)
    return 500, f"{type(exc).__name__}: {text}" if text else type(exc).__name__
