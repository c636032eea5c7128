"""Multi-model serving (``SAGEMAKER_MULTI_MODEL=true``): SageMaker's ``/models`` contract,
and the loading on first use that SageMaker's own agent does in front of the server.

The contract's routes (``multi-models`` capability)::

    POST   /models               {"model_name": N, "url": DIR} load: 200; 409 already
                                 loaded; 507 the memory budget is short
    GET    /models               ?next_page_token=T&limit=L: {"models": [{"modelName",
                                 "modelUrl"}], "nextPageToken"} (absent on the last page)
    GET    /models/N             {"modelName", "modelUrl"}; 404 unknown
    DELETE /models/N             unload: 200; 404 unknown
    POST   /models/N/invoke      predict with model N: 404 not loaded

A name holding ``/`` is written percent-encoded in the path (``a%2Fmodel.tar.gz``).

Why the loading on a miss lives here too. On SageMaker a platform agent sits in front of
the container: it downloads the archive a request's ``TargetModel`` names, extracts it,
calls ``POST /models``, evicts under memory pressure and then calls ``/models/N/invoke``.
Dockyard's load balancer sends requests straight to the replicas, so that agent has no
process of its own to live in: it is this layer. The platform mounts the endpoint's model
prefix read-only at ``DOCKYARD_MODEL_PREFIX_DIR``; ``POST /invocations`` with the header
``X-Amzn-SageMaker-Target-Model: a/model.tar.gz`` loads ``<prefix>/a/model.tar.gz`` on
its first use (extracted under ``DOCKYARD_MODEL_CACHE_DIR``, named by the target itself),
unloading the least recently used models while the new one does not fit the budget
(``model_cache.py``), and predicts. A model stays loaded until it is unloaded, by a
``DELETE`` or to make room; idle time unloads nothing. An unload deletes the directory
this layer extracted, so the disk holds only what is loaded.

Each model gets the whole handler chain of a single-model server: its own
``code/inference.py`` when its archive has one (imported under a name of its own), the
framework defaults otherwise. One worker process holds the models (the server starts one
worker in this mode): the loaded set is then one fact that every request sees, and a model
costs its memory once. Replicas add parallelism, and the load balancer sends each target
model to the replicas that hold it (hashing on the header).

Every model operation runs on the handler thread (``handoff.py``), one at a time, so the
cache needs no lock and a load never races an invocation of the same model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote

from dockyard.runtime.serve.chain import HandlerChain, Reply
from dockyard.runtime.serve.config import ServeConfig
from dockyard.runtime.serve.errors import InvocationError, error_body
from dockyard.runtime.serve.handoff import HandlerThread
from dockyard.runtime.serve.loader import import_user_module, locate_user_module
from dockyard.runtime.serve.model_cache import BadPageToken, CachedModel, ModelCache, page_size

log = logging.getLogger("dockyard.serve")

TARGET_HEADER = b"x-amzn-sagemaker-target-model"
MAX_TARGET_LENGTH = 1024  # TargetModel: 1-1,024 characters
_JSON = b"application/json"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ModelNotLoadedError(InvocationError):
    status = 404
    name = "ModelNotFound"


class TargetModelError(InvocationError):
    """A target model the endpoint cannot serve: named as SageMaker Runtime names it."""

    name = "ValidationError"


class InsufficientMemoryError(InvocationError):
    status = 507
    name = "InsufficientMemory"


class ModelConflictError(InvocationError):
    status = 409
    name = "Conflict"


class ModelLoadError(InvocationError):
    status = 500
    name = "ModelError"


def _json(status: int, document: object) -> Reply:
    return Reply(status, _JSON, json.dumps(document).encode())


def _error(exc: InvocationError) -> Reply:
    return Reply(exc.status, _JSON, error_body(exc.name, exc.message))


def directory_bytes(path: str) -> int:
    """Bytes the files under ``path`` take (the model's cost, see ``model_cache.py``)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while walking
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _mb(size: int) -> str:
    return f"{size / 1048576:.2f} MB"


class MultiModel:
    """The models of a multi-model server and everything done to them."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.cache = ModelCache(config.model_memory_bytes)
        self.chains: dict[str, HandlerChain] = {}
        self.extracted: dict[str, str] = {}  # name -> directory this layer extracted

    # -- the contract's operations (on the handler thread) ------------------------------

    def load(self, name: str, url: str) -> Reply:
        """``POST /models``: 200, or 409 / 507 / 400 / 500 as the contract says."""
        try:
            self._load(name, url)
        except InvocationError as exc:
            return _error(exc)
        return _json(200, {"status": f'Model "{name}" loaded.'})

    def unload(self, name: str) -> Reply:
        """``DELETE /models/N``: 200, 404 for a model not loaded."""
        if name not in self.cache:
            return _error(ModelNotLoadedError(f"model {name} is not loaded"))
        self._unload(name)
        return _json(200, {"status": f'Model "{name}" unloaded.'})

    def describe(self, name: str) -> Reply:
        model = self.cache.get(name)
        if model is None:
            return _error(ModelNotLoadedError(f"model {name} is not loaded"))
        return _json(200, {"modelName": model.name, "modelUrl": model.url})

    def listing(self, token: str | None, limit: str | None) -> Reply:
        """``GET /models``: one page; ``nextPageToken`` only when more follow."""
        try:
            models, next_token = self.cache.page(token, page_size(limit))
        except (BadPageToken, ValueError) as exc:
            return _error(InvocationError(str(exc)))
        document: dict[str, Any] = {
            "models": [{"modelName": m.name, "modelUrl": m.url} for m in models]
        }
        if next_token is not None:
            document["nextPageToken"] = next_token
        return _json(200, document)

    def invoke_named(
        self, name: str, body: bytes, content_type: str | None, accept: str | None, headers: Any
    ) -> Reply:
        """``POST /models/N/invoke``: 404 unless N is loaded; raises as ``invoke`` does."""
        chain = self.chains.get(name)
        if chain is None:
            raise ModelNotLoadedError(
                f"model {name} is not loaded; load it first with POST /models"
            )
        self.cache.touch(name)
        return chain.invoke(body, content_type, accept, headers)

    def invoke_target(
        self, body: bytes, content_type: str | None, accept: str | None, headers: Any
    ) -> Reply:
        """``POST /invocations``: the model the target header names, loaded on a miss."""
        target = _target_of(headers)
        if target not in self.cache:
            self._load_target(target)
        return self.invoke_named(target, body, content_type, accept, headers)

    # -- internals ----------------------------------------------------------------------

    def _load(self, name: str, url: str) -> None:
        if name in self.cache:
            raise ModelConflictError(f"model {name} is already loaded")
        if not os.path.isdir(url):
            raise InvocationError(f"url {url} is not a directory in this container")
        size = directory_bytes(url)
        if not self.cache.fits(size):
            raise InsufficientMemoryError(self._shortage(name, size))
        started = time.perf_counter()
        try:
            chain = self._chain(name, url)
            chain.load_model()
        except Exception as exc:
            log.exception("loading model %s from %s failed", name, url)
            raise ModelLoadError(f"loading model {name} from {url} failed: {exc}") from None
        self.chains[name] = chain
        self.cache.add(CachedModel(name, url, size))
        log.info(
            "model %s loaded from %s in %.0f ms (%s; %s of %s in use)",
            name,
            url,
            (time.perf_counter() - started) * 1000,
            _mb(size),
            _mb(self.cache.used_bytes),
            _mb(self.cache.budget_bytes),
        )

    def _chain(self, name: str, url: str) -> HandlerChain:
        config = replace(self.config, model_dir=url)
        path = locate_user_module(config)
        module = None
        if path:
            unique = "dockyard_model_" + hashlib.sha256(name.encode()).hexdigest()[:16]
            module = import_user_module(path, unique)
        return HandlerChain(url, config.default_accept, module, path or "")

    def _unload(self, name: str) -> None:
        model = self.cache.remove(name)
        chain = self.chains.pop(name)
        sys.modules.pop("dockyard_model_" + hashlib.sha256(name.encode()).hexdigest()[:16], None)
        del chain
        directory = self.extracted.pop(name, None)
        if directory is not None:
            shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        log.info("model %s unloaded (%s freed)", name, _mb(model.size_bytes))

    def _load_target(self, target: str) -> None:
        """Extract ``target`` from the prefix, make room (least recently used first), load."""
        directory = self._extract(target)
        size = directory_bytes(directory)
        while not self.cache.fits(size):
            victim = self.cache.victim(keep=target)
            if victim is None:
                shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
                raise InsufficientMemoryError(self._shortage(target, size))
            self._unload(victim.name)
        try:
            self._load(target, directory)
        except BaseException:
            shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
            raise
        self.extracted[target] = directory

    def _extract(self, target: str) -> str:
        prefix = self.config.model_prefix_dir
        if prefix is None:
            raise TargetModelError(
                "this model server has no model prefix (DOCKYARD_MODEL_PREFIX_DIR), so it "
                f"cannot fetch target model {target}; load it with POST /models first"
            )
        archive = os.path.join(prefix, target)
        if not os.path.isfile(archive):
            raise TargetModelError(
                f"Failed to download model data for target model {target}: there is no "
                f"object {target} under the endpoint's model prefix. Please ensure that "
                "there is an object located at the URL."
            )
        digest = hashlib.sha256(target.encode()).hexdigest()[:24]
        home = os.path.join(self.config.model_cache_dir, digest)
        shutil.rmtree(home, ignore_errors=True)  # left by a worker that died mid-way
        directory = os.path.join(home, "model")
        os.makedirs(directory)
        try:
            with tarfile.open(archive) as tar:
                extract_safely(tar, directory)
        except (tarfile.TarError, OSError, ValueError) as exc:
            shutil.rmtree(home, ignore_errors=True)
            raise TargetModelError(
                f"target model {target} is not a readable .tar.gz archive: {exc}"
            ) from None
        return directory

    def _shortage(self, name: str, size: int) -> str:
        return (
            f"model {name} needs {_mb(size)}; {_mb(self.cache.used_bytes)} of the "
            f"{_mb(self.cache.budget_bytes)} budget are taken by {len(self.cache)} loaded "
            "models. Unload one (DELETE /models/NAME) or raise DOCKYARD_MODEL_MEMORY_MB"
        )


def extract_safely(tar: tarfile.TarFile, directory: str) -> None:
    """Extract only files and folders that stay inside ``directory``.

    ``extractall(filter="data")`` does this where Python has it (3.11.4 and later); the
    Debian 3.11 of the images predates it, so the members are checked here instead.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(directory, filter="data")
        return
    root = os.path.realpath(directory)
    members = []
    for member in tar.getmembers():
        path = os.path.realpath(os.path.join(root, member.name))
        if path != root and not path.startswith(root + os.sep):
            raise ValueError(f"{member.name} would land outside the model directory")
        if member.isfile() or member.isdir():
            member.mode = (member.mode | 0o600) & 0o755
            members.append(member)
    tar.extractall(root, members=members)


def _target_of(headers: Any) -> str:
    """The target model header's value, checked as InvokeEndpoint checks TargetModel."""
    for key, value in headers:
        if key == TARGET_HEADER:
            target = str(value.decode("utf-8", "replace"))
            break
    else:
        raise TargetModelError(
            "a multi-model endpoint needs the target model: send the header "
            "X-Amzn-SageMaker-Target-Model (TargetModel), e.g. a/model.tar.gz"
        )
    parts = target.split("/")
    if (
        not 1 <= len(target) <= MAX_TARGET_LENGTH
        or target.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise TargetModelError(
            f"TargetModel {target[:80]!r} must be 1-{MAX_TARGET_LENGTH} characters naming "
            "an object under the endpoint's model prefix (e.g. a/model.tar.gz), without "
            "empty, '.' or '..' parts"
        )
    return target


# -- the /models routes on the event loop ------------------------------------------------


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
    models: MultiModel, handlers: HandlerThread, scope: Scope, receive: Receive
) -> Reply:
    """Answer a ``/models`` request other than ``invoke``."""
    name, action = model_path(scope)
    method = scope["method"]
    if action is not None:
        return _error(ModelNotLoadedError(f"no route /models/{name}/{action}"))
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
        return _error(InvocationError('the body must be {"model_name": NAME, "url": DIR}'))
    for field in ("model_name", "url"):
        value = document.get(field)
        if not isinstance(value, str) or not value:
            return _error(
                InvocationError(
                    f'{field} is missing or not a string; send {{"model_name": NAME, "url": DIR}}'
                )
            )
    return document["model_name"], document["url"]
