"""``sagemaker-runtime`` (REST-JSON): InvokeEndpoint, forwarded to the endpoint's model.

The request goes where Dockyard's own invocations go: through the load balancer's
route (``/endpoints/NAME/invocations`` on HAProxy), which picks the variant
(``TargetVariant``, sent as ``X-Amzn-SageMaker-Target-Variant``, else by the variants'
weights, as SageMaker splits traffic) and names it in the answer. Content-Type, Accept
and the ``X-Amzn-SageMaker-*`` headers pass through; the answer's Content-Type and
custom attributes come back with ``x-Amzn-Invoked-Production-Variant``. A model that answers
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
    "TargetVariant": "X-Amzn-SageMaker-Target-Variant",
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
    _check_target_container(record, params.get("TargetContainerHostname"))
    variant = _variant(record, params.get("TargetVariant"))
    url = call.platform.lb.url_for(record.name)
    headers = {wire: str(params[member]) for member, wire in _PASSED.items() if params.get(member)}
    try:
        response = _http().post(url, content=params["Body"], headers=headers)
    except httpx.TimeoutException:
        raise AwsError(
            "ModelError",
            "Your invocation timed out while waiting for a response from the model of "
            f"endpoint {name}.",
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
        "InvokedProductionVariant": response.headers.get(
            "x-amzn-invoked-production-variant", variant.variant_name if variant else None
        ),
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


def _check_target_container(record: EndpointRecord, target: object) -> None:
    """TargetContainerHostname's 400s (the contract): only for Direct mode, where it is
    required and must name a container."""
    model = record.model
    direct = bool(model.containers) and model.execution_mode == "Direct"
    if not direct:
        if target:
            raise _invalid(
                f"Endpoint {record.name} does not run its containers in Direct mode; "
                "TargetContainerHostname is only for Direct multi-container endpoints."
            )
        return
    names = [model.hostname_of(i) for i in range(len(model.containers))]
    if not target:
        raise _invalid(
            f"Endpoint {record.name} runs its containers in Direct mode: "
            f"TargetContainerHostname must name one of {', '.join(names)}."
        )
    if target not in names:
        raise _invalid(
            f"Container {target} not found on endpoint {record.name}; "
            f"its containers: {', '.join(names)}."
        )


def _variant(record: EndpointRecord, target: object) -> VariantRecord | None:
    """The pinned variant (checked here so that an unknown one is a ValidationError, not
    the balancer's 400 relayed as a ModelError); None: the balancer picks by weight."""
    if target:
        for variant in record.variants:
            if variant.variant_name == target:
                return variant
        raise _invalid(f"Variant {target} not found for endpoint {record.name}.")
    return record.variants[0] if len(record.variants) == 1 else None


HANDLERS: dict[str, Handler] = {"InvokeEndpoint": invoke_endpoint}

SERVICE = AwsService(name="sagemaker-runtime", arn_namespace="sagemaker", handlers=HANDLERS)
