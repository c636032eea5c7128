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
framework defaults otherwise. The server runs its usual worker processes: which models are
loaded is one server-wide fact (``model_registry.py``), and each worker makes its own copy
of a loaded model on its first request for it, so a hot model is served at a single-model
server's rate. The budget charges each model once per worker for that reason. Across
replicas, the load balancer sends each target model to the replicas that hold it
(hashing on the header).

Within a worker every model operation runs through the handlers (``handlers.py``), one at
a time; across workers, loads and unloads take the registry's lock.
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
from dataclasses import replace
from typing import Any

from dockyard.runtime.archives import extract_safely
from dockyard.runtime.serve.chain import HandlerChain, Reply
from dockyard.runtime.serve.config import ServeConfig
from dockyard.runtime.serve.errors import InvocationError, error_body
from dockyard.runtime.serve.loader import import_user_module, locate_user_module
from dockyard.runtime.serve.model_cache import BadPageToken, CachedModel, ModelCache, page_size
from dockyard.runtime.serve.model_registry import Entry, RegistryFull, SharedRegistry

log = logging.getLogger("dockyard.serve")

TARGET_HEADER = b"x-amzn-sagemaker-target-model"
MAX_TARGET_LENGTH = 1024  # TargetModel: 1-1,024 characters
_JSON = b"application/json"


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


def json_reply(status: int, document: object) -> Reply:
    return Reply(status, _JSON, json.dumps(document).encode())


