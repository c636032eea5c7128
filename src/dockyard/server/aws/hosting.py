"""SageMaker hosting over the AWS front: Model → EndpointConfig → Endpoint.

Models and endpoint configs are stored as they were created
(:mod:`dockyard.records.hosting`). CreateEndpoint and UpdateEndpoint hand the config
and the models its variants name to :func:`dockyard.server.endpoints.deploy_resources`,
the same deploy Dockyard's own API runs, so replicas, health, rolling updates and
rollbacks are the service core's. Messages for missing or existing resources are
SageMaker's (``Could not find model "arn…"``), as ValidationException, the name AWS
uses for them in these operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.control.endpoint import MULTI_MODEL, EndpointStatus
from dockyard.records.endpoint import EndpointRecord
from dockyard.records.hosting import EndpointConfigRecord, ModelRecord
from dockyard.server import endpoint_capacity, endpoints
from dockyard.server.aws.errors import validation
from dockyard.server.aws.listing import Row, page
from dockyard.server.aws.model_packages import package_lookup
from dockyard.server.aws.resources import resource_path
from dockyard.server.aws.service import Call, Handler
from dockyard.server.aws.tags import forget
from dockyard.server.image_lookup import image_here
from dockyard.spec.endpoint import Model, parse_endpoint, parse_endpoint_config, parse_model
from dockyard.spec.model_package import resolve_packages


def _arn(call: Call, kind: str, name: str) -> str:
    return call.arn(f"{kind}/{name.lower()}")


# -- models -------------------------------------------------------------------------------


def create_model(call: Call) -> Mapping[str, Any]:
    # a container naming only a ModelPackageName runs the package's container
    model = parse_model(resolve_packages(call.params, package_lookup(call)))
    arn = _arn(call, "model", model.model_name)
    if call.platform.store.models.get(model.model_name) is not None:
        raise validation(f'Cannot create already existing model "{arn}".')
    for index, container in enumerate(model.all_containers):
        where = "PrimaryContainer" if model.primary_container else f"Containers[{index}]"
        image_here(call.platform, container.image, f"{where}.Image")  # or AWS's, stood in for
        if container.model_data_url:  # refused now, not when an endpoint starts
            # a multi-model container's ModelDataUrl is the prefix of its archives
            resolve = (
                call.platform.inputs.directory
                if container.mode == MULTI_MODEL
                else call.platform.inputs.model_archive
            )
            resolve(container.model_data_url, f"{where}.ModelDataUrl")
    call.platform.store.models.create(ModelRecord(model, call.platform.clock()))
    return {"ModelArn": arn}


def _model(call: Call, name: str) -> ModelRecord:
    record = call.platform.store.models.get(name)
    if record is None:
        raise validation(f'Could not find model "{_arn(call, "model", name)}".')
    return record


def describe_model(call: Call) -> Mapping[str, Any]:
    record = _model(call, str(call.params["ModelName"]))
    return {
        **record.model.to_aws(),
        "ModelArn": _arn(call, "model", record.key),
        "CreationTime": record.created_at,
    }


def delete_model(call: Call) -> Mapping[str, Any]:
    name = str(call.params["ModelName"])
    _model(call, name)
    call.platform.store.models.delete(name)
    forget(call.platform.store, resource_path("model", name))
    return {}


def list_models(call: Call) -> Mapping[str, Any]:
    rows = [
        Row(
            r.key,
            r.created_at,
            None,
            None,
            {
                "ModelName": r.key,
                "ModelArn": _arn(call, "model", r.key),
                "CreationTime": r.created_at,
            },
        )
        for r in call.platform.store.models.list()
    ]
    return page(rows, call.params, "Models")


# -- endpoint configs ---------------------------------------------------------------------


def create_endpoint_config(call: Call) -> Mapping[str, Any]:
    config = parse_endpoint_config(call.params)
    name = config.endpoint_config_name
    arn = _arn(call, "endpoint-config", name)
    if call.platform.store.endpoint_configs.get(name) is not None:
        raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
    for variant in config.production_variants:
        _model(call, variant.model_name)
    call.platform.store.endpoint_configs.create(EndpointConfigRecord(config, call.platform.clock()))
    return {"EndpointConfigArn": arn}


def _config(call: Call, name: str) -> EndpointConfigRecord:
    record = call.platform.store.endpoint_configs.get(name)
    if record is None:
        arn = _arn(call, "endpoint-config", name)
        raise validation(f'Could not find endpoint configuration "{arn}".')
    return record


def describe_endpoint_config(call: Call) -> Mapping[str, Any]:
    record = _config(call, str(call.params["EndpointConfigName"]))
    return {
        **record.config.to_aws(),
        "EndpointConfigArn": _arn(call, "endpoint-config", record.key),
        "CreationTime": record.created_at,
    }


def delete_endpoint_config(call: Call) -> Mapping[str, Any]:
    name = str(call.params["EndpointConfigName"])
    _config(call, name)
    call.platform.store.endpoint_configs.delete(name)
    forget(call.platform.store, resource_path("endpoint-config", name))
    return {}


def list_endpoint_configs(call: Call) -> Mapping[str, Any]:
    rows = [
        Row(
            r.key,
            r.created_at,
            None,
            None,
            {
                "EndpointConfigName": r.key,
                "EndpointConfigArn": _arn(call, "endpoint-config", r.key),
                "CreationTime": r.created_at,
            },
        )
        for r in call.platform.store.endpoint_configs.list()
    ]
    return page(rows, call.params, "EndpointConfigs")


# -- endpoints ----------------------------------------------------------------------------


def _deploy(call: Call) -> Mapping[str, Any]:
    """CreateEndpoint and UpdateEndpoint: the named config with its models, deployed."""
    endpoint = parse_endpoint(
        {k: call.params[k] for k in ("EndpointName", "EndpointConfigName") if k in call.params}
    )
    config = _config(call, endpoint.endpoint_config_name).config
    models: dict[str, Model] = {}
    for variant in config.production_variants:
        models[variant.model_name] = _model(call, variant.model_name).model
    endpoints.deploy_resources(call.platform, endpoint, config, models)
    return {"EndpointArn": _arn(call, "endpoint", endpoint.endpoint_name)}


def create_endpoint(call: Call) -> Mapping[str, Any]:
    name = str(call.params["EndpointName"])
    if call.platform.store.endpoints.get(name) is not None:
        arn = _arn(call, "endpoint", name)
        raise validation(f'Cannot create already existing endpoint "{arn}".')
    return _deploy(call)


def update_endpoint(call: Call) -> Mapping[str, Any]:
    record = _endpoint(call, str(call.params["EndpointName"]))
    if record.status is not EndpointStatus.IN_SERVICE:
        raise validation(
            f"Cannot update in-progress endpoint "
            f'"{_arn(call, "endpoint", record.name)}" (status {record.status}).'
        )
    return _deploy(call)


def _endpoint(call: Call, name: str) -> EndpointRecord:
    record = call.platform.store.endpoints.get(name)
    if record is None:
        raise validation(f'Could not find endpoint "{_arn(call, "endpoint", name)}".')
    return record


def delete_endpoint(call: Call) -> Mapping[str, Any]:
    name = str(call.params["EndpointName"])
    _endpoint(call, name)
    endpoints.delete(call.platform, name)
    return {}


def describe_endpoint(call: Call) -> Mapping[str, Any]:
    record = _endpoint(call, str(call.params["EndpointName"]))
    healthy: dict[str, int] = {}
    for row in endpoints.replicas(call.platform, record):
        if row["Health"] == "healthy":
            healthy[row["Variant"]] = healthy.get(row["Variant"], 0) + 1
    weights = {v.variant_name: v for v in record.config.production_variants}
    variants = []
    for variant in record.variants:
        spec = weights.get(variant.variant_name)
        weight = variant.weight
        variants.append(
            {
                "VariantName": variant.variant_name,
                "DeployedImages": [
                    {
                        "SpecifiedImage": _specified_image(
                            call, record, spec.model_name if spec else None
                        ),
                        "ResolvedImage": record.image_id,
                        "ResolutionTime": record.last_modified_at,
                    }
                ],
                "CurrentWeight": weight,
                "DesiredWeight": weight,
                "CurrentInstanceCount": healthy.get(variant.variant_name, 0),
                "DesiredInstanceCount": variant.desired,
            }
        )
    return {
        "EndpointName": record.name,
        "EndpointArn": _arn(call, "endpoint", record.name),
        "EndpointConfigName": record.config.endpoint_config_name,
        "ProductionVariants": variants,
        "EndpointStatus": record.status,
        "FailureReason": record.failure_reason,
        "CreationTime": record.created_at,
        "LastModifiedTime": record.last_modified_at,
    }


def update_endpoint_weights_and_capacities(call: Call) -> Mapping[str, Any]:
    """New weights take effect at once in the load balancer, new counts through the
    variants' services (:func:`dockyard.server.endpoint_capacity.update_weights_and_capacities`)."""
    record = _endpoint(call, str(call.params["EndpointName"]))
    if record.status is not EndpointStatus.IN_SERVICE:
        raise validation(
            f"Cannot update in-progress endpoint "
            f'"{_arn(call, "endpoint", record.name)}" (status {record.status}).'
        )
    endpoint_capacity.update_weights_and_capacities(call.platform, record.name, call.params)
    return {"EndpointArn": _arn(call, "endpoint", record.name)}


