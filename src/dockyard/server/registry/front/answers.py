"""The front's own answers, in the shapes registry clients know how to print.

Docker, Podman and skopeo show a registry's refusal as ``<code in words>: <message>``
only when it comes in Distribution's error shape, so every refusal the front makes
itself (rather than relaying Distribution's) is built here, carrying ECR's wording
where ECR has a name for the failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

RETRY_AFTER_S = 5
READ_ONLY_MESSAGE = "the registry is collecting garbage; retry shortly"
DOWN_MESSAGE = "the registry is not answering (it may be restarting); retry shortly"
LOST_MESSAGE = "the registry dropped the connection; retry"


def registry_error(
    status: int,
    code: str,
    message: str,
    *,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error in Distribution's shape, which docker and skopeo print as
    ``<code in words>: <message>``."""
    return JSONResponse(
        {"errors": [{"code": code, "message": message, "detail": detail}]},
        status_code=status,
        headers={"Docker-Distribution-API-Version": "registry/2.0", **(headers or {})},
    )


def name_unknown(name: str) -> JSONResponse:
    """ECR's RepositoryNotFoundException, told the way a registry client prints it."""
    return registry_error(
        404,
        "NAME_UNKNOWN",
        f"The repository with name '{name}' does not exist in the registry "
        f"(create it first: `dockyard repo create {name}`)",
        detail={"name": name},
    )


def tag_invalid(tag: str, message: str) -> JSONResponse:
    """A refused tag: ``docker push`` prints "tag invalid: <message>"."""
    return registry_error(400, "TAG_INVALID", message, detail={"tag": tag})


def manifest_too_large(limit: int) -> JSONResponse:
    return registry_error(400, "MANIFEST_INVALID", f"a manifest is at most {limit} bytes")


def unavailable(message: str) -> JSONResponse:
    """A 503 clients may retry: they wait ``Retry-After`` seconds where they can."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return registry_error(503, "UNAVAILABLE", message, headers=headers)


def read_only() -> JSONResponse:
    return unavailable(READ_ONLY_MESSAGE)


def invalid_token(realm: str, service: str, name: str) -> JSONResponse:
    """Distribution's answer to a token it cannot verify: a fresh challenge, so that a
    client with a stale token fetches a new one and tries again."""
    challenge = (
        f'Bearer realm="{realm}",service="{service}",'
        f'scope="repository:{name}:pull,push",error="invalid_token"'
    )
    return registry_error(
        401, "UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": challenge}
    )


def token_error(status: int, message: str) -> JSONResponse:
    """A refusal of the token endpoint; docker prints ``details`` (or the errors)."""
    headers = {"WWW-Authenticate": 'Basic realm="dockyard-registry"'} if status == 401 else {}
    code = "UNAUTHORIZED" if status == 401 else "UNSUPPORTED"
    return JSONResponse(
        {"errors": [{"code": code, "message": message}], "details": message},
        status_code=status,
        headers=headers,
    )
