"""The AWS front: one ASGI app on ``127.0.0.1:DOCKYARD_AWS_PORT`` for every AWS service
Dockyard speaks, so ``boto3.client(NAME, endpoint_url="http://127.0.0.1:9090")`` works
for each of them with one URL.

Every request goes the same way: the SigV4 check (a refusal comes before anything
else, as on AWS), then routing — ``POST /`` with ``X-Amz-Target`` to a JSON-protocol
service by its target prefix, anything else to a REST service by the paths in its
model — then the input read and validated by botocore's model, then the operation,
whose result is written back in the operation's output shape. Operations are plain
functions run in the thread pool (they call the engine and the store), never on the
event loop; they write desired state and return, like Dockyard's own API.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard.errors import DockyardError
from dockyard.server.aws import application_autoscaling, ecr, ecs, logs, runtime, sagemaker
from dockyard.server.aws.credentials import AccessKeys
from dockyard.server.aws.errors import SAGEMAKER_ERRORS, AwsError, from_dockyard
from dockyard.server.aws.protocol import (
    Answer,
    error_answer,
    json_answer,
    json_input,
    json_operation,
    rest_answer,
    rest_input,
    rest_operation,
)
from dockyard.server.aws.s3 import S3Front, is_s3
from dockyard.server.aws.service import AwsService, Call, Handler
from dockyard.server.aws.shapes import documented_errors
from dockyard.server.aws.sigv4 import SignedRequest, verify
from dockyard.server.aws.sts import StsFront, is_sts
from dockyard.server.listeners import serve_on_loopback
from dockyard.server.platform import Platform

log = logging.getLogger("dockyard.aws")

#: every service the front answers (one module each)
SERVICES: tuple[AwsService, ...] = (
    sagemaker.SERVICE,
    runtime.SERVICE,
    ecs.SERVICE,
    ecr.SERVICE,
    application_autoscaling.SERVICE,
    logs.SERVICE,
)


class AwsFront:
    """Routes, authenticates and answers one request (no web framework inside)."""

    def __init__(self, platform: Platform, services: Sequence[AwsService] = SERVICES) -> None:
        self.platform = platform
        self.keys = AccessKeys(platform.settings.run_dir)
        self.by_target = {s.target_prefix: s for s in services if s.target_prefix}
        self.rest = [s for s in services if s.protocol.startswith("rest")]
        self.sts = StsFront(self.keys)  # the query protocol: XML answers of its own

    def answer(self, request: SignedRequest) -> Answer:
        if is_sts(request.headers):
            return self.sts.answer(request)
        request_id = str(uuid.uuid4())
        answer = self._answer(request)
        return Answer(
            answer.status, answer.body, {**answer.headers, "x-amzn-RequestId": request_id}
        )

    def _answer(self, request: SignedRequest) -> Answer:
        operation = None
        service: AwsService | None = None
        content_type = "application/x-amz-json-1.1"
        try:
            caller = verify(request, self.keys)
            target = request.headers.get("x-amz-target")
            if target and request.method == "POST" and request.raw_path == "/":
                service, name = json_operation(self.by_target, target)
                operation = service.model.operation_model(name)
                handler = self._handler(service, name)
                params = json_input(operation, request.body, service.errors.invalid)
                call = Call(self.platform, operation, params, caller, service.arn_namespace)
                return json_answer(operation, call.regional(handler(call)))
            content_type = "application/json"
            found = rest_operation(self.rest, request.method, request.raw_path)
            if found is None:
                raise AwsError(
                    "UnknownOperationException",
                    f"no operation answers {request.method} {request.raw_path}",
                    404,
                )
            service, name, path_members = found
            operation = service.model.operation_model(name)
            handler = self._handler(service, name)
            params = rest_input(
                operation, path_members, request.query, request.headers, request.body
            )
            output = handler(Call(self.platform, operation, params, caller, service.arn_namespace))
            return rest_answer(operation, output)
        except AwsError as error:
            return error_answer(error, content_type)
        except DockyardError as error:
            documented = documented_errors(operation) if operation is not None else frozenset()
            names = service.errors if service is not None else SAGEMAKER_ERRORS
            return error_answer(from_dockyard(error, documented, names), content_type)
        except Exception as exc:  # a bug must not look like success, nor kill the front
            log.exception("AWS front: %s %s failed", request.method, request.raw_path)
            server = service.errors.server if service is not None else "InternalFailure"
            return error_answer(AwsError(server, f"internal error: {exc}", 500), content_type)

    @staticmethod
    def _handler(service: AwsService, name: str) -> Handler:
        handler = service.handlers.get(name)
        if handler is None:
            raise AwsError(
                "NotImplemented",
                f"Dockyard does not implement {service.model.service_id} {name} yet; "
                "docs/aws-api.md lists the operations it does",
                501,
            )
        return handler


def create_aws_front(platform: Platform) -> Starlette:
    """The ASGI app: every path and method goes to :class:`AwsFront`."""
    front = AwsFront(platform)
    s3_front = S3Front(platform, front.keys)

    async def handle(request: Request) -> Response:
        if is_s3(request.headers, request.url.query):  # streams its own bodies
            return await s3_front.handle(request)
        body = await request.body()
        signed = SignedRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        answer = await run_in_threadpool(front.answer, signed)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]
    return Starlette(
        routes=[Route("/", handle, methods=methods), Route("/{path:path}", handle, methods=methods)]
    )


def serve_in_thread(platform: Platform) -> Callable[[], None] | None:
    """Serve the front on 127.0.0.1:<aws_port> in a thread of its own; the function
    that stops it, or None when the port is taken (the daemon goes on without it)."""
    port = platform.settings.aws_port
    stop = serve_on_loopback(
        create_aws_front(platform), port, what="AWS front", setting="DOCKYARD_AWS_PORT"
    )
    if stop is not None:
        names = ", ".join([*(s.name for s in SERVICES), "s3", "sts"])
        log.info("AWS APIs (%s) on http://127.0.0.1:%d", names, port)
    return stop
