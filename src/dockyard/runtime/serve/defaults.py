"""The scikit-learn image's handlers, used where the user's ``inference.py`` defines none.

They follow the SageMaker scikit-learn container's defaults, with one addition: that
container has no default ``model_fn`` (users must write one); here the model directory's
``model.joblib`` is loaded, so a model saved by a training job serves without any code.

* ``default_model_fn(model_dir)``: ``joblib.load`` of ``model.joblib``, else ``model.pkl``,
  else the one ``*.joblib`` file in the directory.
* ``default_input_fn(body, content_type)``: decode as the container does
  (:data:`DECODERS`): CSV and JSON become float32 arrays; CSV cells may be quoted; the CSV
  array is squeezed, so a single CSV row is a flat array (and a single column too), and a
  flat JSON list stays flat. NPY and NPZ bodies keep their own dtype and shape.
* ``default_predict_fn(data, model)``: ``model.predict(data)``.
* ``default_output_fn(prediction, accept)``: encode with the codecs; returns
  ``(body, content_type)``.

So, as on SageMaker, one sample must be sent as a matrix of one row (``[[5.1, 3.5, 1.4,
0.2]]`` in JSON) or with a user ``input_fn``: a scikit-learn estimator refuses the flat
array that one CSV line or a flat JSON list decodes to ("Expected 2D array, got 1D
array instead"), and the server answers that error with a 500, as the container does.
Dockyard's codecs stay stricter than the container's where the container would fail
anyway: a ragged row or a cell that is not a number is a 400 naming it, and an empty
cell is a missing value (NaN).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dockyard.runtime.serve import codecs, frameworks
from dockyard.runtime.serve.codecs import ENCODERS
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
)
from dockyard.runtime.serve.media import CSV, JSON, NPY, NPZ, media_type

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


def decode_csv(body: bytes | str) -> np.ndarray:
    """CSV as the container reads it: quoted cells allowed, squeezed, float32."""
    return codecs.decode_quoted_csv(body).squeeze().astype(np.float32)


def decode_json(body: bytes | str) -> np.ndarray:
    """JSON as the container reads it: the array as nested, float32."""
    return codecs.decode_json(body).astype(np.float32)


#: Media type -> the scikit-learn container's decoding of it.
DECODERS: dict[str, Callable[[bytes | str], Any]] = {
    CSV: decode_csv,
    JSON: decode_json,
    NPY: codecs.decode_npy,
    NPZ: codecs.decode_npz,
}


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    """Decode the body as the container does (415 for a type it does not read)."""
    media = media_type(content_type)
    decoder = DECODERS.get(media)
    if decoder is None:
        raise UnsupportedMediaTypeError(unsupported_content_type(media))
    return decoder(input_data)


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
    """A flat array is one row (the XGBoost defaults' reading of a single row)."""
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
