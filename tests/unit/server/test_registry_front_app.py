"""The registry front, against a stand-in Distribution: tokens, tag immutability, records.

The front is the real ASGI app on a platform of in-memory fakes; Distribution is a
small :class:`FakeDistribution` behind an httpx ``MockTransport`` that answers like
Distribution 2.8 does (201 and ``Docker-Content-Digest`` for a manifest, 202 and a
``Location`` on its private host for an upload) and remembers every request it saw,
so a test can tell what was refused before it reached the registry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.registry import Registry, Scope, TokenIssuer
from dockyard.adapters.store.memory import MemoryStore
from dockyard.records.registry import image_key
from dockyard.server.platform import Platform
from dockyard.server.registry.credentials import FULL_ACCESS, LoginCredentials, issue_login
from dockyard.server.registry.front import create_front
from dockyard.server.registry.front import upstream as upstream_module
from dockyard.server.registry.handles import RegistryHandles
from dockyard.server.registry.operations import create_repository
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

pytestmark = pytest.mark.unit

UPSTREAM = "http://127.0.0.1:49999"  # Distribution's private address
PUBLIC = "127.0.0.1:5000"
CONFIG_SIZE, LAYER_SIZES = 1_234, (10_000, 250)


class Streamed(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 4096):
            yield self.body[start : start + 4096]


@dataclass
class FakeDistribution:
    """Distribution's answers, and the requests that reached it."""

    seen: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    read_only: bool = False
    down_for: int = 0  # the next N connections are refused (a restart)
    hang_up: bool = False  # drop each connection once the request has been read

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = await self._answer(request)
        # streamed, as a real connection's body is (a body given whole counts as read)
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=Streamed(answer.content)
        )

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.down_for:
            self.down_for -= 1
            raise httpx.ConnectError("connection refused", request=request)
        body = await request.aread()
        self.seen.append(request)
        self.bodies.append(body)
        if self.hang_up:
            raise httpx.ReadError("connection reset by peer", request=request)
        path, method = request.url.path, request.method
        if not request.headers.get("authorization", "").startswith("Bearer "):
            challenge = f'Bearer realm="http://{PUBLIC}/token",service="dockyard-registry"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if self.read_only and method not in ("GET", "HEAD"):
            return httpx.Response(405, headers={"Allow": "GET, HEAD"})
        if method == "PUT" and "/manifests/" in path:
            digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        if method == "POST" and path.endswith("/blobs/uploads/"):
            location = f"{UPSTREAM}{path}4f1c?_state=abc"
            return httpx.Response(202, headers={"Location": location, "Range": "0-0"})
        if method == "PATCH":
            return httpx.Response(202, headers={"Range": f"0-{len(body) - 1}"})
        if method == "DELETE":
            return httpx.Response(202)
        if method == "GET" and "/blobs/" in path:
            return httpx.Response(200, content=b"layer-bytes" * 1000)
        return httpx.Response(200, json={})

    def manifests_put(self) -> list[httpx.Request]:
        return [r for r in self.seen if r.method == "PUT" and "/manifests/" in r.url.path]


@pytest.fixture
def distribution() -> FakeDistribution:
    return FakeDistribution()


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    settings = Settings(state_dir=tmp_path / "state")
    engine = FakeEngine()
    registry = Registry(settings.state_dir, token_realm=f"http://{PUBLIC}/token")
    made = Platform(
        settings,
        MemoryStore(),
        engine,
        FakeLoadBalancer(),
        LocalArtifactStore(settings.artifacts_dir),
        FakeHealthProbe(engine),
        registry=RegistryHandles(registry, PUBLIC),
    )
    woken: list[tuple[str, str | None]] = []
    made.wake = lambda kind, key: woken.append((kind, key))
    made.woken = woken  # type: ignore[attr-defined]
    for name, mutability in (("models/iris", "IMMUTABLE"), ("models/mutable", "MUTABLE")):
        create_repository(
            made.store, {"repositoryName": name, "imageTagMutability": mutability}, time.time()
        )
    return made


