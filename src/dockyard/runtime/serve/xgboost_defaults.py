"""The XGBoost image's handlers, used where the user's ``inference.py`` defines none.

They follow the SageMaker XGBoost container, which serves a booster in two ways: its
algorithm mode loads the trained model with no user code, and its script mode runs the
user's handlers over defaults that decode to a ``DMatrix``. Here the two are one chain:

* ``default_model_fn(model_dir)``: the booster in ``xgboost-model`` (the name the AWS
  container's training writes and its serving loads), in any of the formats that
  container accepts: a pickled ``Booster`` (what it writes) or XGBoost's own JSON,
  UBJSON or legacy binary format (``booster.save_model``). Without ``xgboost-model``,
  the one ``*.json`` / ``*.ubj`` / ``*.bst`` / ``*.model`` / ``*.pkl`` file. A pickled
  scikit-learn wrapper (``XGBClassifier``...) is served through its booster, so its
  answers are the booster's (class probabilities, not labels).
* ``default_input_fn(body, content_type)``: ``text/csv`` (no header, no label column;
  empty cells are missing values), ``text/libsvm`` and ``text/x-libsvm`` (a leading
  label, if any, is ignored; indices are column numbers as written),
  ``application/x-recordio-protobuf`` (dense or sparse ``values`` tensors; ``recordio.py``)
  and, beyond the AWS container, ``application/json`` (a row or rows of numbers) and
  ``application/x-npy``. Each becomes a ``DMatrix``.
* ``default_predict_fn(data, model)``: ``model.predict(data, validate_features=False)``,
  as the AWS container calls it; rows wider than the booster's features are a 400.
* ``default_output_fn(prediction, accept)``: JSON, CSV or NPY, like every Dockyard image.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from dockyard.runtime.serve import frameworks, model_files
from dockyard.runtime.serve.codecs import DECODERS, ENCODERS
from dockyard.runtime.serve.defaults import ModelNotFoundError, as_rows
from dockyard.runtime.serve.errors import (
    BadRequestError,
    NotAcceptableError,
    UnsupportedMediaTypeError,
)
from dockyard.runtime.serve.media import CSV, JSON, NPY, media_type
from dockyard.runtime.serve.recordio import decode_recordio_protobuf

#: The file the AWS XGBoost container's training writes and its serving loads.
MODEL_FILE = "xgboost-model"
#: Other names a saved booster goes by, tried when ``xgboost-model`` is absent.
MODEL_SUFFIXES = (".json", ".ubj", ".bst", ".model", ".pkl", ".pickle")
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
_PICKLE_MARK = b"\x80"  # every pickle of protocol 2 or later starts with PROTO


def default_model_fn(model_dir: str) -> Any:
    """The booster saved in ``model_dir`` (see the module docstring for where and how)."""
    return load_booster(find_model_file(model_dir))


def find_model_file(model_dir: str) -> str:
    """``xgboost-model``, else the one file with a booster's suffix; else say what is there."""
    search = model_files.find_model_file(model_dir, MODEL_FILE, MODEL_SUFFIXES)
    if isinstance(search, str):
        return search
    found, holds = search.found, search.holds
    reason = (
        f"found {len(found)} candidate files ({', '.join(found[:5])}) and no {MODEL_FILE}"
        if found
        else f"found no {MODEL_FILE} file"
    )
    raise ModelNotFoundError(
        f"cannot load a booster from {model_dir}: {reason} (the directory holds: {holds}). "
        f"Save it with booster.save_model(os.path.join(model_dir, '{MODEL_FILE}')) in "
        "the training job, or define model_fn(model_dir) in inference.py"
    )


def load_booster(path: str) -> Any:
    """A ``Booster`` from a pickle or from XGBoost's JSON / UBJSON / binary format."""
    import xgboost  # noqa: PLC0415 - the framework is imported only when a model is loaded

    with open(path, "rb") as file:
        raw = file.read()
    if raw.startswith(_PICKLE_MARK):
        loaded = pickle.loads(raw)
        if not isinstance(loaded, xgboost.Booster) and callable(
            getattr(loaded, "get_booster", None)
        ):
            loaded = loaded.get_booster()
        if not isinstance(loaded, xgboost.Booster):
            raise TypeError(
                f"{path} holds a pickled {type(loaded).__name__}, not an XGBoost Booster; "
                "define model_fn(model_dir) in inference.py to load it"
            )
        return loaded
    booster = xgboost.Booster()
    # From memory, XGBoost tells JSON, UBJSON and its binary format apart by content;
    # from a path it would go by the file's extension, which xgboost-model lacks.
    booster.load_model(bytearray(raw))
    return booster


