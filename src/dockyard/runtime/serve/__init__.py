"""The in-container model server: what ``docker run IMAGE serve`` runs.

It implements the SageMaker real-time inference contract (``GET /ping``,
``POST /invocations`` on port 8080 or ``$SAGEMAKER_BIND_TO_PORT``) with the inference
toolkit's handler chain (``model_fn``/``input_fn``/``predict_fn``/``output_fn`` or
``transform_fn`` from the user's ``inference.py``, scikit-learn defaults otherwise).

Modules, in the order a request meets them:

``main``        start-up: settings, model load, socket bind, supervisor
``config``      the environment variables and their defaults
``supervisor``  parent process: workers, restarts, watchdog, graceful stop
``worker``      one uvicorn server per worker process (event loop on the main thread)
``board``       what the supervisor and workers know of each other (shared memory)
``handlers``    runs the handler chain on the event loop, marked busy for the watchdog
``ping_guard``  answers ``/ping`` while a long handler keeps the event loop busy
``direct``      ``POST /invocations`` answered in the HTTP protocol, no ASGI cycle
                (one at a time, or in adaptive batches)
``app``         the raw ASGI application (routes, limits, error replies, health)
``batching``    adaptive batching for the ASGI path (off unless asked);
                ``stacking`` answers a batch with one predict_fn call where it can
``stats``       ``GET /dockyard/stats``: RSS now and at peak, per worker and replica
``deadline``    the per-invocation timeout
``chain``       the handler chain; ``loader`` finds the user's module, ``defaults``
                supplies missing handlers, ``context`` is the optional handler argument
``codecs``      CSV/JSON/NPY/NPZ decoding and encoding; ``media`` reads Content-Type and
                negotiates Accept
``errors``      error types and the JSON error body
"""
