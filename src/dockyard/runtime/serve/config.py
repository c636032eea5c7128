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
``DOCKYARD_FRAMEWORK``                    Dockyard's own: whose default handlers fill in
                                          for the user's (sklearn, xgboost, pytorch;
                                          set by each framework image; default sklearn)
``SAGEMAKER_MAX_PAYLOAD_IN_MB``          in a batch transform job (``SAGEMAKER_BATCH``
                                          true), the largest request accepted (the
                                          job's MaxPayloadInMB; 0: no limit) instead
                                          of the real-time 6 MB
``DOCKYARD_BATCH_SIZE``                   Dockyard's own: adaptive batching, at most this
                                          many requests per predict_fn call (unset, 0 or
                                          1: off; ``batching.py``)
``DOCKYARD_BATCH_WAIT_MS``                how long the first request of a batch may wait
                                          for others (default 0: a batch is what queued
                                          while the worker was busy; needs the size)
``SAGEMAKER_MULTI_MODEL``                 ``true``: a multi-model server (``/models``
                                          routes, no model loaded at start;
                                          ``multi_model.py``)
``DOCKYARD_MODEL_MEMORY_MB``              multi-model: megabytes the loaded models may
                                          take together (default: 75 % of the
                                          container's memory limit, at most 1024)
``DOCKYARD_MODEL_PREFIX_DIR``             multi-model: the endpoint's model prefix as
                                          mounted by the platform (read-only); a target
                                          model is loaded from there on first use
``DOCKYARD_MODEL_CACHE_DIR``              multi-model: where archives from the prefix are
                                          extracted (default ``$TMPDIR/dockyard-models``)
``DOCKYARD_MODEL_CACHING``                multi-model: ``Disabled`` unloads a target model
                                          after each request (MultiModelConfig's
                                          ModelCacheSetting; default ``Enabled``)
========================================  =============================================

Nothing here imports numpy: the entry point reads the settings before numpy is loaded so
that it can size the native thread pools to the worker count first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.runtime.serve.frameworks import DEFAULT_FRAMEWORK, FRAMEWORK_ENV, check_framework

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60.0
#: SageMaker's payload limit for real-time invocations: 6 MB, counted in binary megabytes.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
UNLIMITED_PAYLOAD_BYTES = 1 << 62  # MaxPayloadInMB 0: no limit
DEFAULT_BASE_DIR = "/opt/ml"
DEFAULT_PROGRAM = "inference.py"
DEFAULT_ACCEPT = "application/json"
DEFAULT_BATCH_WAIT_MS = 0.0
MAX_BATCH_SIZE = 4096
MAX_BATCH_WAIT_MS = 10_000.0
DEFAULT_MODEL_MEMORY_MB = 1024
#: Share of the container's memory limit the models may take by default (the rest is
#: the server, the framework and the requests in flight).
MODEL_MEMORY_SHARE = 0.75
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
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
    batch_size: int = 0
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS
    framework: str = DEFAULT_FRAMEWORK
    multi_model: bool = False
    model_memory_bytes: int = DEFAULT_MODEL_MEMORY_MB * 1024 * 1024
    model_prefix_dir: str | None = None
    model_cache_dir: str = ""
    model_caching: bool = True

    @property
    def batching(self) -> bool:
        """Whether adaptive batching was asked for (a size of 2 or more)."""
        return self.batch_size > 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeConfig:
        """Read and validate the settings; raise ConfigError naming the bad variable."""
        env = os.environ if environ is None else environ
        base_dir = env.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR
        program = env.get("SAGEMAKER_PROGRAM", "").strip()
        timeout_s = _timeout(env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT"))
        batch_size, batch_wait_ms = _batching(
            env.get("DOCKYARD_BATCH_SIZE"), env.get("DOCKYARD_BATCH_WAIT_MS"), timeout_s
        )
        multi_model = _flag("SAGEMAKER_MULTI_MODEL", env.get("SAGEMAKER_MULTI_MODEL"))
        return cls(
            host=LISTEN_HOST,
            port=_port(env.get("SAGEMAKER_BIND_TO_PORT")),
            workers=_workers(env.get("SAGEMAKER_MODEL_SERVER_WORKERS")),
            timeout_s=timeout_s,
            model_dir=env.get("SM_MODEL_DIR") or os.path.join(base_dir, "model"),
            program=_module_file(program or DEFAULT_PROGRAM),
            submit_dir=env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip() or None,
            program_was_set=bool(program),
            default_accept=(
                env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or DEFAULT_ACCEPT
            ),
            batch_size=batch_size,
            batch_wait_ms=batch_wait_ms,
            framework=_framework(env.get(FRAMEWORK_ENV)),
            multi_model=multi_model,
            model_memory_bytes=_model_memory(env.get("DOCKYARD_MODEL_MEMORY_MB")),
            model_prefix_dir=env.get("DOCKYARD_MODEL_PREFIX_DIR", "").strip() or None,
            model_cache_dir=env.get("DOCKYARD_MODEL_CACHE_DIR", "").strip()
            or os.path.join(tempfile.gettempdir(), "dockyard-models"),
            model_caching=_caching(env.get("DOCKYARD_MODEL_CACHING")),
            max_payload_bytes=_max_payload(env),
        )


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), which is what a container sees."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _flag(name: str, raw: str | None) -> bool:
    text = (raw or "").strip().lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise ConfigError(f"{name}={raw!r} must be true or false")


def _caching(raw: str | None) -> bool:
    text = (raw or "").strip()
    if text in ("", "Enabled"):
        return True
    if text == "Disabled":
        return False
    raise ConfigError(f"DOCKYARD_MODEL_CACHING={raw!r} must be Enabled or Disabled")


def _model_memory(raw: str | None) -> int:
    """The models' memory budget in bytes (``DOCKYARD_MODEL_MEMORY_MB``, else the default)."""
    if raw is None or not raw.strip():
        limit = _container_memory_limit()
        default = DEFAULT_MODEL_MEMORY_MB * 1024 * 1024
        return min(default, int(limit * MODEL_MEMORY_SHARE)) if limit else default
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = 0.0
    if not megabytes > 0:
        raise ConfigError(
            f"DOCKYARD_MODEL_MEMORY_MB={raw!r} must be a positive number of megabytes"
        )
    return int(megabytes * 1024 * 1024)


def _container_memory_limit() -> int | None:
    """The cgroup's memory limit in bytes (v2 or v1), None when unlimited or unknown."""
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 writes a huge number for "none"
            return int(text)
        return None
    return None


def _max_payload(env: Mapping[str, str]) -> int:
    """6 MB, or in a batch transform job its MaxPayloadInMB (the contract's variables)."""
    raw = env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "").strip()
    if env.get("SAGEMAKER_BATCH", "").strip().lower() != "true" or not raw:
        return MAX_PAYLOAD_BYTES
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise ConfigError(f"SAGEMAKER_MAX_PAYLOAD_IN_MB={raw!r} must be a whole number >= 0")
    return megabytes * 1024 * 1024 if megabytes else UNLIMITED_PAYLOAD_BYTES


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


def _batching(size_raw: str | None, wait_raw: str | None, timeout_s: float) -> tuple[int, float]:
    """(size, wait in ms); a wait without a size is refused rather than silently ignored."""
    size_text = (size_raw or "").strip()
    wait_text = (wait_raw or "").strip()
    size = 0
    if size_text:
        try:
            size = int(size_text)
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BATCH_SIZE:
            raise ConfigError(
                f"DOCKYARD_BATCH_SIZE={size_raw!r} must be a whole number from 0 to "
                f"{MAX_BATCH_SIZE} (0 or 1 turns batching off)"
            )
    if not wait_text:
        return size, DEFAULT_BATCH_WAIT_MS
    try:
        wait_ms = float(wait_text)
    except ValueError:
        wait_ms = -1.0
    if not 0 <= wait_ms <= MAX_BATCH_WAIT_MS:
        raise ConfigError(
            f"DOCKYARD_BATCH_WAIT_MS={wait_raw!r} must be a number of milliseconds from 0 "
            f"to {MAX_BATCH_WAIT_MS:g}"
        )
    if wait_ms / 1000 >= timeout_s:
        raise ConfigError(
            f"DOCKYARD_BATCH_WAIT_MS={wait_raw!r} is not shorter than the invocation timeout "
            f"({timeout_s:g} s, SAGEMAKER_MODEL_SERVER_TIMEOUT)"
        )
    if size <= 1:
        raise ConfigError(
            f"DOCKYARD_BATCH_WAIT_MS={wait_raw!r} is set but batching is off; set "
            "DOCKYARD_BATCH_SIZE to 2 or more to turn it on"
        )
    return size, wait_ms


def _framework(raw: str | None) -> str:
    try:
        return check_framework(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _module_file(program: str) -> str:
    """SAGEMAKER_PROGRAM may name a script (``inference.py``) or a module (``inference``)."""
    return program if program.endswith(".py") else program + ".py"
