"""Distribution's configuration file as Dockyard renders it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.adapters.registry.config import (
    Notifications,
    RegistryConfig,
    UploadPurging,
    render_config,
)

pytestmark = pytest.mark.unit


def _config(**changes: Any) -> RegistryConfig:
    values: dict[str, Any] = {
        "data_dir": Path("/state/registry/data"),
        "port": 41234,
        "http_secret": "s3cret",
        "token_realm": "http://127.0.0.1:7000/v2/token",
        "root_cert_bundle": Path("/state/registry/auth/token-signing-cert.pem"),
        "service": "dockyard-registry",
        "issuer": "dockyard",
        **changes,
    }
    return RegistryConfig(**values)


def _rendered(**changes: Any) -> dict[str, Any]:
    text = render_config(_config(**changes))
    document: dict[str, Any] = yaml.safe_load(text)
    assert document == json.loads(text)  # the JSON text reads the same as YAML
    return document


def test_version_is_the_string_distribution_expects() -> None:
    assert _rendered()["version"] == "0.1"


def test_storage_is_the_data_dir_with_deletes_and_upload_purging() -> None:
    storage = _rendered()["storage"]

    assert storage["filesystem"] == {"rootdirectory": "/state/registry/data"}
    assert storage["delete"] == {"enabled": True}
    assert storage["maintenance"]["uploadpurging"] == {
        "enabled": True,
        "age": "168h",
        "interval": "24h",
        "dryrun": False,
    }
    assert storage["maintenance"]["readonly"] == {"enabled": False}


def test_upload_purging_can_be_tuned() -> None:
    purging = _rendered(upload_purging=UploadPurging(age="1h", interval="10m"))["storage"][
        "maintenance"
    ]["uploadpurging"]

    assert (purging["age"], purging["interval"]) == ("1h", "10m")


def test_the_read_only_rendering_refuses_writes() -> None:
    assert _rendered(read_only=True)["storage"]["maintenance"]["readonly"] == {"enabled": True}


def test_it_listens_on_loopback_only_with_the_persisted_secret() -> None:
    http = _rendered()["http"]

    assert http["addr"] == "127.0.0.1:41234"
    assert http["secret"] == "s3cret"


def test_token_auth_names_realm_service_issuer_and_bundle() -> None:
    assert _rendered()["auth"] == {
        "token": {
            "realm": "http://127.0.0.1:7000/v2/token",
            "service": "dockyard-registry",
            "issuer": "dockyard",
            "rootcertbundle": "/state/registry/auth/token-signing-cert.pem",
        }
    }


def test_notifications_are_rendered_only_when_given() -> None:
    assert "notifications" not in _rendered()

    notify = Notifications("http://127.0.0.1:7000/events", headers={"Authorization": "Bearer x"})
    endpoints = _rendered(notifications=notify)["notifications"]["endpoints"]

    assert len(endpoints) == 1
    assert endpoints[0]["url"] == "http://127.0.0.1:7000/events"
    assert endpoints[0]["headers"] == {"Authorization": ["Bearer x"]}
    assert endpoints[0]["ignore"] == {"mediatypes": ["application/octet-stream"]}


def test_values_with_quotes_and_colons_survive() -> None:
    tricky = 'http://127.0.0.1:7000/token?x="a: b"'

    assert _rendered(token_realm=tricky)["auth"]["token"]["realm"] == tricky
