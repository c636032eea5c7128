"""The handler chain: ``model_fn`` once, then per request ``input_fn`` -> ``predict_fn`` ->
``output_fn``, or one ``transform_fn`` -- the SageMaker inference toolkit's contract.

Each function comes from the user's module when it defines it, else from the image's
framework defaults (``frameworks.py``: scikit-learn, XGBoost or PyTorch). As in the
toolkit:

* ``transform_fn`` together with any of input/predict/output_fn is refused at start;
* a function declaring one parameter more than its usual signature gets a ``Context``
  as that last argument (``context.py``);
* user functions see the Content-Type and Accept headers as sent (Accept replaced by
  the default when missing or ``*/*``), and JSON/CSV bodies as ``str``;
* ``output_fn``/``transform_fn`` return a body, or a ``(body, content_type)`` tuple;
* ``pre_model_fn(model_dir)`` and ``model_warmup_fn(model_dir, model)``, when the module
  defines them, run just before and just after model_fn (``load_model``).

Decisions the toolkit leaves open, made here: a request without Content-Type is read as
JSON (what the scikit-learn container's server does); when the default codecs do the
decoding or encoding, an unreadable Content-Type (415) or an unwritable Accept (406) is
refused before any user code runs; when the default input and predict functions serve a
model that records ``n_features_in_``, rows of the wrong width are a 400 naming the
expected width instead of a 500 from inside scikit-learn.

When the user defines neither input/predict/output_fn nor transform_fn (only model_fn, or
no module at all), ``invoke`` takes a straight path with no context, no per-call
signature handling and cached header parsing: that is the path benchmarks measure.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from dockyard.runtime.serve import defaults
from dockyard.runtime.serve.codecs import ENCODERS
from dockyard.runtime.serve.context import Context, headers_from_scope
from dockyard.runtime.serve.errors import (
    MODEL_ERROR,
    BadRequestError,
    InvocationError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
    error_body,
    stack_trace,
    user_error_status,
)
from dockyard.runtime.serve.frameworks import FrameworkDefaults, framework_defaults
from dockyard.runtime.serve.loader import UserCodeError
from dockyard.runtime.serve.media import ANY, JSON, TEXT_TYPES, AcceptNegotiator, media_type

#: Handler name -> its arguments without context (as written in the toolkit's docs).
SIGNATURES = {
    "model_fn": ("model_dir",),
    "input_fn": ("input_data", "content_type"),
    "predict_fn": ("data", "model"),
    "output_fn": ("prediction", "accept"),
    "transform_fn": ("model", "input_data", "content_type", "accept"),
    "pre_model_fn": ("model_dir",),
    "model_warmup_fn": ("model_dir", "model"),
}
_STEPS = ("model_fn", "input_fn", "predict_fn", "output_fn")
#: Loading hooks the toolkit runs around model_fn, only when the user's module has them.
_HOOKS = ("pre_model_fn", "model_warmup_fn")
_CODEC_CONTENT_TYPES = {media: media.encode() for media in ENCODERS}
_OCTET_STREAM = "application/octet-stream"
_JSON = b"application/json"
log = logging.getLogger("dockyard.serve")
_SKIPPED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "connection"})

Header = tuple[bytes, bytes]


class Reply(NamedTuple):
    """What ``/invocations`` answers: status, Content-Type, body, any further headers."""

    status: int
    content_type: bytes
    body: bytes
    headers: tuple[Header, ...] | list[Header] = ()


class Prepared(NamedTuple):
    """One request decoded and ready to predict: the data, the chosen Accept, its context."""

    data: Any
    accept: str
    context: Context | None


#: The attribute a user ``predict_fn`` sets to say it takes batches (``batching.py``).
ACCEPTS_BATCHES = "accepts_batches"


class Handler:
    """One handler function, and whether it takes the trailing context argument."""

    def __init__(self, name: str, fn: Callable[..., Any], user: bool, source: str) -> None:
        self.name = name
        self.fn = fn
        self.user = user
        self.wants_context = user and _wants_context(name, fn, source)

    def __call__(self, *args: Any, context: Context | None) -> Any:
        if self.wants_context:
            return self.fn(*args, context)
        return self.fn(*args)


class HandlerChain:
    """The model and the functions that serve it; ``invoke`` answers one request.

    ``defaults`` is the framework's handler set; None means the image's own
    (``$DOCKYARD_FRAMEWORK``), so every chain built inside a framework image gets it.
    """

    def __init__(
        self,
        model_dir: str,
        default_accept: str,
        module: ModuleType | None = None,
        source: str = "",
        defaults: FrameworkDefaults | None = None,
    ) -> None:
        self.defaults = defaults if defaults is not None else framework_defaults()
        self.model_dir = model_dir
        self.default_accept = default_accept
        self.source = source
        self.model: Any = None
        self._n_features: int | None = None
        found = {name: fn for name in SIGNATURES if callable(fn := getattr(module, name, None))}
        self.user_functions = sorted(found)
        self._check_combination()
        self.handlers = {
            name: Handler(name, found.get(name, fallback), name in found, source)
            for name, fallback in self.defaults.handlers().items()
        }
        transform = found.get("transform_fn")
        self.transform = Handler("transform_fn", transform, True, source) if transform else None
        self.hooks = {
            name: Handler(name, found[name], True, source) for name in _HOOKS if name in found
        }
        self.straight = (
            self.defaults.straight
            and self.transform is None
            and not ({"input_fn", "predict_fn", "output_fn"} & set(self.user_functions))
        )
        self.wants_context = any(
            h.wants_context for name, h in self.handlers.items() if name != "model_fn"
        ) or bool(self.transform and self.transform.wants_context)
        self.negotiator = AcceptNegotiator(self.defaults.accepts, default_accept)
        self._check_default_accept()

    def describe(self) -> str:
        """One line for the start log: where each handler comes from."""
        used = [n for n in (*_HOOKS, *_STEPS, "transform_fn") if n in self.user_functions]
        if self.transform is not None:
            fallback = ["model_fn"] if "model_fn" not in self.user_functions else []
        else:
            fallback = [n for n in _STEPS if n not in self.user_functions]
        parts = []
        if self.source:
            parts.append(f"{self.source} ({', '.join(used) or 'no handler functions'})")
        if fallback:
            parts.append(f"{self.defaults.name} defaults for {', '.join(fallback)}")
        return "; ".join(parts)

    def load_model(self) -> None:
        """Run model_fn once (before the server accepts, so /ping is honest).

        As in the inference toolkit, the user's ``pre_model_fn(model_dir)`` runs just
        before model_fn and ``model_warmup_fn(model_dir, model)`` just after it (each with
        a trailing context when it declares one more parameter); what they return is
        ignored, and an exception from either fails the load as one from model_fn does.
        All three run under the framework's loading guard, so a warm-up that predicts
        starts no thread pool the forked workers would inherit.
        """
        handler = self.handlers["model_fn"]
        context = Context(self.model_dir)
        pre, warmup = self.hooks.get("pre_model_fn"), self.hooks.get("model_warmup_fn")
        with self.defaults.loading():
            if pre is not None:
                pre(self.model_dir, context=context)
            self.model = handler(self.model_dir, context=context)
            if warmup is not None:
                warmup(self.model_dir, self.model, context=context)
        width = getattr(self.model, "n_features_in_", None)
        self._n_features = int(width) if isinstance(width, int | np.integer) else None

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        raw_headers: list[Header],
    ) -> Reply:
        """Answer one ``POST /invocations``; raises InvocationError or the user's error."""
        if not content_type:
            content_type = JSON
        if not accept or accept == ANY:
            accept = self.default_accept
        if self.straight:
            return self._invoke_defaults(body, content_type, accept)
        return self._invoke_user(body, content_type, accept, raw_headers)

    def _invoke_defaults(self, body: bytes, content_type: str, accept: str) -> Reply:
        media = media_type(content_type)
        decoder = defaults.DECODERS.get(media)
        if decoder is None:
            raise UnsupportedMediaTypeError(defaults.unsupported_content_type(media))
        chosen = self.negotiator.choose(accept)
        if chosen is None:
            raise NotAcceptableError(defaults.not_acceptable(accept))
        data = decoder(body)
        self._check_width(data)
        prediction = self.model.predict(data)
        return Reply(200, _CODEC_CONTENT_TYPES[chosen], ENCODERS[chosen](prediction))

    def _invoke_user(
        self, body: bytes, content_type: str, accept: str, raw_headers: list[Header]
    ) -> Reply:
        context = (
            Context(self.model_dir, headers_from_scope(raw_headers)) if self.wants_context else None
        )
        media = media_type(content_type)
        payload: bytes | str = _as_text(body) if media in TEXT_TYPES else body
        if self.transform is not None:
            result = self.transform(self.model, payload, content_type, accept, context=context)
            return _reply(result, accept, context)
        handlers = self.handlers
        if not handlers["input_fn"].user and media not in self.defaults.content_types:
            raise UnsupportedMediaTypeError(self.defaults.unsupported_content_type(media))
        output_accept = accept
        if not handlers["output_fn"].user:
            chosen = self.negotiator.choose(accept)
            if chosen is None:
                raise NotAcceptableError(self.defaults.not_acceptable(accept))
            output_accept = chosen
        data = handlers["input_fn"](payload, content_type, context=context)
        if not handlers["input_fn"].user and not handlers["predict_fn"].user:
            self._check_width(data)
        prediction = handlers["predict_fn"](data, self.model, context=context)
        result = handlers["output_fn"](prediction, output_accept, context=context)
        return _reply(result, output_accept, context)

    # -- the same steps, one at a time, for the batching wrapper (``batching.py``) ------
    def batch_refusal(self) -> str | None:
        """Why predict_fn cannot take several requests' rows at once; None when it can."""
        if self.transform is not None:
            return "transform_fn handles one request at a time"
        predict = self.handlers["predict_fn"]
        if not predict.user and not self.defaults.batchable:
            return f"the {self.defaults.name} default predict_fn takes one request at a time"
        if predict.user:
            if getattr(predict.fn, ACCEPTS_BATCHES, False) is not True:
                return (
                    f"predict_fn in {self.source} does not declare "
                    f"predict_fn.{ACCEPTS_BATCHES} = True"
                )
            if predict.wants_context:
                return "predict_fn takes a per-request context"
            return None
        if not callable(getattr(self.model, "predict", None)):
            return "the model has no predict method"
        return None

    def prepare(
        self, body: bytes, content_type: str | None, accept: str | None, raw_headers: list[Header]
    ) -> Prepared:
        """Everything ``invoke`` does before predict_fn; raises as ``invoke`` would."""
        if not content_type:
            content_type = JSON
        if not accept or accept == ANY:
            accept = self.default_accept
        media = media_type(content_type)
        handlers = self.handlers
        if not handlers["input_fn"].user and media not in self.defaults.content_types:
            raise UnsupportedMediaTypeError(self.defaults.unsupported_content_type(media))
        output_accept = accept
        if not handlers["output_fn"].user:
            chosen = self.negotiator.choose(accept)
            if chosen is None:
                raise NotAcceptableError(self.defaults.not_acceptable(accept))
            output_accept = chosen
        if self.straight:
            data = defaults.DECODERS[media](body)
            self._check_width(data)
            return Prepared(data, output_accept, None)
        context = (
            Context(self.model_dir, headers_from_scope(raw_headers)) if self.wants_context else None
        )
        payload: bytes | str = _as_text(body) if media in TEXT_TYPES else body
        data = handlers["input_fn"](payload, content_type, context=context)
        if not handlers["input_fn"].user and not handlers["predict_fn"].user:
            self._check_width(data)
        return Prepared(data, output_accept, context)

    def predict(self, data: Any) -> Any:
        """predict_fn on data from ``prepare`` (one request's, or several stacked)."""
        if self.straight:
            return self.model.predict(data)
        return self.handlers["predict_fn"](data, self.model, context=None)

    def finish(self, prediction: Any, prepared: Prepared) -> Reply:
        """output_fn on one request's prediction: that request's reply."""
        if self.straight:
            media = prepared.accept
            return Reply(200, _CODEC_CONTENT_TYPES[media], ENCODERS[media](prediction))
        output = self.handlers["output_fn"]
        result = output(prediction, prepared.accept, context=prepared.context)
        return _reply(result, prepared.accept, prepared.context)

    def _check_width(self, data: Any) -> None:
        width = self._n_features
        if (
            width is not None
            and isinstance(data, np.ndarray)
            and data.ndim == 2
            and data.shape[1] != width
        ):
            raise BadRequestError(
                f"each row needs {width} values for this model, got {data.shape[1]}"
            )

    def _check_combination(self) -> None:
        steps = {"input_fn", "predict_fn", "output_fn"} & set(self.user_functions)
        if "transform_fn" in self.user_functions and steps:
            raise UserCodeError(
                f"{self.source} defines transform_fn together with input_fn, predict_fn or "
                "output_fn; define either transform_fn alone or the three-step functions"
            )

    def _check_default_accept(self) -> None:
        uses_default_output = self.transform is None and not self.handlers["output_fn"].user
        writable = self.defaults.accepts
        if uses_default_output and media_type(self.default_accept) not in writable:
            raise UserCodeError(
                f"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT={self.default_accept} is not a type "
                f"the default output_fn writes ({', '.join(writable)}); choose one of "
                "those or define output_fn in inference.py"
            )


