"""The ``/models`` routes of a multi-model server, on the event loop (see ``multi_model.py``).

Parsing and validation happen here; every operation on the models themselves is handed
to the worker's handlers (``handlers.py``), like an invocation.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote

from dockyard.runtime.serve.chain import Reply
from dockyard.runtime.serve.errors import InvocationError, error_body
from dockyard.runtime.serve.handlers import Handlers
from dockyard.runtime.serve.multi_model import (
    ModelNotLoadedError,
    MultiModel,
    error_reply,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
_JSON = b"application/json"


def model_path(scope: Scope) -> tuple[str | None, str | None]:
    """(model name, action) of a ``/models...`` path: (None, None) for ``/models``,
    (N, None) for ``/models/N``, (N, "invoke") for ``/models/N/invoke``; the name is
    percent-decoded from the raw path, so it may hold ``/``."""
    raw = scope.get("raw_path") or scope["path"].encode()
    parts = raw.split(b"?", 1)[0].rstrip(b"/").split(b"/")[2:]
    if not parts:
        return None, None
    name = unquote(parts[0].decode("latin-1"))
    action = "/".join(p.decode("latin-1") for p in parts[1:]) or None
    return name, action


async def models_route(
    models: MultiModel, handlers: Handlers, scope: Scope, receive: Receive
) -> Reply:
    """Answer a ``/models`` request other than ``invoke``."""
    name, action = model_path(scope)
    method = scope["method"]
    if action == "invoke":
        return _not_allowed("/models/NAME/invoke answers POST", b"POST")
    if action is not None:
        return error_reply(ModelNotLoadedError(f"no route /models/{name}/{action}"))
    if name is None:
        if method == "GET":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = query.get("next_page_token", [None])[0]
            limit = query.get("limit", [None])[0]
            return await handlers.call(models.listing, token, limit)
        if method == "POST":
            request = await _read_json(receive)
            if isinstance(request, Reply):
                return request
            return await handlers.call(models.load, *request)
        return _not_allowed("/models answers GET and POST", b"GET, POST")
    if method == "GET":
        return await handlers.call(models.describe, name)
    if method == "DELETE":
        return await handlers.call(models.unload, name)
    return _not_allowed("/models/NAME answers GET and DELETE", b"GET, DELETE")


def _not_allowed(message: str, allow: bytes) -> Reply:
    return Reply(405, _JSON, error_body("MethodNotAllowed", message), ((b"allow", allow),))


async def _read_json(receive: Receive) -> tuple[str, str] | Reply:
    """(model_name, url) of a ``POST /models`` body, or the 400 saying what is wrong."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        document = json.loads(b"".join(chunks) or b"null")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return error_reply(InvocationError('the body must be {"model_name": NAME, "url": DIR}'))
    for field in ("model_name", "url"):
        value = document.get(field)
        if not isinstance(value, str) or not value:
            return error_reply(
                InvocationError(
                    f'{field} is missing or not a string; send {{"model_name": NAME, "url": DIR}}'
                )
            )
    return document["model_name"], document["url"]
