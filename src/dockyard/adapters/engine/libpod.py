"""Pulls and pushes through Podman's own API, for registries on this machine.

Docker treats registries on 127.0.0.0/8 as plain-HTTP ("insecure") by default; Podman
reaches every registry over HTTPS unless ``registries.conf`` marks it insecure, and a
running Podman service reads that file once, when it starts. So a registry on the
loopback (Dockyard's own, ``127.0.0.1:PORT``) would be out of reach of a Podman that
started before it was listed, or that lists another port. Podman's own endpoints take
``tlsVerify`` per request: with it off, a loopback registry is reached over plain HTTP
whatever the service read at its start, exactly as Docker does. Credentials travel in
``X-Registry-Auth`` as with the Docker-compatible endpoints, so the registry checks
them the same way. Registries elsewhere keep Podman's own rules.

The answers are translated into the Docker-compatible endpoints' messages
(``error``, ``status``, ``aux.Digest``), so the adapter reads one kind of stream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import docker
import docker.auth

from dockyard.adapters.engine.images import registry_of
from dockyard.ports.engine import RegistryAuth

API = "/v4.0.0/libpod"  # Podman 4 and 5 both answer under this version


def on_loopback(ref: str) -> bool:
    """True when ``ref``'s registry is on this machine's loopback."""
    host, _ = registry_of(ref)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pull(client: docker.APIClient, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
    """Podman's pull of ``ref`` (plain HTTP allowed), as compatible-endpoint messages."""
    params = {"reference": ref, "tlsVerify": "false", "quiet": "false"}
    response = client._post(
        f"{client.base_url}{API}/images/pull", params=params, headers=_headers(auth), stream=True
    )
    client._raise_for_status(response)
    return _translated(client._stream_helper(response, decode=True))


def push(client: docker.APIClient, ref: str, auth: RegistryAuth | None) -> Iterator[dict[str, Any]]:
    """Podman's push of ``ref`` (plain HTTP allowed), as compatible-endpoint messages."""
    params = {"destination": ref, "tlsVerify": "false", "quiet": "false"}
    url = f"{client.base_url}{API}/images/{quote(ref, safe='/:@')}/push"
    response = client._post(url, params=params, headers=_headers(auth), stream=True)
    client._raise_for_status(response)
    return _translated(client._stream_helper(response, decode=True))


def _headers(auth: RegistryAuth | None) -> dict[str, str]:
    if auth is None:
        return {}
    credentials = {"username": auth.username, "password": auth.password}
    return {"X-Registry-Auth": docker.auth.encode_header(credentials).decode()}


def _translated(messages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Podman's ``stream``/``error``/``manifestdigest`` lines in Docker's words."""
    for message in messages:
        if message.get("error"):
            yield {"error": str(message["error"]), "errorDetail": {"message": message["error"]}}
        elif message.get("manifestdigest"):  # Podman 4.4 and later say what they pushed
            yield {"aux": {"Digest": str(message["manifestdigest"])}}
        elif message.get("stream"):
            yield {"status": str(message["stream"]).strip()}