@pytest.fixture
def client(platform: Platform, distribution: FakeDistribution) -> Iterator[TestClient]:
    app = create_front(
        platform,
        upstream=UPSTREAM,
        transport=httpx.MockTransport(distribution),
        read_only=lambda: distribution.read_only,
    )
    with TestClient(app, base_url=f"http://{PUBLIC}") as made:
        yield made


@pytest.fixture
def full_login(platform: Platform) -> LoginCredentials:
    assert platform.registry is not None
    return issue_login(platform.registry.issuer, FULL_ACCESS)


def token(client: TestClient, login: LoginCredentials, *scopes: str) -> dict[str, str]:
    """Bearer headers for ``scopes``, got the way docker gets them."""
    response = client.get(
        "/token",
        params=[("service", "dockyard-registry"), *(("scope", s) for s in scopes)],
        auth=(login.username, login.password),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def granted(platform: Platform, headers: dict[str, str]) -> list[dict[str, Any]]:
    assert platform.registry is not None
    claims = platform.registry.issuer.decode(headers["Authorization"].split(" ", 1)[1])
    return list(claims["access"])


def manifest(seed: str) -> bytes:
    """A Docker image manifest (its layer digests differ per ``seed``)."""
    layers = [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": size,
            "digest": f"sha256:{hashlib.sha256(f'{seed}{i}'.encode()).hexdigest()}",
        }
        for i, size in enumerate(LAYER_SIZES)
    ]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": CONFIG_SIZE,
                "digest": f"sha256:{hashlib.sha256(seed.encode()).hexdigest()}",
            },
            "layers": layers,
        }
    ).encode()


def digest_of(body: bytes) -> str:
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def put_manifest(
    client: TestClient, headers: dict[str, str], name: str, reference: str, body: bytes
) -> httpx.Response:
    content_type = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
    response: httpx.Response = client.put(
        f"/v2/{name}/manifests/{reference}", content=body, headers={**headers, **content_type}
    )
    return response


def error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["code"])


# -- the token endpoint --------------------------------------------------------------------


