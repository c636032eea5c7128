"""The image registry, for real: Distribution with token auth, the engine and skopeo.

Each registry runs on its own temporary state directory. Its token endpoint is a
small Starlette app in the test process (the daemon will serve the real one): it
checks HTTP Basic credentials against :data:`USERS`, cuts the requested scopes down
with :func:`grant` and signs with the registry's :class:`TokenIssuer`, so every
``docker push``/``pull`` and ``skopeo copy`` below goes through the full Docker
Registry v2 token flow. Distribution's notifications are posted to the same app.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import uvicorn
from dockyard_daemon import free_port, wait_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.adapters.engine import DockerEngine
from dockyard.adapters.registry import (
    Notifications,
    Registry,
    RegistryClient,
    RegistryReadOnly,
    Scope,
    TokenIssuer,
    grant,
)
from dockyard.adapters.registry.registry import disk_usage
from dockyard.errors import NotFound, Unauthorized

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("docker-registry") is None, reason="needs docker-registry"),
]

USERS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "pusher": ("push-secret", {"models/*": ["pull", "push", "delete"], "registry:catalog": ["*"]}),
    "reader": ("read-secret", {"models/a": ["pull"]}),
}
PUSHER = {"username": "pusher", "password": "push-secret"}
READER = {"username": "reader", "password": "read-secret"}
TIMINGS: dict[str, float] = {}
CREATED: list[str] = []  # engine images and tags to remove when the module ends


# -- the token server -------------------------------------------------------------------


class TokenServer:
    """``GET /token/<registry>`` (Basic auth) and ``POST /events/<registry>``, on loopback."""

    def __init__(self) -> None:
        self.issuers: dict[str, TokenIssuer] = {}
        self.events: list[dict[str, Any]] = []
        self.port = free_port()
        app = Starlette(
            routes=[
                Route("/token/{name}", self._token, methods=["GET"]),
                Route("/events/{name}", self._event, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10, what="the token server")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    async def _token(self, request: Request) -> Response:
        issuer = self.issuers.get(request.path_params["name"])
        user = _basic_user(request.headers.get("authorization", ""))
        if issuer is None or user is None or request.query_params.get("service") != issuer.service:
            return JSONResponse({"details": "bad credentials"}, status_code=401)
        granted = grant(request.query_params.getlist("scope"), USERS[user][1])
        return JSONResponse(issuer.issue(user, granted, ttl=300).response())

    async def _event(self, request: Request) -> Response:
        self.events.extend(json.loads(await request.body()).get("events", []))
        return Response(status_code=200)


def _basic_user(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user if user in USERS and USERS[user][0] == password else None


@pytest.fixture(scope="module")
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def make_registry(
    token_server: TokenServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Registry]]:
    """``make_registry(name)``: a started registry on a fresh state dir, stopped afterwards."""
    made: list[Registry] = []

    def make(name: str) -> Registry:
        state = tmp_path_factory.mktemp(f"registry-{name}")
        registry = Registry(
            state,
            token_realm=token_server.url(f"/token/{name}"),
            notifications=Notifications(token_server.url(f"/events/{name}")),
        )
        token_server.issuers[name] = registry.issuer
        registry.ensure_running()
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.stop()


@pytest.fixture(scope="module")
def registry(make_registry: Callable[[str], Registry]) -> Registry:
    return make_registry("main")


@pytest.fixture(scope="module")
def api(engine: DockerEngine) -> Iterator[docker.APIClient]:
    if engine.kind != "docker":
        pytest.skip("pushes rely on Docker treating 127.0.0.0/8 as an insecure registry")
    client = docker.APIClient(base_url=engine.base_url, version="auto", timeout=600)
    yield client
    for ref in reversed(CREATED):
        with contextlib.suppress(docker.errors.APIError):
            client.remove_image(ref, force=True)
    client.close()


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.base_url(), registry.issuer) as made:
        yield made


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    yield
    if TIMINGS:
        lines = [f"  {what}: {seconds:.2f} s" for what, seconds in TIMINGS.items()]
        print("\nregistry timings:\n" + "\n".join(lines), file=sys.stderr)


# -- helpers ----------------------------------------------------------------------------


def tag(api: docker.APIClient, image: str, registry: Registry, repo: str, tag_: str) -> str:
    ref = f"{registry.host}/{repo}"
    api.tag(image, ref, tag_)
    CREATED.append(f"{ref}:{tag_}")
    return ref


def push(api: docker.APIClient, ref: str, tag_: str, auth: dict[str, str]) -> str:
    """Push ``ref:tag``; return the digest the engine reports, or raise with its error."""
    digest = None
    with _refusals():
        for line in api.push(ref, tag=tag_, auth_config=auth, stream=True, decode=True):
            if "error" in line:
                raise EngineRefused(line["error"])
            digest = line.get("aux", {}).get("Digest", digest)
    assert digest, "the engine reported no digest"
    return str(digest)


def pull(api: docker.APIClient, ref: str, tag_: str, auth: dict[str, str] | None) -> str:
    """Pull ``ref:tag``; return the repo digest the engine records."""
    with _refusals():
        for line in api.pull(ref, tag=tag_, auth_config=auth, stream=True, decode=True):
            if "error" in line:
                raise EngineRefused(line["error"])
    digests: list[str] = api.inspect_image(f"{ref}:{tag_}")["RepoDigests"]
    return next(d.split("@", 1)[1] for d in digests if d.startswith(f"{ref}@"))


class EngineRefused(Exception):
    """What the engine said when a push or pull failed."""


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The engine reports a refusal either in the stream or as the call's own error."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineRefused(str(exc.explanation or exc)) from exc


def unique_image(
    api: docker.APIClient, base_image: str, session_labels: dict[str, str], size: int
) -> str:
    """An image: ``base_image`` plus a layer of ``size`` random bytes (never seen before)."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (
            ("Dockerfile", f"FROM {base_image}\nCOPY blob /blob\n".encode()),
            ("blob", os.urandom(size)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image_id = None
    for line in api.build(
        fileobj=context, custom_context=True, labels=session_labels, rm=True, decode=True
    ):
        if "error" in line:
            raise AssertionError(line["error"])
        image_id = line.get("aux", {}).get("ID", image_id)
    assert image_id
    CREATED.append(image_id)
    return str(image_id)


def token_from_server(server: TokenServer, name: str, user: dict[str, str], *scopes: str) -> str:
    """A token the way ``docker`` gets one: Basic auth on the realm, scopes as params."""
    response = httpx.get(
        server.url(f"/token/{name}"),
        params=[("service", "dockyard-registry"), *(("scope", s) for s in scopes)],
        auth=(user["username"], user["password"]),
    )
    response.raise_for_status()
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def skopeo(*args: str) -> None:
    result = subprocess.run(
        ["skopeo", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- life cycle -------------------------------------------------------------------------


def test_a_live_registry_is_reused(registry: Registry) -> None:
    pid = registry.pid()

    assert registry.ensure_running() is False
    assert registry.pid() == pid


def test_unauthenticated_requests_get_a_token_challenge(registry: Registry) -> None:
    response = httpx.get(f"{registry.base_url()}/v2/models/a/manifests/v1")

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer realm="{registry.token_realm}"')
    assert 'service="dockyard-registry"' in challenge
    assert 'scope="repository:models/a:pull"' in challenge


# -- push and pull through the engine ---------------------------------------------------


def test_push_then_pull_returns_the_same_digest(
    api: docker.APIClient, registry: Registry, client: RegistryClient, base_image: str
) -> None:
    ref = tag(api, base_image, registry, "models/base", "v1")
    started = time.monotonic()
    pushed = push(api, ref, "v1", PUSHER)
    TIMINGS["docker push of the base image (empty registry)"] = time.monotonic() - started

    api.remove_image(f"{ref}:v1")
    started = time.monotonic()
    pulled = pull(api, ref, "v1", PUSHER)
    TIMINGS["docker pull of the base image (layers already in the engine)"] = (
        time.monotonic() - started
    )

    assert pulled == pushed
    assert client.head_manifest("models/base", "v1") == pushed
    info = client.manifest("models/base", "v1")
    assert info.digest == pushed
    assert info.config_digest == api.inspect_image(base_image)["Id"]
    assert info.size > 10_000_000


def test_a_pull_without_credentials_is_refused(
    api: docker.APIClient, registry: Registry, base_image: str
) -> None:
    ref = tag(api, base_image, registry, "models/base", "v1")
    push(api, ref, "v1", PUSHER)

    with pytest.raises(
        EngineRefused, match=r"(?i)unauthorized|no basic auth|authentication required"
    ):
        pull(api, ref, "v1", None)


def test_a_reader_cannot_push(api: docker.APIClient, registry: Registry, base_image: str) -> None:
    ref = tag(api, base_image, registry, "models/a", "v1")

    with pytest.raises(EngineRefused, match=r"(?i)denied|unauthorized|authentication required"):
        push(api, ref, "v1", READER)


def test_pulling_an_image_the_engine_lacks_downloads_it(
    api: docker.APIClient,
    registry: Registry,
    base_image: str,
    session_labels: dict[str, str],
) -> None:
    image = unique_image(api, base_image, session_labels, 8_000_000)
    ref = tag(api, image, registry, "models/unique", "v1")
    pushed = push(api, ref, "v1", PUSHER)
    api.remove_image(f"{ref}:v1")  # its last tag: the image and its 8 MB layer go
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image(image)

    started = time.monotonic()
    assert pull(api, ref, "v1", PUSHER) == pushed
    TIMINGS["docker pull of an 8 MB layer not in the engine"] = time.monotonic() - started


# -- tokens -----------------------------------------------------------------------------


def test_a_pull_token_for_one_repository_can_neither_push_nor_read_another(
    registry: Registry, token_server: TokenServer
) -> None:
    token = token_from_server(token_server, "main", READER, "repository:models/a:pull,push")
    claims = registry.issuer.decode(token)
    assert claims["access"] == [{"type": "repository", "name": "models/a", "actions": ["pull"]}]
    base = registry.base_url()

    push_attempt = httpx.post(f"{base}/v2/models/a/blobs/uploads/", headers=bearer(token))
    other_repo = httpx.get(f"{base}/v2/models/b/tags/list", headers=bearer(token))
    own_repo = httpx.get(f"{base}/v2/models/a/tags/list", headers=bearer(token))

    assert push_attempt.status_code == 401
    assert 'error="insufficient_scope"' in push_attempt.headers["www-authenticate"]
    assert other_repo.status_code == 401
    assert 'error="insufficient_scope"' in other_repo.headers["www-authenticate"]
    assert own_repo.status_code == 404  # allowed; the repository simply holds nothing yet


def test_an_expired_token_is_refused(registry: Registry) -> None:
    scope = [Scope("repository", "models/base", ("pull",))]
    expired = registry.issuer.issue("pusher", scope, ttl=60, now=time.time() - 120)
    fresh = registry.issuer.issue("pusher", scope, ttl=60)
    url = f"{registry.base_url()}/v2/models/base/tags/list"

    assert httpx.get(url, headers=bearer(expired.token)).status_code == 401
    assert httpx.get(url, headers=bearer(fresh.token)).status_code in (200, 404)


def test_a_token_signed_by_another_key_is_refused(registry: Registry, tmp_path: Path) -> None:
    stranger = TokenIssuer(tmp_path)
    scope = [Scope("repository", "models/base", ("pull",))]
    token = stranger.issue("pusher", scope).token

    response = httpx.get(f"{registry.base_url()}/v2/models/base/tags/list", headers=bearer(token))

    assert response.status_code == 401


def test_the_client_raises_unauthorized_for_a_scope_it_was_not_given(
    registry: Registry, tmp_path: Path
) -> None:
    with (
        RegistryClient(registry.base_url(), TokenIssuer(tmp_path)) as stranger,
        pytest.raises(Unauthorized),
    ):
        stranger.repositories()


# -- reading and deleting ---------------------------------------------------------------


def test_catalog_tags_and_existence(
    api: docker.APIClient, registry: Registry, client: RegistryClient, base_image: str
) -> None:
    ref = tag(api, base_image, registry, "models/listed", "v1")
    push(api, ref, "v1", PUSHER)
    tag(api, base_image, registry, "models/listed", "v2")
    push(api, ref, "v2", PUSHER)

    assert "models/listed" in client.repositories()
    assert client.tags("models/listed") == ["v1", "v2"]
    assert client.exists("models/listed", "v2")
    assert not client.exists("models/listed", "v3")
    with pytest.raises(NotFound):
        client.tags("models/never-pushed")


def test_pushes_are_notified(
    api: docker.APIClient, registry: Registry, token_server: TokenServer, base_image: str
) -> None:
    ref = tag(api, base_image, registry, "models/notified", "v1")
    digest = push(api, ref, "v1", PUSHER)

    event = wait_until(
        lambda: next(
            (
                e
                for e in token_server.events
                if e["action"] == "push" and e["target"]["repository"] == "models/notified"
            ),
            None,
        ),
        timeout=10,
        what="a push event",
    )
    assert event["target"]["digest"] == digest
    assert event["target"]["tag"] == "v1"
    assert event["actor"]["name"] == "pusher"


# -- garbage collection -----------------------------------------------------------------


def test_deleting_a_manifest_then_collecting_frees_its_layers(
    api: docker.APIClient,
    registry: Registry,
    client: RegistryClient,
    base_image: str,
    session_labels: dict[str, str],
) -> None:
    kept = tag(api, base_image, registry, "models/kept", "v1")
    push(api, kept, "v1", PUSHER)
    image = unique_image(api, base_image, session_labels, 6_000_000)
    doomed = tag(api, image, registry, "models/doomed", "v1")
    digest = push(api, doomed, "v1", PUSHER)
    size_with = disk_usage(registry.paths.data)

    client.delete_manifest("models/doomed", digest)
    report = registry.garbage_collect()

    assert not client.exists("models/doomed", "v1")
    assert report.blobs_deleted >= 2  # the random layer and the image config
    assert report.freed_bytes > 6_000_000 * 0.9
    assert disk_usage(registry.paths.data) < size_with - 5_000_000
    assert not registry.read_only()
    assert pull(api, kept, "v1", PUSHER)  # what is still referenced is intact


def test_collecting_untagged_manifests_frees_an_overwritten_tag(
    api: docker.APIClient,
    registry: Registry,
    client: RegistryClient,
    base_image: str,
    session_labels: dict[str, str],
) -> None:
    first = unique_image(api, base_image, session_labels, 5_000_000)
    ref = tag(api, first, registry, "models/moving", "latest")
    old = push(api, ref, "latest", PUSHER)
    second = unique_image(api, base_image, session_labels, 1_000)
    tag(api, second, registry, "models/moving", "latest")
    new = push(api, ref, "latest", PUSHER)  # the 5 MB image is now untagged

    kept_untagged = registry.garbage_collect(delete_untagged=False)
    collected = registry.garbage_collect(delete_untagged=True)
    TIMINGS["garbage collection that deleted an untagged image"] = collected.seconds

    assert kept_untagged.freed_bytes < 1_000_000
    assert collected.manifests_deleted >= 1
    assert collected.freed_bytes > 5_000_000 * 0.9
    assert client.head_manifest("models/moving", old) is None
    assert client.head_manifest("models/moving", "latest") == new


def test_during_maintenance_pulls_work_and_pushes_are_refused_with_a_retryable_error(
    api: docker.APIClient,
    registry: Registry,
    client: RegistryClient,
    base_image: str,
    session_labels: dict[str, str],
) -> None:
    ref = tag(api, base_image, registry, "models/busy", "v1")
    pushed = push(api, ref, "v1", PUSHER)
    image = unique_image(api, base_image, session_labels, 1_000_000)
    late = tag(api, image, registry, "models/late", "v1")
    pulls: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def keep_pulling() -> None:
        with RegistryClient(registry.base_url(), registry.issuer) as puller:
            while not stop.is_set():
                try:
                    pulls.append(puller.manifest("models/busy", "v1").digest)
                except Exception as exc:  # a failed pull is the finding
                    failures.append(exc)

    with registry.maintenance():
        assert registry.read_only()
        puller = threading.Thread(target=keep_pulling)
        puller.start()
        try:
            with pytest.raises(EngineRefused) as refused:
                push(api, late, "v1", PUSHER)
            with pytest.raises(RegistryReadOnly):
                client.delete_manifest("models/busy", pushed)
            report = registry.garbage_collect()  # inside the same maintenance
            assert pull(api, ref, "v1", PUSHER) == pushed
        finally:
            stop.set()
            puller.join(30)

    assert not registry.read_only()
    assert "405" in str(refused.value) or "not allowed" in str(refused.value).lower()
    assert failures == []
    assert len(pulls) > 0 and set(pulls) == {pushed}
    assert report.seconds >= 0
    assert push(api, late, "v1", PUSHER)  # writes are back


def test_a_registry_left_read_only_by_a_crash_is_made_writable_again(
    registry: Registry,
) -> None:
    crash_in_maintenance = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from dockyard.adapters.registry import Registry\n"
        "r = Registry(Path(sys.argv[1]), token_realm=sys.argv[2], notifications=None)\n"
        "with r.maintenance():\n"
        "    os._exit(0)\n"
    )
    state_dir = registry.paths.root.parent
    subprocess.run(
        [sys.executable, "-c", crash_in_maintenance, str(state_dir), registry.token_realm],
        check=True,
        timeout=60,
    )
    assert registry.read_only()

    assert registry.ensure_running() is True
    assert not registry.read_only()


# -- restarts ---------------------------------------------------------------------------


def test_a_killed_registry_restarts_with_its_data(
    api: docker.APIClient, registry: Registry, client: RegistryClient, base_image: str
) -> None:
    ref = tag(api, base_image, registry, "models/durable", "v1")
    pushed = push(api, ref, "v1", PUSHER)
    pid = registry.pid()
    assert pid is not None
    port = registry.port

    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: registry.pid() is None, timeout=10, what="the registry to die")
    assert registry.ensure_running() is True

    assert registry.pid() not in (None, pid)
    assert registry.port == port
    assert client.head_manifest("models/durable", "v1") == pushed
    assert pull(api, ref, "v1", PUSHER) == pushed


def test_a_new_token_realm_restarts_the_registry_with_it(
    make_registry: Callable[[str], Registry], token_server: TokenServer
) -> None:
    first = make_registry("moved")
    moved = Registry(
        first.paths.root.parent,
        token_realm=token_server.url("/token/moved?v=2"),
        notifications=None,
    )

    assert moved.ensure_running() is True
    assert moved.port == first.port
    challenge = httpx.get(f"{moved.base_url()}/v2/").headers["www-authenticate"]
    assert token_server.url("/token/moved?v=2") in challenge
    assert moved.ensure_running() is False


# -- timings ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")
def test_skopeo_copies_the_base_image_in_and_out_with_credentials(
    engine: DockerEngine,
    api: docker.APIClient,
    make_registry: Callable[[str], Registry],
    base_image: str,
    tmp_path: Path,
) -> None:
    fresh = make_registry("skopeo")  # empty, like the docker push's registry was
    dest = f"docker://{fresh.host}/models/base:v1"

    started = time.monotonic()
    skopeo(
        "copy", "--quiet", "--src-daemon-host", engine.base_url, "--dest-creds",
        "pusher:push-secret", "--dest-tls-verify=false", f"docker-daemon:{base_image}", dest,
    )  # fmt: skip
    TIMINGS["skopeo copy docker-daemon -> registry of the base image (empty registry)"] = (
        time.monotonic() - started
    )
    started = time.monotonic()
    skopeo(
        "copy", "--quiet", "--src-creds", "pusher:push-secret", "--src-tls-verify=false",
        dest, f"dir:{tmp_path / 'out'}",
    )  # fmt: skip
    TIMINGS["skopeo copy registry -> dir of the base image (full download)"] = (
        time.monotonic() - started
    )

    with RegistryClient(fresh.base_url(), fresh.issuer) as reader:
        info = reader.manifest("models/base", "v1")
    assert info.config_digest == api.inspect_image(base_image)["Id"]
    copied = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [layer["size"] for layer in copied["layers"]] == list(info.layer_sizes)
