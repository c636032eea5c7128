"""Several requests, one ``predict_fn`` call: decode each, stack the rows, split the answer.

Runs through the handlers with one batch of requests gathered by ``batching.py``. Every
request keeps its own outcome:

1. each request is decoded on its own (``HandlerChain.prepare``); one that fails gets its
   own 4xx/5xx and drops out -- its neighbours go on;
2. the decoded arrays are grouped by what can be stacked along the first axis: NumPy
   arrays of 2 or more dimensions with the same trailing shape and dtype. Anything else
   (a 3-D array next to 2-D ones, a different row width, a DataFrame from a user
   ``input_fn``) is served unbatched, on its own;
3. each group of two or more is concatenated and passed to ``predict_fn`` once. The
   answer must have as many rows as went in; it is sliced back per request;
4. if that one call fails, or its answer does not have one row per input row, every
   request of the group is predicted on its own instead, so a request the model rejects
   fails alone with its own status;
5. each request's prediction is encoded on its own (``output_fn``), with its own errors.

Which handlers may be stacked at all is ``HandlerChain.batch_refusal``'s decision: the
default chain on a model with ``predict`` (scikit-learn style: rows in, one answer per
row out), or a user ``predict_fn`` that declares ``predict_fn.accepts_batches = True``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from dockyard.runtime.serve.chain import HandlerChain, Header, Prepared, Reply, error_reply

log = logging.getLogger("dockyard.serve")


class Request(NamedTuple):
    """One ``POST /invocations`` as the app read it."""

    body: bytes
    content_type: str | None
    accept: str | None
    headers: list[Header]


class StackedPredictor:
    """Answers a batch of requests with as few predict_fn calls as the shapes allow."""

    def __init__(self, chain: HandlerChain) -> None:
        self.chain = chain
        self._warned = False

    def __call__(self, requests: Sequence[Request]) -> list[Reply]:
        replies: list[Reply | None] = [None] * len(requests)
        groups: dict[tuple[Any, ...], list[tuple[int, Prepared]]] = {}
        for index, request in enumerate(requests):
            try:
                prepared = self.chain.prepare(*request)
            except Exception as exc:
                replies[index] = error_reply(exc)
                continue
            groups.setdefault(stack_key(prepared.data, index), []).append((index, prepared))
        for members in groups.values():
            for index, reply in self._answer_group(members):
                replies[index] = reply
        return [reply for reply in replies if reply is not None]

    def _answer_group(self, members: list[tuple[int, Prepared]]) -> list[tuple[int, Reply]]:
        if len(members) > 1:
            parts = self._predict_stacked([prepared.data for _, prepared in members])
            if parts is not None:
                return [
                    (index, self._finish(part, prepared))
                    for (index, prepared), part in zip(members, parts, strict=True)
                ]
        return [(index, self._answer_one(prepared)) for index, prepared in members]

    def _predict_stacked(self, arrays: list[np.ndarray]) -> list[Any] | None:
        """One predict_fn call for all ``arrays``, split back; None to go one by one."""
        stacked = np.concatenate(arrays)
        try:
            prediction = self.chain.predict(stacked)
        except Exception:
            return None  # each request is predicted alone and keeps its own error
        try:
            rows = len(prediction)
        except TypeError:
            rows = -1
        if rows != len(stacked):
            self._warn_once(
                f"predict_fn answered {rows} rows for {len(stacked)} rows in; predicting "
                "each request on its own"
            )
            return None
        parts, start = [], 0
        for array in arrays:
            parts.append(prediction[start : start + len(array)])
            start += len(array)
        return parts

    def _answer_one(self, prepared: Prepared) -> Reply:
        try:
            prediction = self.chain.predict(prepared.data)
        except Exception as exc:
            return error_reply(exc)
        return self._finish(prediction, prepared)

    def _finish(self, prediction: Any, prepared: Prepared) -> Reply:
        try:
            return self.chain.finish(prediction, prepared)
        except Exception as exc:
            return error_reply(exc)

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            log.warning("batching: %s", message)
            self._warned = True


def stack_key(data: Any, index: int) -> tuple[Any, ...]:
    """Requests with equal keys can be concatenated; a unique key means "on its own"."""
    if isinstance(data, np.ndarray) and data.ndim >= 2 and data.dtype != object and len(data):
        return ("rows", data.shape[1:], data.dtype.str)
    return ("alone", index)