def test_the_token_endpoint_asks_for_basic_credentials(client: TestClient) -> None:
    response = client.get("/token", params={"service": "dockyard-registry"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic realm=")


def test_a_wrong_password_gets_no_token(client: TestClient) -> None:
    response = client.get("/token", auth=("AWS", "not-a-password"))

    assert response.status_code == 401
    assert "not valid" in response.json()["details"]


def test_a_full_login_gets_push_and_the_catalog(
    client: TestClient, platform: Platform, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push", "registry:catalog:*")

    assert granted(platform, headers) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": "models/iris", "actions": ["pull", "push"]},
    ]


def test_a_pull_login_gets_pull_on_its_repository_only(
    client: TestClient, platform: Platform
) -> None:
    assert platform.registry is not None
    login = issue_login(platform.registry.issuer, {"models/iris": ["pull"]})

    headers = token(
        client,
        login,
        "repository:models/iris:pull,push",
        "repository:models/mutable:pull",
        "registry:catalog:*",
    )

    assert granted(platform, headers) == [
        {"type": "repository", "name": "models/iris", "actions": ["pull"]}
    ]


def test_no_scope_is_granted_on_a_repository_that_does_not_exist(
    client: TestClient, platform: Platform, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/nope:pull,push")

    assert granted(platform, headers) == []


# -- pushes --------------------------------------------------------------------------------


def test_a_push_is_recorded_with_its_digest_and_size(
    client: TestClient,
    platform: Platform,
    distribution: FakeDistribution,
    full_login: LoginCredentials,
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    body = manifest("one")

    response = put_manifest(client, headers, "models/iris", "v1", body)

    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == digest_of(body)
    assert distribution.bodies[-1] == body
    image = platform.store.images.require(image_key("models/iris", digest_of(body)))
    assert image.tags == ("v1",)
    assert image.size == CONFIG_SIZE + sum(LAYER_SIZES)
    assert image.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert ("registry", "models/iris") in platform.woken  # type: ignore[attr-defined]


def test_a_pushed_tag_moves_off_the_image_it_named_in_a_mutable_repository(
    client: TestClient, platform: Platform, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/mutable:pull,push")
    first, second = manifest("first"), manifest("second")
    put_manifest(client, headers, "models/mutable", "latest", first)

    response = put_manifest(client, headers, "models/mutable", "latest", second)

    assert response.status_code == 201
    images = platform.store.images
    assert images.require(image_key("models/mutable", digest_of(first))).tags == ()
    assert images.require(image_key("models/mutable", digest_of(second))).tags == ("latest",)


def test_overwriting_an_immutable_tag_is_refused_before_the_registry_sees_it(
    client: TestClient,
    platform: Platform,
    distribution: FakeDistribution,
    full_login: LoginCredentials,
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    original = manifest("original")
    put_manifest(client, headers, "models/iris", "v1", original)

    response = put_manifest(client, headers, "models/iris", "v1", manifest("other"))

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "TAG_INVALID"
    assert error["message"].startswith(
        "ImageTagAlreadyExistsException: The image tag 'v1' already exists in the "
        "'models/iris' repository and cannot be overwritten because the repository is immutable."
    )
    assert len(distribution.manifests_put()) == 1  # the original only
    kept = platform.store.images.require(image_key("models/iris", digest_of(original)))
    assert kept.tags == ("v1",)


def test_pushing_the_same_manifest_again_under_an_immutable_tag_is_allowed(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    body = manifest("same")
    put_manifest(client, headers, "models/iris", "v1", body)

    response = put_manifest(client, headers, "models/iris", "v1", body)

    assert response.status_code == 201
    assert len(distribution.manifests_put()) == 2


def test_a_manifest_pushed_by_digest_is_recorded_untagged(
    client: TestClient, platform: Platform, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    body = manifest("child")

    response = put_manifest(client, headers, "models/iris", digest_of(body), body)

    assert response.status_code == 201
    assert platform.store.images.require(image_key("models/iris", digest_of(body))).tags == ()


def test_pushing_to_a_repository_that_does_not_exist_is_name_unknown(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/nope:pull,push")

    upload = client.post("/v2/models/nope/blobs/uploads/", headers=headers)
    put = put_manifest(client, headers, "models/nope", "v1", manifest("x"))

    for response in (upload, put):
        assert response.status_code == 404
        assert error_code(response) == "NAME_UNKNOWN"
        assert "dockyard repo create models/nope" in response.json()["errors"][0]["message"]
    assert distribution.seen == []


def test_a_caller_without_a_token_is_passed_on_to_the_registrys_challenge(
    client: TestClient, distribution: FakeDistribution
) -> None:
    response = put_manifest(client, {}, "models/nope", "v1", manifest("x"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(f'Bearer realm="http://{PUBLIC}/token"')


def test_a_manifest_with_a_token_the_front_cannot_verify_never_reaches_the_registry(
    client: TestClient, distribution: FakeDistribution, tmp_path: Path
) -> None:
    stranger = TokenIssuer(tmp_path / "elsewhere")
    forged = stranger.issue("AWS", [Scope("repository", "models/iris", ("pull", "push"))])
    headers = {"Authorization": f"Bearer {forged.token}"}

    response = put_manifest(client, headers, "models/iris", "v1", manifest("x"))

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer realm="http://{PUBLIC}/token",service="dockyard-registry"')
    assert 'error="invalid_token"' in challenge
    assert distribution.seen == []


def test_a_pull_token_cannot_learn_about_tags_through_a_manifest_put(
    client: TestClient, platform: Platform, distribution: FakeDistribution
) -> None:
    """Tag checks speak only to pushers: the rest is Distribution's to refuse."""
    assert platform.registry is not None
    pusher = token(
        client,
        issue_login(platform.registry.issuer, FULL_ACCESS),
        "repository:models/iris:pull,push",
    )
    put_manifest(client, pusher, "models/iris", "v1", manifest("original"))
    reader = issue_login(platform.registry.issuer, {"models/iris": ["pull"]})
    headers = token(client, reader, "repository:models/iris:pull,push")

    put_manifest(client, headers, "models/iris", "v1", manifest("other"))

    assert len(distribution.manifests_put()) == 2  # passed on (the real one says 401)


def test_a_manifest_over_four_mebibytes_is_refused(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")

    response = put_manifest(client, headers, "models/iris", "v1", b"{" + b" " * (4 << 20) + b"}")

    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"
    assert distribution.manifests_put() == []


# -- the proxy -----------------------------------------------------------------------------


def test_upload_locations_name_the_public_host(
    client: TestClient, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")

    response = client.post("/v2/models/iris/blobs/uploads/", headers=headers)

    assert response.status_code == 202
    assert response.headers["location"] == (
        f"http://{PUBLIC}/v2/models/iris/blobs/uploads/4f1c?_state=abc"
    )


def test_a_layer_is_passed_through_byte_for_byte(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    layer = bytes(range(256)) * 20_000  # 5 MB

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(layer), 65_536):
            yield layer[start : start + 65_536]

    response = client.patch(
        "/v2/models/iris/blobs/uploads/4f1c?_state=abc", content=chunks(), headers=headers
    )
    pulled = client.get("/v2/models/iris/blobs/sha256:" + "0" * 64, headers=headers)

    assert response.status_code == 202
    assert distribution.bodies[-2] == layer
    assert distribution.seen[-2].url.query == b"_state=abc"
    assert pulled.content == b"layer-bytes" * 1000


def test_deleting_a_manifest_removes_its_record(
    client: TestClient, platform: Platform, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/mutable:pull,push,delete")
    body = manifest("doomed")
    put_manifest(client, headers, "models/mutable", "v1", body)

    response = client.delete(f"/v2/models/mutable/manifests/{digest_of(body)}", headers=headers)

    assert response.status_code == 202
    assert platform.store.images.get(image_key("models/mutable", digest_of(body))) is None


# -- maintenance and restarts --------------------------------------------------------------


def test_while_read_only_writes_are_told_to_retry_and_reads_flow(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    distribution.read_only = True

    writes = [
        client.post("/v2/models/iris/blobs/uploads/", headers=headers),
        put_manifest(client, headers, "models/iris", "v1", manifest("x")),
        client.delete(f"/v2/models/iris/manifests/{digest_of(b'x')}", headers=headers),
    ]
    read = client.get("/v2/models/iris/tags/list", headers=headers)

    for response in writes:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["errors"] == [
            {
                "code": "UNAVAILABLE",
                "message": "the registry is collecting garbage; retry shortly",
                "detail": None,
            }
        ]
    assert read.status_code == 200
    assert [r.method for r in distribution.seen] == ["GET"]


def test_a_read_only_answer_of_the_registry_itself_is_a_retryable_503(
    platform: Platform, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    """Maintenance may begin between the front's look and the write."""
    app = create_front(
        platform,
        upstream=UPSTREAM,
        transport=httpx.MockTransport(distribution),
        read_only=lambda: False,
    )
    with TestClient(app, base_url=f"http://{PUBLIC}") as client:
        headers = token(client, full_login, "repository:models/iris:pull,push")
        distribution.read_only = True

        response = client.post("/v2/models/iris/blobs/uploads/", headers=headers)

    assert response.status_code == 503
    assert error_code(response) == "UNAVAILABLE"


def test_a_restarting_registry_is_waited_for(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    distribution.down_for = 3

    response = client.get("/v2/models/iris/tags/list", headers=headers)

    assert response.status_code == 200


def test_a_registry_that_stays_down_is_a_503(
    client: TestClient,
    distribution: FakeDistribution,
    full_login: LoginCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_module, "RESTART_WAIT_S", 0.3)
    headers = token(client, full_login, "repository:models/iris:pull,push")
    distribution.down_for = 1_000

    started = time.monotonic()
    response = client.get("/v2/models/iris/tags/list", headers=headers)

    assert response.status_code == 503
    assert error_code(response) == "UNAVAILABLE"
    assert response.headers["retry-after"] == "5"
    assert time.monotonic() - started < 2


def test_a_connection_lost_during_an_upload_is_a_503_not_a_crash(
    client: TestClient, distribution: FakeDistribution, full_login: LoginCredentials
) -> None:
    headers = token(client, full_login, "repository:models/iris:pull,push")
    distribution.hang_up = True

    response = client.patch(
        "/v2/models/iris/blobs/uploads/4f1c?_state=abc", content=b"x" * 100_000, headers=headers
    )

    assert response.status_code == 503
    assert response.json()["errors"][0]["message"] == "the registry dropped the connection; retry"
    assert len(distribution.seen) == 1  # a request that reached it is not sent twice
