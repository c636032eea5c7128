"""The HTTP API (OpenAPI at /openapi.json, docs at /docs).

Errors are mapped to status codes here and only here: a :class:`DockyardError`
becomes its ``status_code`` with ``{code, message, field, resource, hint}``; a body
that is not JSON becomes a 400 naming the problem. Handlers are plain ``def`` so the
engine's blocking calls run in the thread pool, never on the event loop. Handlers
write desired state and wake the control loop; they never wait for it, and they take
no lock but the store's short transactions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dockyard import __version__
from dockyard.errors import DockyardError, SpecError
from dockyard.installation import fingerprint
from dockyard.server.control_plane import ControlPlane
from dockyard.server.platform import Platform
from dockyard.server.routes import (
    autoscaling,
    aws_credentials,
    builds,
    cluster,
    endpoints,
    events,
    instances,
    kubernetes,
    logs,
    metrics,
    registry,
    schedules,
    secrets,
    services,
    task_definitions,
    tasks,
    training,
    transform,
)


def create_app(platform: Platform, control_plane: ControlPlane) -> FastAPI:
    app = FastAPI(
        title="Dockyard",
        version=__version__,
        description="Training jobs, endpoints, images and events on local containers.",
    )
    app.state.platform = platform
    app.state.control_plane = control_plane
    installation = fingerprint()  # the code this daemon loaded, for the CLI to compare

    @app.exception_handler(DockyardError)
    async def dockyard_error(_: Request, error: DockyardError) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        return JSONResponse(_validation_error(first).to_dict(), status_code=400)

    @app.get("/v1/health", tags=["daemon"])
    def health() -> dict[str, object]:
        """The daemon answers: version, engine, load balancer."""
        return {
            "Version": __version__,
            "Installation": installation,
            "Engine": platform.engine.kind,
            "LoadBalancer": f"http://{platform.settings.lb_host}:{platform.settings.lb_port}",
            "StateDir": str(platform.settings.state_dir),
            "Console": getattr(app.state, "console_url", None),
        }

    routers = (
        builds.router,
        training.router,
        endpoints.router,
        task_definitions.router,
        services.router,
        tasks.router,
        events.router,
        metrics.router,
        registry.router,
        aws_credentials.router,
        autoscaling.router,
        secrets.router,
        schedules.router,
        logs.router,
        kubernetes.router,
        cluster.router,
        transform.router,
        instances.router,
    )
    for router in routers:
        app.include_router(router, prefix="/v1")
    app.include_router(metrics.scrape_router)  # Prometheus's conventional path
    return app


def _validation_error(first: dict[str, Any]) -> SpecError:
    """FastAPI's first complaint about a request, as Dockyard's 400.

    A body that is not JSON at all has no field to name (its ``loc`` holds the
    character offset); anything else names the field it is about.
    """
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error")
        return SpecError(
            "the request body is not valid JSON" + (f": {reason}" if reason else ""),
            hint="send a JSON object as the request body",
        )
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return SpecError(
        str(first.get("msg", "malformed request")),
        field=location or None,
        hint="see the request's fields and their types in the API reference (/docs)",
    )
