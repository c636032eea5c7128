"""Which default handlers serve a model: one set per framework image.

Each framework image says which framework it holds in ``DOCKYARD_FRAMEWORK`` (written
into the image by its Dockerfile, so images built ``FROM`` it inherit it), and the model
server fills every handler the user's ``inference.py`` leaves out from that framework's
set, as each AWS framework container has its own defaults:

============  =====================================  ==================================
framework     default model_fn loads                 default input_fn reads
============  =====================================  ==================================
sklearn       ``model.joblib`` / ``model.pkl``        CSV, JSON (float32), NPY, NPZ -> array
xgboost       ``xgboost-model`` (pickle, JSON, UBJ)  CSV, LIBSVM, RecordIO-protobuf,
                                                     JSON, NPY -> DMatrix
pytorch       TorchScript ``model.pt`` / ``*.pth``   JSON, CSV, NPY, NPZ -> tensor
============  =====================================  ==================================

Unset means scikit-learn, the first framework, so images built before this variable
existed keep their behaviour. Nothing here imports numpy or a framework: the modules
holding the handlers are imported only when a set is asked for, after the server has
sized the native thread pools.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

#: Set by each framework image; names the handler set (one of :data:`KNOWN_FRAMEWORKS`).
FRAMEWORK_ENV = "DOCKYARD_FRAMEWORK"
DEFAULT_FRAMEWORK = "sklearn"
#: Framework name -> the module whose ``DEFAULTS`` is its handler set.
_MODULES = {
    "sklearn": "dockyard.runtime.serve.defaults",
    "xgboost": "dockyard.runtime.serve.xgboost_defaults",
    "pytorch": "dockyard.runtime.serve.pytorch_defaults",
}
KNOWN_FRAMEWORKS: tuple[str, ...] = tuple(_MODULES)


@dataclass(frozen=True)
class FrameworkDefaults:
    """One framework's default handlers and what they read and write.

    ``content_types`` are the request types the default ``input_fn`` decodes (others are
    a 415 before any user code runs) and ``accepts`` the response types the default
    ``output_fn`` encodes (406 when Accept allows none), in order of preference.
    ``straight`` says the scikit-learn fast path applies (``model.predict`` on the
    codec's rows, no per-call handler dispatch); ``batchable`` that the default
    ``predict_fn`` can take several requests' rows stacked together.

    ``loading`` wraps ``model_fn`` (the user's or the default). The model is loaded once
    in the server's first process, which then forks the workers; a framework whose
    OpenMP thread pool is started before a fork hangs in the child (GNU OpenMP cannot
    follow a fork), so a framework built on it loads with one thread and leaves the
    workers their share (:func:`thread_share`) to start their own pools with.
    """

    name: str
    model_fn: Callable[[str], Any]
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    content_types: tuple[str, ...]
    accepts: tuple[str, ...]
    straight: bool = False
    batchable: bool = False
    loading: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext

    def handlers(self) -> dict[str, Callable[..., Any]]:
        """Handler name -> default function, in the chain's order."""
        return {
            "model_fn": self.model_fn,
            "input_fn": self.input_fn,
            "predict_fn": self.predict_fn,
            "output_fn": self.output_fn,
        }

    def unsupported_content_type(self, media: str) -> str:
        """The 415 message for a request type the default input_fn does not read."""
        return unsupported_content_type(media, self.content_types, self.name)

    def not_acceptable(self, accept: str) -> str:
        """The 406 message for an Accept the default output_fn cannot satisfy."""
        return not_acceptable(accept, self.accepts, self.name)


def framework_defaults(name: str | None = None) -> FrameworkDefaults:
    """The handler set of ``name`` (default: ``$DOCKYARD_FRAMEWORK``, else scikit-learn).

    Raises ValueError naming the variable and the known frameworks for an unknown name.
    """
    chosen = check_framework(name if name is not None else os.environ.get(FRAMEWORK_ENV))
    module = importlib.import_module(_MODULES[chosen])
    defaults: FrameworkDefaults = module.DEFAULTS
    return defaults


def thread_share() -> int:
    """Native threads per worker: ``OMP_NUM_THREADS`` as the server set it, else all CPUs."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, len(os.sched_getaffinity(0)))


def check_framework(raw: str | None) -> str:
    """The normalised framework name (empty -> scikit-learn); ValueError when unknown."""
    name = (raw or "").strip().lower() or DEFAULT_FRAMEWORK
    if name not in _MODULES:
        raise ValueError(
            f"{FRAMEWORK_ENV}={raw!r} is not a framework this server has defaults for; "
            f"use one of {', '.join(KNOWN_FRAMEWORKS)}"
        )
    return name


def unsupported_content_type(media: str, readable: Collection[str], framework: str = "") -> str:
    """The 415 message: what was sent, what the default input_fn reads, how to extend it."""
    which = f"the {framework} " if framework else "the "
    return (
        f"Content-Type {media or '(empty)'} is not supported by {which}default input_fn; "
        f"send {one_of(list(readable))}, or define input_fn(input_data, content_type) in "
        "inference.py to decode it"
    )


def not_acceptable(accept: str, writable: Collection[str], framework: str = "") -> str:
    """The 406 message: what Accept allowed, what the default output_fn writes."""
    which = f"the {framework} " if framework else "the "
    return (
        f"cannot answer in any type Accept allows ({accept}); {which}default output_fn "
        f"writes {one_of(list(writable))}; define output_fn(prediction, accept) in "
        "inference.py for other types"
    )


def one_of(names: Sequence[str]) -> str:
    """``['a', 'b', 'c']`` -> ``'a, b or c'``."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
