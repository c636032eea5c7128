"""The PyTorch image's handlers, used where the user's ``inference.py`` defines none.

They follow the SageMaker PyTorch inference toolkit:

* ``default_model_fn(model_dir)``: a model's architecture is Python code, so in general
  the user's ``model_fn`` loads it. The one exception, as in the toolkit, is a
  TorchScript model: ``model.pt``, else the only ``*.pt`` / ``*.pth`` file, is loaded
  with ``torch.jit.load`` onto the CPU. Anything else fails at start with a message
  saying to define ``model_fn`` or to save with ``torch.jit.script(model).save(...)``.
* ``default_input_fn(body, content_type)``: ``application/json`` (nested lists of any
  depth), ``text/csv`` (rows), ``application/x-npy`` and ``application/x-npz`` (one
  dense array). Text bodies become float32 tensors (``torch.FloatTensor`` in the
  toolkit); NumPy bodies keep their dtype (``torch.from_numpy``). A flat JSON list stays
  one-dimensional, as in the toolkit.
* ``default_predict_fn(data, model)``: ``model(data)`` in eval mode under
  ``torch.no_grad()``.
* ``default_output_fn(prediction, accept)``: tensors go back to NumPy, then JSON, CSV or
  NPY per Accept (406 for anything else). A tuple or dict of tensors can be written as
  JSON.

Only the CPU build of torch is in the image; nothing here asks for a GPU.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from dockyard.runtime.serve import frameworks, model_files
from dockyard.runtime.serve.codecs import ENCODERS, decode_csv, decode_npy, decode_npz
from dockyard.runtime.serve.defaults import ModelNotFoundError
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
)
from dockyard.runtime.serve.media import CSV, JSON, NPY, NPZ, media_type

#: The toolkit's default file name; any single ``*.pt``/``*.pth`` file also serves.
MODEL_FILE = "model.pt"
MODEL_SUFFIXES = (".pt", ".pth")


class ModelLoadError(RuntimeError):
    """The model file exists but is not a TorchScript model."""


def default_model_fn(model_dir: str) -> Any:
    """The TorchScript model in ``model_dir``, on the CPU, in eval mode."""
    import torch  # noqa: PLC0415 - the framework is imported only when a model is loaded

    path = find_model_file(model_dir)
    jit: Any = torch.jit  # TorchScript's loader is untyped
    try:
        model = jit.load(path, map_location=torch.device("cpu"))
    except RuntimeError as exc:
        raise ModelLoadError(
            f"{path} is not a TorchScript model ({str(exc).splitlines()[0]}). The default "
            "model_fn loads only TorchScript: save with torch.jit.script(model).save(path), "
            "or define model_fn(model_dir) in inference.py to build the model and load "
            "its weights"
        ) from exc
    model.eval()
    return model


def find_model_file(model_dir: str) -> str:
    """``model.pt``, else the only ``*.pt``/``*.pth`` file; else say what to do."""
    search = model_files.find_model_file(model_dir, MODEL_FILE, MODEL_SUFFIXES)
    if isinstance(search, str):
        return search
    found, holds = search.found, search.holds
    reason = (
        f"exactly one .pt or .pth file is needed, found {len(found)} ({', '.join(found[:5])})"
        if found
        else "found no .pt or .pth file"
    )
    raise ModelNotFoundError(
        f"cannot load a PyTorch model from {model_dir}: {reason} (the directory holds: "
        f"{holds}). Define model_fn(model_dir) in inference.py to load the model, or save "
        f"a TorchScript model as {MODEL_FILE} (torch.jit.script(model).save(...))"
    )


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    """Decode the body into a CPU tensor (415 for a type not listed in the docstring)."""
    import torch  # noqa: PLC0415

    media = media_type(content_type)
    if media == JSON:
        return torch.from_numpy(decode_json_tensor(input_data))
    if media == CSV:
        return torch.from_numpy(decode_csv(input_data).astype(np.float32))
    if media in (NPY, NPZ):
        array = decode_npy(input_data) if media == NPY else decode_npz(input_data)
        if not isinstance(array, np.ndarray):
            raise BadRequestError("a sparse matrix cannot become a tensor; send a dense array")
        return torch.from_numpy(np.ascontiguousarray(array))
    raise UnsupportedMediaTypeError(DEFAULTS.unsupported_content_type(media))


def default_predict_fn(data: Any, model: Any) -> Any:
    """``model(data)`` in eval mode, without building a gradient graph."""
    import torch  # noqa: PLC0415

    if isinstance(data, np.ndarray):
        data = torch.from_numpy(data)
    with torch.no_grad():
        model.eval()
        return model(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Tensors to NumPy, then the codec for ``accept`` (406 for a type not written)."""
    media = media_type(accept)
    encoder = ENCODERS.get(media)
    if encoder is None:
        raise NotAcceptableError(DEFAULTS.not_acceptable(accept))
    return encoder(to_numpy(prediction)), media


def decode_json_tensor(body: bytes | str) -> np.ndarray:
    """Nested JSON lists of numbers (any depth, rectangular) to a float32 array."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, list | int | float) or isinstance(data, bool):
        raise BadRequestError("expected a JSON number or (nested) array of numbers")
    try:
        array = np.array(data, dtype=np.float32)
    except (ValueError, TypeError):
        raise BadRequestError(
            "the JSON array is not a rectangular array of numbers (every row of a level "
            "needs the same length, and every value must be a number)"
        ) from None
    if array.size == 0:
        raise BadRequestError("the request holds no values")
    return array


def to_numpy(value: Any) -> Any:
    """Tensors (also inside tuples, lists and dicts) as NumPy arrays."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_numpy(item) for item in value]
    return value


@contextlib.contextmanager
def single_threaded_loading() -> Iterator[None]:
    """Run model_fn with one intra-op thread, then give the workers their share.

    The default model_fn runs no operator, but a user's may (a warm-up pass): with
    more than one thread that starts an OpenMP pool the forked workers inherit without
    its threads, and their first forward pass waits for those forever.
    """
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(frameworks.thread_share())


DEFAULTS = frameworks.FrameworkDefaults(
    name="pytorch",
    model_fn=default_model_fn,
    input_fn=default_input_fn,
    predict_fn=default_predict_fn,
    output_fn=default_output_fn,
    content_types=(JSON, CSV, NPY, NPZ),
    accepts=tuple(ENCODERS),
    loading=single_threaded_loading,
)
