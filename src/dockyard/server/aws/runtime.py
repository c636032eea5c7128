"""``sagemaker-runtime`` (REST-JSON): InvokeEndpoint, forwarded to the endpoint's model.

The request goes where Dockyard's own invocations go: through the load balancer's
route (``/endpoints/NAME/invocations`` on HAProxy) when the endpoint has one variant;
with several variants, the front picks the variant (``TargetVariant``, else at random
by the variants' weights, as SageMaker splits traffic) and sends the request to one of
that variant's replicas now registered with the balancer. Content-Type, Accept and the
``X-Amzn-SageMaker-*`` headers pass through; the answer's Content-Type and custom
attributes come back with ``x-Amzn-Invoked-Production-Variant``. A model that answers
4xx or 5xx becomes ``ModelError`` (HTTP 424) carrying ``OriginalStatusCode`` and
``OriginalMessage``, as on AWS.

Multi-model endpoints: ``TargetModel`` travels as ``X-Amzn-SageMaker-Target-Model`` (the
balancer hashes on it, the replica loads the model on first use). A target model the
endpoint cannot serve -- no such archive under its prefix, an archive that is not one, a
missing TargetModel -- is a ``ValidationError`` (400), as SageMaker answers when it
cannot download the model data; the container marks those answers with the error name
``ValidationError``. TargetModel on an endpoint of one model is refused as SageMaker does.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from typing import Any

import httpx

from dockyard.control.endpoint import EndpointStatus, is_multi_model
from dockyard.records.endpoint import EndpointRecord, VariantRecord
from dockyard.server.aws.errors import AwsError
from dockyard.server.aws.service import ACCOUNT_ID, AwsService, Call, Handler

#: the container must answer within 60 s (the inference contract); a little more here
INVOKE_TIMEOUT_S = 70.0
#: statuses in which an endpoint has replicas taking traffic
SERVING = frozenset(
    {EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING, EndpointStatus.ROLLING_BACK}
)
#: request members passed to the container as the headers the model expects
_PASSED = {
    "ContentType": "Content-Type",
    "Accept": "Accept",
    "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
    "TargetModel": "X-Amzn-SageMaker-Target-Model",
    "TargetContainerHostname": "X-Amzn-SageMaker-Target-Container-Hostname",
    "InferenceId": "X-Amzn-SageMaker-Inference-Id",
}


def _invalid(message: str) -> AwsError:
    """sagemaker-runtime's name for a bad request (its model calls it ValidationError)."""
    return AwsError("ValidationError", message)


@functools.cache
def _http() -> httpx.Client:
    """One pooled client for every invocation (thread-safe)."""
    return httpx.Client(timeout=httpx.Timeout(INVOKE_TIMEOUT_S, connect=5.0))


def invoke_endpoint(call: Call) -> Mapping[str, Any]:
    params = call.params
    name = str(params["EndpointName"])
    record = call.platform.store.endpoints.get(name)
    if record is None:
        raise _invalid(f"Endpoint {name} of account {ACCOUNT_ID} not found.")
    if record.status not in SERVING:
        raise _invalid(f"Endpoint {name} is {record.status}, not InService.")
    multi_model = is_multi_model(record.model)
    if params.get("TargetModel") and not multi_model:
        raise _invalid(
            f"Endpoint {name} is not a multi-model endpoint and does not support target model "
            "header."
        )
    if params.get("TargetContainerHostname"):
        raise _invalid(
            f"Endpoint {name} serves one container; TargetContainerHostname is for endpoints "
            "whose model runs containers in Direct mode."
        )
    variant = _variant(record, params.get("TargetVariant"))
    url = _url(call, record, variant)
    headers = {wire: str(params[member]) for member, wire in _PASSED.items() if params.get(member)}
    try:
        response = _http().post(url, content=params["Body"], headers=headers)
    except httpx.TimeoutException:
        raise AwsError(
            "ModelError",
            f"Your invocation timed out while waiting for a response from the model of "
            f"variant {variant.variant_name}.",
            424,
            {"OriginalStatusCode": 504},
        ) from None
    except httpx.HTTPError as exc:
        raise AwsError(
            "ServiceUnavailable", f"endpoint {name} did not answer: {exc}", 503
        ) from None
    if response.status_code >= 400 and multi_model:
        _raise_target_model_error(response)
    if response.status_code >= 400:
        kind = "client" if response.status_code < 500 else "server"
        text = response.text
        raise AwsError(
            "ModelError",
            f'Received {kind} error ({response.status_code}) from model with message "{text}".',
            424,
            {"OriginalStatusCode": response.status_code, "OriginalMessage": text},
        )
    return {
        "Body": response.content,
        "ContentType": response.headers.get("content-type"),
        "InvokedProductionVariant": variant.variant_name,
        "CustomAttributes": response.headers.get("x-amzn-sagemaker-custom-attributes"),
    }


def _raise_target_model_error(response: httpx.Response) -> None:
    """A multi-model replica's ValidationError (the target model cannot be served) as
    SageMaker Runtime's own ValidationError; any other answer is left to the caller."""
    if response.status_code != 400:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and body.get("error") == "ValidationError":
        raise _invalid(str(body.get("message") or "the target model cannot be served"))


def _variant(record: EndpointRecord, target: object) -> VariantRecord:
    if target:
        for variant in record.variants:
            if variant.variant_name == target:
                return variant
        raise _invalid(f"Variant {target} not found for endpoint {record.name}.")
    if len(record.variants) == 1:
        return record.variants[0]
    weights = {v.variant_name: v.initial_variant_weight for v in record.config.production_variants}
    chosen = random.choices(
        record.variants, [weights.get(v.variant_name, 1.0) for v in record.variants]
    )
    return chosen[0]


def _url(call: Call, record: EndpointRecord, variant: VariantRecord) -> str:
    """The balancer's route for a one-variant endpoint; else a replica of ``variant``."""
    lb = call.platform.lb
    if len(record.variants) == 1:
        return lb.url_for(record.name)
    tasks = {
        t.task.task_id for t in call.platform.store.tasks.list(f"service/{variant.service_name}")
    }
    ready = [t for t in lb.targets(record.name) if t.name in tasks and t.health == "healthy"]
    if not ready:
        raise AwsError(
            "ServiceUnavailable",
            f"variant {variant.variant_name} of endpoint {record.name} has no replica in service",
            503,
        )
    return f"http://{random.choice(ready).address}/invocations"


HANDLERS: dict[str, Handler] = {"InvokeEndpoint": invoke_endpoint}

SERVICE = AwsService(name="sagemaker-runtime", arn_namespace="sagemaker", handlers=HANDLERS)
