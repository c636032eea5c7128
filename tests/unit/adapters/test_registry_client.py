"""The registry client against a scripted Distribution (the real one: integration tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest

from dockyard.adapters.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    RegistryClient,
    RegistryReadOnly,
)
from dockyard.adapters.registry.tokens import TokenIssuer
from dockyard.errors import NotFound, SpecError, Unauthorized

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "a" * 64
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1000,
               "digest": "sha256:" + "c" * 64},
    "layers": [{"size": 20_000, "digest": "sha256:" + "1" * 64},
               {"size": 300, "digest": "sha256:" + "2" * 64}],
}  # fmt: skip

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def issuer(tmp_path: Path) -> TokenIssuer:
    return TokenIssuer(tmp_path)


def _client(issuer: TokenIssuer, handler: Handler) -> RegistryClient:
    return RegistryClient("http://registry", issuer, transport=httpx.MockTransport(handler))


def _access(request: httpx.Request) -> list[dict[str, object]]:
    token = request.headers["authorization"].removeprefix("Bearer ")
    return list(jwt.decode(token, options={"verify_signature": False})["access"])


def test_each_call_carries_a_token_for_exactly_its_scope(issuer: TokenIssuer) -> None:
    seen: list[list[dict[str, object]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(_access(request))
        return httpx.Response(200, json={"repositories": [], "name": "m/a", "tags": []})

    with _client(issuer, handler) as client:
        client.repositories()
        client.tags("models/a")

    assert seen == [
        [{"type": "registry", "name": "catalog", "actions": ["*"]}],
        [{"type": "repository", "name": "models/a", "actions": ["pull"]}],
    ]


def test_a_token_is_reused_until_it_nears_expiry(issuer: TokenIssuer) -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["authorization"])
        return httpx.Response(200, json={"tags": ["v1"]})

    with _client(issuer, handler) as client:
        client.tags("models/a")
        client.tags("models/a")

    assert tokens[0] == tokens[1]


def test_the_catalog_follows_link_pages(issuer: TokenIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("last") == "b":
            return httpx.Response(200, json={"repositories": ["c"]})
        link = '</v2/_catalog?last=b&n=2>; rel="next"'
        return httpx.Response(200, json={"repositories": ["b", "a"]}, headers={"Link": link})

    with _client(issuer, handler) as client:
        assert client.repositories(page_size=2) == ["a", "b", "c"]


def test_a_manifest_gives_digest_config_and_size(issuer: TokenIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert DOCKER_MANIFEST in request.headers["accept"]
        return httpx.Response(
            200,
            content=json.dumps(MANIFEST).encode(),
            headers={"Docker-Content-Digest": DIGEST, "Content-Type": DOCKER_MANIFEST},
        )

    with _client(issuer, handler) as client:
        info = client.manifest("models/a", "v1")

    assert info.digest == DIGEST
    assert info.media_type == DOCKER_MANIFEST
    assert info.config_digest == "sha256:" + "c" * 64
    assert info.layer_sizes == (20_000, 300)
    assert info.size == 21_300


def test_an_index_lists_its_children(issuer: TokenIssuer) -> None:
    index = {"mediaType": OCI_INDEX, "manifests": [{"digest": DIGEST, "size": 500}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=index, headers={"Docker-Content-Digest": "sha256:" + "f" * 64}
        )

    with _client(issuer, handler) as client:
        info = client.manifest("models/a", "multi")

    assert info.config_digest is None
    assert info.children == (DIGEST,)


def test_exists_is_a_head_and_false_on_404(issuer: TokenIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD"
        if request.url.path.endswith("/v1"):
            return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})
        return httpx.Response(404)

    with _client(issuer, handler) as client:
        assert client.exists("models/a", "v1")
        assert not client.exists("models/a", "v2")
        assert client.head_manifest("models/a", "v1") == DIGEST


def test_an_unknown_repository_is_not_found(issuer: TokenIssuer) -> None:
    body = {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}

    with (
        _client(issuer, lambda r: httpx.Response(404, json=body)) as client,
        pytest.raises(NotFound) as error,
    ):
        client.tags("models/none")
    assert error.value.resource == "models/none"


def test_a_refused_scope_is_unauthorized_with_distributions_reason(issuer: TokenIssuer) -> None:
    challenge = 'Bearer realm="x",service="dockyard-registry",error="insufficient_scope"'
    body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json=body, headers={"WWW-Authenticate": challenge})

    with (
        _client(issuer, handler) as client,
        pytest.raises(Unauthorized, match="insufficient_scope"),
    ):
        client.repositories()


def test_delete_uses_the_delete_action_and_a_digest(issuer: TokenIssuer) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    with _client(issuer, handler) as client:
        client.delete_manifest("models/a", DIGEST)
        with pytest.raises(SpecError):
            client.delete_manifest("models/a", "v1")

    assert len(seen) == 1
    assert seen[0].method == "DELETE"
    assert seen[0].url.path == f"/v2/models/a/manifests/{DIGEST}"
    assert _access(seen[0]) == [{"type": "repository", "name": "models/a", "actions": ["delete"]}]


def test_a_refused_write_during_maintenance_is_retryable(issuer: TokenIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(405, text="Method not allowed\n", headers={"Allow": "GET, HEAD"})

    with _client(issuer, handler) as client, pytest.raises(RegistryReadOnly) as error:
        client.delete_manifest("models/a", DIGEST)
    assert error.value.status_code == 503
    assert "retry" in (error.value.hint or "")


def test_a_bad_repository_name_is_refused_before_any_request(issuer: TokenIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with _client(issuer, handler) as client, pytest.raises(SpecError):
        client.tags("Models/A")