def _specified_image(call: Call, record: EndpointRecord, model_name: str | None) -> str:
    stored = call.platform.store.models.get(model_name) if model_name else None
    model = stored.model if stored is not None else record.model
    return model.primary_container.image if model.primary_container else ""


def list_endpoints(call: Call) -> Mapping[str, Any]:
    rows = [
        Row(
            r.name,
            r.created_at,
            r.last_modified_at,
            r.status,
            {
                "EndpointName": r.name,
                "EndpointArn": _arn(call, "endpoint", r.name),
                "CreationTime": r.created_at,
                "LastModifiedTime": r.last_modified_at,
                "EndpointStatus": r.status,
            },
        )
        for r in call.platform.store.endpoints.list()
    ]
    return page(rows, call.params, "Endpoints")


HANDLERS: dict[str, Handler] = {
    "CreateModel": create_model,
    "DescribeModel": describe_model,
    "DeleteModel": delete_model,
    "ListModels": list_models,
    "CreateEndpointConfig": create_endpoint_config,
    "DescribeEndpointConfig": describe_endpoint_config,
    "DeleteEndpointConfig": delete_endpoint_config,
    "ListEndpointConfigs": list_endpoint_configs,
    "CreateEndpoint": create_endpoint,
    "DescribeEndpoint": describe_endpoint,
    "UpdateEndpoint": update_endpoint,
    "UpdateEndpointWeightsAndCapacities": update_endpoint_weights_and_capacities,
    "DeleteEndpoint": delete_endpoint,
    "ListEndpoints": list_endpoints,
}
