"""The model server's settings, read from the environment once at start.

The variable names and defaults are the SageMaker inference toolkit's, so an image built
for SageMaker behaves the same here:

========================================  =============================================
``SAGEMAKER_BIND_TO_PORT``                port to listen on (default 8080); set by the
                                          platform for multi-container endpoints
``SAGEMAKER_MODEL_SERVER_WORKERS``        worker processes (default: one per CPU this
                                          process may run on)
``SAGEMAKER_MODEL_SERVER_TIMEOUT``        seconds one invocation may take (default 60)
``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``  response type when a request has no Accept or
                                          ``*/*`` (default ``application/json``)
``SAGEMAKER_PROGRAM``                     the user module (default ``inference.py``)
``SAGEMAKER_SUBMIT_DIRECTORY``            where that module lives (default
                                          ``<model dir>/code``)
``SM_MODEL_DIR``                          the model directory (default
                                          ``$SAGEMAKER_BASE_DIR/model``, i.e.
                                          ``/opt/ml/model``)
========================================  =============================================

Nothing here imports numpy: the entry point reads the settings before numpy is loaded so
that it can size the native thread pools to the worker count first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60.0
#: SageMaker's payload limit for real-time invocations: 6 MB, counted in binary megabytes.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PROGRAM = "inference.py"
DEFAULT_ACCEPT = "application/json"
#: All interfaces, as the contract requires (the platform reaches the container from outside).
LISTEN_HOST = "0.0.0.0"


class ConfigError(ValueError):
    """An environment variable holds a value the server cannot use; the message names it."""


@dataclass(frozen=True)
class ServeConfig:
    """Everything the server needs from its environment, validated."""

    host: str
    port: int
    workers: int
    timeout_s: float
    model_dir: str
    program: str
    submit_dir: str | None
    program_was_set: bool
    default_accept: str
    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeConfig:
        """Read and validate the settings; raise ConfigError naming the bad variable."""
        env = os.environ if environ is None else environ
        base_dir = env.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR
        program = env.get("SAGEMAKER_PROGRAM", "").strip()
        return cls(
            host=LISTEN_HOST,
            port=_port(env.get("SAGEMAKER_BIND_TO_PORT")),
            workers=_workers(env.get("SAGEMAKER_MODEL_SERVER_WORKERS")),
            timeout_s=_timeout(env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT")),
            model_dir=env.get("SM_MODEL_DIR") or os.path.join(base_dir, "model"),
            program=_module_file(program or DEFAULT_PROGRAM),
            submit_dir=env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip() or None,
            program_was_set=bool(program),
            default_accept=(
                env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or DEFAULT_ACCEPT
            ),
        )


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), which is what a container sees."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _port(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"SAGEMAKER_BIND_TO_PORT={raw!r} is not a TCP port (1-65535)")
    return port


def _workers(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return available_cpus()
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(
            f"SAGEMAKER_MODEL_SERVER_WORKERS={raw!r} must be a whole number of at least 1"
        )
    return workers


def _timeout(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ConfigError(
            f"SAGEMAKER_MODEL_SERVER_TIMEOUT={raw!r} must be a positive number of seconds"
        )
    return seconds


def _module_file(program: str) -> str:
    """SAGEMAKER_PROGRAM may name a script (``inference.py``) or a module (``inference``)."""
    return program if program.endswith(".py") else program + ".py"
