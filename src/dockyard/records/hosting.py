"""SageMaker's hosting resources that exist apart from an endpoint: Models and
EndpointConfigs, as CreateModel and CreateEndpointConfig made them.

An endpoint copies the config and models it runs into its own record when it is
created or updated (:class:`~dockyard.records.endpoint.EndpointRecord`), so deleting
or replacing a model or a config later never changes what an endpoint serves (as on
AWS, where a config in use may be deleted).

Dockyard's own deploy (``dockyard deploy``, ``POST /v1/endpoints``) builds a model and a
config from one request and stores them too, named after the endpoint, so that the AWS
APIs can describe what DescribeEndpoint names. ``made_for`` (``endpoint/NAME``) marks
those: a later deploy of that endpoint replaces them, and never a model or a config
someone created under the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.spec.endpoint import EndpointConfig, Model


@dataclass(frozen=True)
class ModelRecord:
    """A CreateModel request as validated, and when it was made (epoch seconds)."""

    KIND: ClassVar[str] = "model"

    model: Model
    created_at: float
    made_for: str | None = None

    @property
    def key(self) -> str:
        return self.model.model_name

    @property
    def owner(self) -> None:
        return None


@dataclass(frozen=True)
class EndpointConfigRecord:
    """A CreateEndpointConfig request as validated, and when it was made (epoch seconds)."""

    KIND: ClassVar[str] = "endpoint_config"

    config: EndpointConfig
    created_at: float
    made_for: str | None = None

    @property
    def key(self) -> str:
        return self.config.endpoint_config_name

    @property
    def owner(self) -> None:
        return None