def error_reply(exc: Exception) -> Reply:
    """The reply for a request that failed with ``exc`` (4xx for the client, 5xx logged)."""
    if isinstance(exc, InvocationError):
        trace = stack_trace(exc) if exc.traced else None
        return Reply(exc.status, _JSON, error_body(exc.name, exc.message, trace))
    status, message = user_error_status(exc)
    if status >= 500:
        log.error("invocation failed in the handler: %s", message, exc_info=exc)
    return Reply(status, _JSON, error_body(MODEL_ERROR, message, stack_trace(exc)))


def _reply(result: Any, accept: str, context: Context | None) -> Reply:
    """Turn what output_fn/transform_fn returned (and set on the context) into a Reply."""
    content_type = None
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    status = 200
    headers: list[Header] = []
    if context is not None:
        processor = context.request_processor[0]
        status = processor.status or 200
        for key, value in processor.response_headers.items():
            if key == "content-type":
                content_type = content_type or value
            elif key not in _SKIPPED_HEADERS:
                headers.append((key.encode("latin-1", "replace"), _header_value(value)))
    if not content_type:
        content_type = accept if ("," not in accept and "*" not in accept) else _OCTET_STREAM
    return Reply(status, _header_value(str(content_type)), _as_body(result), headers)


def _as_body(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if value is None:
        return b""
    raise TypeError(
        f"the handler returned {type(value).__name__}; output_fn and transform_fn must "
        "return bytes or str, or a (body, content_type) tuple"
    )


def _as_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"the body is not UTF-8 text: {exc}") from None


def _header_value(value: str) -> bytes:
    """Header values cannot hold line breaks (they would split the response)."""
    return str(value).replace("\r", "").replace("\n", "").encode("latin-1", "replace")


def _wants_context(name: str, fn: Callable[..., Any], source: str) -> bool:
    """The toolkit's rule: one positional parameter more than usual means 'pass context'."""
    expected = len(SIGNATURES[name])
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False  # a builtin without a signature: call it the plain way
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return False
    required = sum(1 for p in positional if p.default is p.empty)
    if len(positional) == expected + 1:
        return True
    if required <= expected <= len(positional):
        return False
    usual = ", ".join(SIGNATURES[name])
    raise UserCodeError(
        f"{name} in {source} takes {len(positional)} positional parameters; expected "
        f"{name}({usual}) or {name}({usual}, context)"
    )
