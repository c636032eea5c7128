"""The scikit-learn image's handlers, used where the user's ``inference.py`` defines none.

They follow the SageMaker scikit-learn container's defaults, with one addition: that
container has no default ``model_fn`` (users must write one); here the model directory's
``model.joblib`` is loaded, so a model saved by a training job serves without any code.

* ``default_model_fn(model_dir)``: ``joblib.load`` of ``model.joblib``, else ``model.pkl``,
  else the one ``*.joblib`` file in the directory.
* ``default_input_fn(body, content_type)``: decode with the codecs; a single row given as
  a flat list becomes a one-row matrix (as in the container).
* ``default_predict_fn(data, model)``: ``model.predict(data)``.
* ``default_output_fn(prediction, accept)``: encode with the codecs; returns
  ``(body, content_type)``.

The container casts CSV/JSON input to float32; these keep float64, so a prediction here
equals ``model.predict`` on the same numbers in a notebook.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dockyard.runtime.serve import frameworks
from dockyard.runtime.serve.codecs import DECODERS, ENCODERS
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
)
from dockyard.runtime.serve.media import media_type

#: Files the default model_fn tries, in order, before looking for a single ``*.joblib``.
MODEL_FILES = ("model.joblib", "model.pkl")


class ModelNotFoundError(FileNotFoundError):
    """Nothing the default model_fn can load; the message lists what the directory holds."""


def default_model_fn(model_dir: str) -> Any:
    """Load the scikit-learn (or any joblib-saved) model found in ``model_dir``."""
    import joblib  # noqa: PLC0415 - the framework is imported only when a model is loaded

    return joblib.load(find_model_file(model_dir))


def find_model_file(model_dir: str) -> str:
    """The file default_model_fn loads, or ModelNotFound explaining what is there instead."""
    if not os.path.isdir(model_dir):
        raise ModelNotFoundError(
            f"the model directory {model_dir} does not exist; the platform extracts "
            "model.tar.gz there (set SM_MODEL_DIR to serve from elsewhere)"
        )
    for name in MODEL_FILES:
        path = os.path.join(model_dir, name)
        if os.path.isfile(path):
            return path
    entries = sorted(os.listdir(model_dir))
    joblibs = [name for name in entries if name.endswith(".joblib")]
    if len(joblibs) == 1:
        return os.path.join(model_dir, joblibs[0])
    shown = [
        name + "/" if os.path.isdir(os.path.join(model_dir, name)) else name for name in entries
    ]
    holds = ", ".join(shown[:20]) + (", ..." if len(shown) > 20 else "") if shown else "nothing"
    reason = (
        f"found {len(joblibs)} *.joblib files and no model.joblib to choose between them"
        if joblibs
        else "found no model.joblib, model.pkl or *.joblib file"
    )
    raise ModelNotFoundError(
        f"cannot load a model from {model_dir}: {reason} (the directory holds: "
        f"{holds}). "
        "Save the model with joblib.dump(model, 'model.joblib') in the training job's "
        "model directory, or define model_fn(model_dir) in inference.py to load it yourself"
    )


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    """Decode the body with the default codecs (415 for a type they do not read)."""
    media = media_type(content_type)
    decoder = DECODERS.get(media)
    if decoder is None:
        raise UnsupportedMediaTypeError(unsupported_content_type(media))
    return as_rows(decoder(input_data))


def default_predict_fn(data: Any, model: Any) -> Any:
    """``model.predict(data)``."""
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode the prediction as ``accept`` (406 for a type the codecs do not write)."""
    media = media_type(accept)
    encoder = ENCODERS.get(media)
    if encoder is None:
        raise NotAcceptableError(not_acceptable(accept))
    return encoder(prediction), media


def as_rows(data: Any) -> Any:
    """A flat array is one row: scikit-learn estimators want a 2-D matrix."""
    if isinstance(data, np.ndarray) and data.ndim <= 1:
        if data.size == 0:
            raise BadRequestError("the request holds no values")
        return data.reshape(1, -1)
    return data


def unsupported_content_type(media: str) -> str:
    """The 415 message."""
    return frameworks.unsupported_content_type(media, DECODERS, "sklearn")


def not_acceptable(accept: str) -> str:
    """The 406 message."""
    return frameworks.not_acceptable(accept, ENCODERS, "sklearn")


#: The scikit-learn image's handler set (``frameworks.py``).
DEFAULTS = frameworks.FrameworkDefaults(
    name="sklearn",
    model_fn=default_model_fn,
    input_fn=default_input_fn,
    predict_fn=default_predict_fn,
    output_fn=default_output_fn,
    content_types=tuple(DECODERS),
    accepts=tuple(ENCODERS),
    straight=True,
    batchable=True,
)