def error_reply(exc: InvocationError) -> Reply:
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
    """The models of a multi-model server and everything done to them, in one worker.

    ``registry`` is the server-wide list of loaded models (``model_registry.py``);
    ``chains`` are this worker's copies, made on its first request for each model and
    dropped once the registry no longer lists it. Each model is charged its directory's
    size once per worker, since every worker may come to hold a copy.
    """

    def __init__(self, config: ServeConfig, registry: SharedRegistry) -> None:
        self.config = config
        self.registry = registry
        self.copies = config.workers
        self.chains: dict[str, tuple[str, HandlerChain]] = {}  # name -> (url, chain)
        self.entries: dict[str, Entry] = {}
        self.seen = -1  # the registry generation ``entries`` reflects

    # -- the contract's operations (through the handlers) ------------------------------

    def load(self, name: str, url: str) -> Reply:
        """``POST /models``: 200, or 409 / 507 / 400 / 500 as the contract says."""
        try:
            with self.registry.locked():
                entries = self.registry.read()
                if name in entries:
                    raise ModelConflictError(f"model {name} is already loaded")
                if not os.path.isdir(url):
                    raise InvocationError(f"url {url} is not a directory in this container")
                size = directory_bytes(url) * self.copies
                cache = self._cache(entries)
                if not cache.fits(size):
                    raise InsufficientMemoryError(self._shortage(name, size, cache))
                self._admit(entries, Entry(name, url, size, 0, extracted=False), ())
        except InvocationError as exc:
            return error_reply(exc)
        return json_reply(200, {"status": f'Model "{name}" loaded.'})

    def unload(self, name: str) -> Reply:
        """``DELETE /models/N``: 200, 404 for a model not loaded."""
        with self.registry.locked():
            entries = self.registry.read()
            entry = entries.pop(name, None)
            if entry is None:
                return error_reply(ModelNotLoadedError(f"model {name} is not loaded"))
            self.registry.write(entries)
            self._forget(entry)
        self._sync()
        return json_reply(200, {"status": f'Model "{name}" unloaded.'})

    def describe(self, name: str) -> Reply:
        self._sync()
        entry = self.entries.get(name)
        if entry is None:
            return error_reply(ModelNotLoadedError(f"model {name} is not loaded"))
        return json_reply(200, {"modelName": entry.name, "modelUrl": entry.url})

    def listing(self, token: str | None, limit: str | None) -> Reply:
        """``GET /models``: one page; ``nextPageToken`` only when more follow."""
        self._sync()
        try:
            models, next_token = self._cache(self.entries).page(token, page_size(limit))
        except (BadPageToken, ValueError) as exc:
            return error_reply(InvocationError(str(exc)))
        document: dict[str, Any] = {
            "models": [{"modelName": m.name, "modelUrl": m.url} for m in models]
        }
        if next_token is not None:
            document["nextPageToken"] = next_token
        return json_reply(200, document)

    def invoke_named(
        self, name: str, body: bytes, content_type: str | None, accept: str | None, headers: Any
    ) -> Reply:
        """``POST /models/N/invoke``: 404 unless N is loaded; raises as ``invoke`` does."""
        self._sync()
        entry = self.entries.get(name)
        if entry is None:
            raise ModelNotLoadedError(
                f"model {name} is not loaded; load it first with POST /models"
            )
        held = self.chains.get(name)
        chain = held[1] if held is not None else self._copy(entry)
        self.registry.touch(entry.slot)
        return chain.invoke(body, content_type, accept, headers)

    def invoke_target(
        self, body: bytes, content_type: str | None, accept: str | None, headers: Any
    ) -> Reply:
        """``POST /invocations``: the model the target header names, loaded on a miss."""
        target = _target_of(headers)
        self._sync()
        if target not in self.entries:
            self._load_target(target)
        if self.config.model_caching:
            return self.invoke_named(target, body, content_type, accept, headers)
        try:
            return self.invoke_named(target, body, content_type, accept, headers)
        finally:  # ModelCacheSetting Disabled
            self.unload(target)

    # -- internals ----------------------------------------------------------------------

    def _sync(self) -> None:
        """Catch up with the registry: drop the copies of models no longer loaded."""
        generation = self.registry.generation()
        if generation == self.seen:
            return
        self.entries = self.registry.read()
        self.seen = generation
        for name, (url, _chain) in list(self.chains.items()):
            entry = self.entries.get(name)
            if entry is None or entry.url != url:
                del self.chains[name]
                sys.modules.pop(_module_name(name), None)

    def _cache(self, entries: dict[str, Entry]) -> ModelCache:
        """The entries in least- to most-recently-used order, for budget and victims."""
        cache = ModelCache(self.config.model_memory_bytes)
        for entry in sorted(entries.values(), key=lambda e: self.registry.last_used(e.slot)):
            cache.add(CachedModel(entry.name, entry.url, entry.size_bytes))
        return cache

    def _copy(self, entry: Entry) -> HandlerChain:
        """This worker's copy of a loaded model (its first request for it here)."""
        try:
            chain = self._chain(entry.name, entry.url)
            chain.load_model()
        except Exception as exc:
            log.exception("loading model %s from %s failed", entry.name, entry.url)
            raise ModelLoadError(
                f"loading model {entry.name} from {entry.url} failed: {exc}"
            ) from None
        self.chains[entry.name] = (entry.url, chain)
        return chain

    def _admit(self, entries: dict[str, Entry], entry: Entry, evicted: tuple[str, ...]) -> None:
        """Load ``entry`` here, then list it (and unlist ``evicted``); hold the lock."""
        started = time.perf_counter()
        try:
            slot = self.registry.free_slot({k: v for k, v in entries.items() if k not in evicted})
        except RegistryFull as exc:
            raise InsufficientMemoryError(str(exc)) from None
        entry = replace(entry, slot=slot)
        self.chains.pop(entry.name, None)
        self._copy(entry)
        gone = [entries.pop(name) for name in evicted]
        entries[entry.name] = entry
        self.registry.touch(slot)
        self.registry.write(entries)
        for old in gone:
            self._forget(old)
        used = sum(e.size_bytes for e in entries.values())
        log.info(
            "model %s loaded from %s in %.0f ms (%s; %s of %s in use)",
            entry.name,
            entry.url,
            (time.perf_counter() - started) * 1000,
            _mb(entry.size_bytes),
            _mb(used),
            _mb(self.config.model_memory_bytes),
        )
        self._sync()

    def _forget(self, entry: Entry) -> None:
        """After ``entry`` was unlisted: drop this worker's copy and its extracted files."""
        self.chains.pop(entry.name, None)
        sys.modules.pop(_module_name(entry.name), None)
        if entry.extracted:
            shutil.rmtree(os.path.dirname(entry.url), ignore_errors=True)
        log.info("model %s unloaded (%s freed)", entry.name, _mb(entry.size_bytes))

    def _chain(self, name: str, url: str) -> HandlerChain:
        config = replace(self.config, model_dir=url)
        path = locate_user_module(config)
        module = import_user_module(path, _module_name(name)) if path else None
        return HandlerChain(url, config.default_accept, module, path or "")

    def _load_target(self, target: str) -> None:
        """Extract ``target`` from the prefix, make room (least recently used first), load."""
        with self.registry.locked():
            entries = self.registry.read()
            if target in entries:  # another worker loaded it meanwhile
                return
            directory = self._extract(target)
            size = directory_bytes(directory) * self.copies
            cache = self._cache(entries)
            evicted = []
            while not cache.fits(size):
                victim = cache.victim(keep=target)
                if victim is None:
                    shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
                    raise InsufficientMemoryError(self._shortage(target, size, cache))
                evicted.append(cache.remove(victim.name).name)
            try:
                self._admit(entries, Entry(target, directory, size, 0, True), tuple(evicted))
            except BaseException:
                shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
                raise

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
        home = os.path.join(self.registry.directory, digest)
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

    def _shortage(self, name: str, size: int, cache: ModelCache) -> str:
        return (
            f"model {name} needs {_mb(size)} ({self.copies} worker copies); "
            f"{_mb(cache.used_bytes)} of the {_mb(cache.budget_bytes)} budget are taken by "
            f"{len(cache)} loaded models. Unload one (DELETE /models/NAME) or raise "
            "DOCKYARD_MODEL_MEMORY_MB"
        )


def _module_name(model: str) -> str:
    """The name a model's own inference.py is imported under (one per model)."""
    return "dockyard_model_" + hashlib.sha256(model.encode()).hexdigest()[:16]


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
