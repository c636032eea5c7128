"""``serve``: load the model once, then run the workers that answer SageMaker's requests.

Order matters for the contract: the model is loaded, and only then are the sockets bound,
so a connection that is accepted at all reaches a worker that can predict and ``/ping``
never answers 200 for a model that is not there. A model that cannot be loaded ends the
process with status 1 and the reason (with traceback) on stderr, which is what the
platform shows the user.

A multi-model server (``SAGEMAKER_MULTI_MODEL=true``) loads no model at start: it imports
the framework (so a model's first load pays only for reading it), makes the registry its
workers share (``model_registry.py``) and loads models when asked (``multi_model.py``).

Exit status: 0 after a stop signal and a drain; 1 when the model or the user's code
cannot be loaded or the port cannot be bound; 2 for a bad setting or argument.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from types import FrameType

from dockyard.runtime.serve.config import ConfigError, ServeConfig, available_cpus

log = logging.getLogger("dockyard.serve")

USAGE = "usage: python3 -m dockyard.runtime serve   (settings come from the environment)\n"
EXIT_FAILURE = 1
EXIT_USAGE = 2
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str]) -> int:
    """Run the model server until SIGTERM; the process's exit status."""
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if argv:
        sys.stderr.write(f"serve takes no arguments, got: {' '.join(argv)}\n{USAGE}")
        return EXIT_USAGE
    _configure_logging()
    try:
        config = ServeConfig.from_env()
    except ConfigError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    _size_native_thread_pools(config.workers)
    signal.signal(signal.SIGTERM, _stop_while_starting)
    return _serve(config)


def _serve(config: ServeConfig) -> int:
    # numpy and the framework are imported only now, after the thread pools were sized.
    from dockyard.runtime.serve.app import build_app, direct_path  # noqa: PLC0415
    from dockyard.runtime.serve.board import WorkerBoard  # noqa: PLC0415
    from dockyard.runtime.serve.chain import HandlerChain  # noqa: PLC0415
    from dockyard.runtime.serve.deadline import Deadline  # noqa: PLC0415
    from dockyard.runtime.serve.frameworks import framework_defaults  # noqa: PLC0415
    from dockyard.runtime.serve.handlers import Handlers  # noqa: PLC0415
    from dockyard.runtime.serve.loader import (  # noqa: PLC0415
        UserCodeError,
        import_user_module,
        locate_user_module,
    )
    from dockyard.runtime.serve.supervisor import Supervisor, bind_sockets  # noqa: PLC0415

    if config.multi_model:
        return _serve_multi_model(config)
    try:
        path = locate_user_module(config)
        module = import_user_module(path) if path else None
        chain = HandlerChain(
            config.model_dir,
            config.default_accept,
            module,
            path or "",
            defaults=framework_defaults(config.framework),
        )
        chain.load_model()
    except UserCodeError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILURE
    except Exception:
        log.exception("cannot start: loading the model from %s failed", config.model_dir)
        return EXIT_FAILURE
    try:
        sockets = bind_sockets(config.host, config.port, config.workers)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc.strerror or exc)
        return EXIT_FAILURE
    deadline = Deadline(config.timeout_s)
    handlers = Handlers()
    board = WorkerBoard(len(sockets))
    batching = None
    if config.batching:
        refusal = chain.batch_refusal()
        if refusal is None:
            batching = (config.batch_size, config.batch_wait_ms / 1000)
        else:
            log.warning("batching is off: %s; every request is answered on its own", refusal)
    app = build_app(chain, config.max_payload_bytes, deadline, handlers, board, batching)
    # Invocations skip the ASGI cycle where they can (``direct.py``).
    direct = direct_path(chain, config.max_payload_bytes, deadline, handlers, batching)
    log.info(
        "model server listening on %s:%d with %d worker%s, timeout %g s; handlers: %s%s",
        config.host,
        config.port,
        config.workers,
        "" if config.workers == 1 else "s",
        config.timeout_s,
        chain.describe(),
        f"; batching: up to {batching[0]} requests, waiting up to {config.batch_wait_ms:g} ms"
        if batching
        else "",
    )
    return Supervisor(sockets, app, deadline, handlers, board, direct).run()


def _serve_multi_model(config: ServeConfig) -> int:
    """A multi-model server: no model at start, the registry its workers share."""
    from dockyard.runtime.serve.app import build_app  # noqa: PLC0415
    from dockyard.runtime.serve.board import WorkerBoard  # noqa: PLC0415
    from dockyard.runtime.serve.deadline import Deadline  # noqa: PLC0415
    from dockyard.runtime.serve.handlers import Handlers  # noqa: PLC0415
    from dockyard.runtime.serve.model_registry import SharedRegistry  # noqa: PLC0415
    from dockyard.runtime.serve.multi_model import MultiModel  # noqa: PLC0415
    from dockyard.runtime.serve.supervisor import Supervisor, bind_sockets  # noqa: PLC0415

    _import_frameworks()
    if config.batching:
        log.warning("batching is off: a multi-model server answers each request on its own")
    try:
        sockets = bind_sockets(config.host, config.port, config.workers)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, exc.strerror or exc)
        return EXIT_FAILURE
    deadline, handlers = Deadline(config.timeout_s), Handlers()
    board = WorkerBoard(len(sockets))
    try:
        os.makedirs(config.model_cache_dir, exist_ok=True)
        registry = SharedRegistry(tempfile.mkdtemp(prefix="server-", dir=config.model_cache_dir))
    except OSError as exc:
        log.error("cannot use DOCKYARD_MODEL_CACHE_DIR %s: %s", config.model_cache_dir, exc)
        return EXIT_FAILURE
    models = MultiModel(config, registry)
    app = build_app(None, config.max_payload_bytes, deadline, handlers, board, models=models)
    log.info(
        "multi-model server listening on %s:%d with %d worker%s, timeout %g s, models' "
        "memory budget %g MB, model prefix %s",
        config.host,
        config.port,
        config.workers,
        "" if config.workers == 1 else "s",
        config.timeout_s,
        config.model_memory_bytes / 1048576,
        config.model_prefix_dir or "(none: POST /models only)",
    )
    try:
        return Supervisor(sockets, app, deadline, handlers, board).run()
    finally:  # the supervisor only: workers leave with os._exit
        shutil.rmtree(registry.directory, ignore_errors=True)


def _import_frameworks() -> None:
    """Import what the default model_fn needs before the worker forks, so that neither
    the first model's load nor its memory pays for it (the frameworks the image lacks
    are skipped)."""
    import importlib  # noqa: PLC0415

    for name in ("joblib", "sklearn.base", "sklearn.linear_model", "sklearn.ensemble"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _size_native_thread_pools(workers: int) -> None:
    """Give each worker an equal share of the CPUs for BLAS/OpenMP threads.

    Unset, every worker would start one native thread per CPU, and N workers would run
    N times as many busy threads as there are CPUs. A value the user set is kept.
    """
    share = str(max(1, available_cpus() // workers))
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, share)


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    """SIGTERM before the workers run: give up loading and exit cleanly.

    Needed because as PID 1 in a container an unhandled SIGTERM is ignored.
    """
    log.info("SIGTERM received while starting; exiting")
    raise SystemExit(0)
