"""A transform job's tuning parameters: request, then container, then defaults (pure).

The batch-transform contract: the job passes ``SAGEMAKER_BATCH=true`` and, only for the
settings the user gave, ``SAGEMAKER_MAX_PAYLOAD_IN_MB``, ``SAGEMAKER_BATCH_STRATEGY``
(``MULTI_RECORD``/``SINGLE_RECORD``: the container side's spelling) and
``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS``. A container may answer ``GET
/execution-parameters`` with its preferred values; a value the request gave wins, then
the container's, then the defaults (MaxPayloadInMB 6, MaxConcurrentTransforms 1,
BatchStrategy MultiRecord). The result is held to AWS's limits: MaxPayloadInMB at most
100 and MaxConcurrentTransforms x MaxPayloadInMB at most 100; 0 MB means no limit (the
payload is sent chunked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_STRATEGY = "MultiRecord"
MAX_PAYLOAD_MB = 100
MAX_TOTAL_MB = 100
MB = 1024 * 1024

#: the API's spelling ↔ the container's
STRATEGY_TO_CONTAINER = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}
STRATEGY_FROM_CONTAINER = {v: k for k, v in STRATEGY_TO_CONTAINER.items()}


class ParameterError(ValueError):
    """The parameters cannot be used together; the message says which and why."""


@dataclass(frozen=True)
class TransformRequest:
    """What the CreateTransformJob request set (None: not given)."""

    max_payload_mb: int | None = None
    max_concurrent: int | None = None
    strategy: str | None = None  # MultiRecord | SingleRecord


@dataclass(frozen=True)
class TransformParameters:
    """The values the job runs with, and where each came from."""

    max_payload_mb: int
    max_concurrent: int
    strategy: str  # MultiRecord | SingleRecord
    sources: Mapping[str, str]  # field -> "request" | "container" | "default"

    @property
    def max_payload_bytes(self) -> int | None:
        """The most bytes one request may carry (None: no limit, sent chunked)."""
        return None if self.max_payload_mb == 0 else self.max_payload_mb * MB


def container_environment(request: TransformRequest) -> dict[str, str]:
    """The SAGEMAKER_* variables a transform job's containers get."""
    env = {"SAGEMAKER_BATCH": "true"}
    if request.max_payload_mb is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request.max_payload_mb)
    if request.strategy is not None:
        env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_TO_CONTAINER[request.strategy]
    if request.max_concurrent is not None:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request.max_concurrent)
    return env


def read_execution_parameters(body: Any) -> TransformRequest:
    """A container's ``/execution-parameters`` answer; ParameterError if malformed.

    Keys it does not send stay None (the defaults apply); either strategy spelling is
    read, since containers in the wild answer with both.
    """
    if not isinstance(body, Mapping):
        raise ParameterError("/execution-parameters did not answer a JSON object")

    def number(key: str) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ParameterError(f"/execution-parameters: {key} must be a whole number >= 0")
        return value

    strategy = body.get("BatchStrategy")
    if strategy is not None:
        strategy = STRATEGY_FROM_CONTAINER.get(str(strategy), str(strategy))
        if strategy not in STRATEGY_TO_CONTAINER:
            raise ParameterError(
                f"/execution-parameters: BatchStrategy {body.get('BatchStrategy')!r} is "
                "neither MULTI_RECORD nor SINGLE_RECORD"
            )
    return TransformRequest(
        max_payload_mb=number("MaxPayloadInMB"),
        max_concurrent=number("MaxConcurrentTransforms"),
        strategy=strategy,
    )


def resolve(request: TransformRequest, container: TransformRequest | None) -> TransformParameters:
    """Request, then container, then defaults; ParameterError beyond AWS's limits."""
    offered = container or TransformRequest()
    sources: dict[str, str] = {}

    def pick(field: str, mine: Any, theirs: Any, default: Any) -> Any:
        for source, value in (("request", mine), ("container", theirs)):
            if value is not None:
                sources[field] = source
                return value
        sources[field] = "default"
        return default

    payload = pick(
        "MaxPayloadInMB", request.max_payload_mb, offered.max_payload_mb, DEFAULT_MAX_PAYLOAD_MB
    )
    concurrent = pick(
        "MaxConcurrentTransforms",
        request.max_concurrent,
        offered.max_concurrent,
        DEFAULT_MAX_CONCURRENT,
    )
    strategy = pick("BatchStrategy", request.strategy, offered.strategy, DEFAULT_STRATEGY)
    concurrent = max(1, concurrent)  # 0 reads as "not set": one request at a time
    if payload > MAX_PAYLOAD_MB:
        raise ParameterError(
            f"MaxPayloadInMB {payload} (from the {sources['MaxPayloadInMB']}) is more than "
            f"{MAX_PAYLOAD_MB}"
        )
    if payload * concurrent > MAX_TOTAL_MB:
        raise ParameterError(
            f"MaxConcurrentTransforms {concurrent} x MaxPayloadInMB {payload} is more than "
            f"{MAX_TOTAL_MB} MB (from the {sources['MaxConcurrentTransforms']} and the "
            f"{sources['MaxPayloadInMB']})"
        )
    return TransformParameters(payload, concurrent, strategy, sources)
