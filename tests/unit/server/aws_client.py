"""Real boto3 clients wired to the AWS front in this process, without a socket.

Botocore builds, signs and parses every request as it would against AWS; its
``before-send`` hook hands the signed request to :class:`AwsFront` instead of the
network, and the front's answer goes back into botocore's parser. So the tests see
exactly what a client sees, on the in-memory fakes of a :class:`World`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from dockyard.server.aws.credentials import AccessKey
from dockyard.server.aws.front import AwsFront
from dockyard.server.aws.sigv4 import SignedRequest

ENDPOINT_URL = "http://127.0.0.1:9090"
REGION = "eu-west-1"


class _Raw(io.BytesIO):
    """What AWSResponse reads a body from (streamed, or read for a streaming output)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def signed_request(request: AWSPreparedRequest) -> SignedRequest:
    url = urlsplit(request.url)
    headers = {
        k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
    }
    headers.setdefault("host", url.netloc)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return SignedRequest(request.method, url.path or "/", url.query, headers, body)


def client(
    front: AwsFront, service: str, key: AccessKey, *, validate: bool = True, **config: Any
) -> Any:
    """A boto3 client of ``service`` whose requests ``front`` answers.

    ``validate=False`` turns off botocore's own parameter validation, so a bad request
    reaches the front (as from a client that does not validate).
    """
    made = boto3.session.Session().client(
        service,
        endpoint_url=ENDPOINT_URL,
        region_name=REGION,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}, **config),
    )

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        answered = front.answer(signed_request(request))
        return AWSResponse(
            request.url, answered.status, dict(answered.headers), _Raw(answered.body)
        )

    made.meta.events.register("before-send", answer)
    return made