def default_input_fn(input_data: bytes | str, content_type: str) -> Any:
    """Decode the body into a ``DMatrix`` (415 for a type not listed in the docstring)."""
    import xgboost  # noqa: PLC0415

    media = media_type(content_type)
    if media in (LIBSVM, X_LIBSVM):
        return xgboost.DMatrix(decode_libsvm(input_data))
    if media == RECORDIO_PROTOBUF:
        return xgboost.DMatrix(decode_recordio_protobuf(input_data))
    if media in _DENSE:
        return xgboost.DMatrix(as_rows(DECODERS[media](input_data)))
    raise UnsupportedMediaTypeError(DEFAULTS.unsupported_content_type(media))


def default_predict_fn(data: Any, model: Any) -> Any:
    """``model.predict(data, validate_features=False)``; arrays are wrapped in a DMatrix."""
    import xgboost  # noqa: PLC0415

    if not isinstance(data, xgboost.DMatrix):
        data = xgboost.DMatrix(as_rows(np.asarray(data, dtype=np.float64)))
    width = model.num_features() if isinstance(model, xgboost.Booster) else 0
    if width and data.num_col() > width:
        raise BadRequestError(
            f"each row may hold at most {width} values for this model, got {data.num_col()}"
        )
    return model.predict(data, validate_features=False)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode the prediction as ``accept`` (406 for a type not written)."""
    media = media_type(accept)
    encoder = ENCODERS.get(media)
    if encoder is None:
        raise NotAcceptableError(DEFAULTS.not_acceptable(accept))
    return encoder(prediction), media


def decode_libsvm(body: bytes | str) -> Any:
    """LIBSVM text to a CSR matrix: one row per line, ``index:value`` pairs.

    A first token without a colon is the label (training data) and is skipped, so the
    same file serves training and inference. Lines with no pairs are rows of missing
    values. The matrix is as wide as the largest index plus one.
    """
    import scipy.sparse  # noqa: PLC0415 - scipy comes with xgboost

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if ":" not in tokens[0]:
            tokens = tokens[1:]
        for token in tokens:
            index, sep, value = token.partition(":")
            try:
                column, number_value = int(index), float(value)
            except ValueError:
                column, number_value = -1, 0.0
            if not sep or column < 0:
                raise BadRequestError(
                    f"LIBSVM line {number}: {token[:40]!r} is not an index:value pair "
                    "(a non-negative integer index and a number)"
                )
            rows.append(count)
            columns.append(column)
            values.append(number_value)
        count += 1
    if not count:
        raise BadRequestError("the LIBSVM body holds no rows")
    width = max(columns) + 1 if columns else 0
    return scipy.sparse.csr_matrix(
        (np.array(values, dtype=np.float32), (np.array(rows), np.array(columns))),
        shape=(count, width),
    )


@contextlib.contextmanager
def single_threaded_loading() -> Iterator[None]:
    """Run model_fn with one XGBoost thread, then give the workers their share.

    Loading a booster runs OpenMP loops; with more than one thread they start a thread
    pool that the forked workers inherit without its threads, and their first
    prediction waits for those forever. XGBoost's global ``nthread`` sets the size.
    """
    import xgboost  # noqa: PLC0415

    xgboost.set_config(nthread=1)
    try:
        yield
    finally:
        xgboost.set_config(nthread=frameworks.thread_share())


_DENSE = (CSV, JSON, NPY)
DEFAULTS = frameworks.FrameworkDefaults(
    name="xgboost",
    model_fn=default_model_fn,
    input_fn=default_input_fn,
    predict_fn=default_predict_fn,
    output_fn=default_output_fn,
    content_types=(CSV, LIBSVM, X_LIBSVM, RECORDIO_PROTOBUF, JSON, NPY),
    accepts=tuple(ENCODERS),
    loading=single_threaded_loading,
)
