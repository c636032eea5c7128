"""The registry front for real: Distribution behind it, the engine and skopeo in front.

One Distribution on a temporary state directory, its token realm pointing at the
front, and the front served by the daemon's own code (a uvicorn server in a thread on
a free ``registry_port``) over a platform whose store knows the repositories. Every
push and pull below is a real ``docker push``/``pull`` (docker-py) or ``skopeo copy``
with an ECR-style login: user ``AWS``, a password from :func:`issue_login`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from dockyard_daemon import free_port
from test_registry import unique_image

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.engine import DockerEngine
from dockyard.adapters.engine.registries_conf import drop_in_dir, write_registry_drop_in
from dockyard.adapters.registry import Registry, RegistryClient, Scope
from dockyard.adapters.store.memory import MemoryStore
from dockyard.ports.engine import RegistryAuth
from dockyard.records.registry import ImageRecord
from dockyard.server.daemon import _serve_registry_front
from dockyard.server.platform import Platform
from dockyard.server.registry.credentials import FULL_ACCESS, LoginCredentials, issue_login
from dockyard.server.registry.handles import RegistryHandles
from dockyard.server.registry.operations import create_repository, images
from dockyard.settings import Settings
from dockyard.testing import FakeEngine, FakeHealthProbe, FakeLoadBalancer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("docker-registry") is None, reason="needs docker-registry"),
]

REPOSITORIES = {
    "models/app": "MUTABLE",
    "models/fixed": "IMMUTABLE",
    "models/skopeo": "IMMUTABLE",
    "models/busy": "MUTABLE",
    "models/timing-front": "MUTABLE",
    "models/timing-direct": "MUTABLE",
    "models/engine": "MUTABLE",
}
TIMINGS: dict[str, float] = {}
SAID: dict[str, str] = {}  # what the clients printed, for the report


@dataclass
class Front:
    """The registry, its front on ``host``, and the platform behind the front."""

    registry: Registry
    platform: Platform
    host: str  # "127.0.0.1:PORT", the public host image references name
    full: LoginCredentials

    def login(self, allowed: dict[str, list[str]]) -> LoginCredentials:
        return issue_login(self.registry.issuer, allowed)

    def images(self, repository: str) -> list[ImageRecord]:
        return images(self.platform.store, repository)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    port = free_port()
    state = tmp_path_factory.mktemp("front") / "state"
    settings = Settings(state_dir=state, registry_port=port)
    handles = RegistryHandles.open(settings)
    handles.process.ensure_running()
    engine = FakeEngine()  # the front needs the store and the registry, nothing else
    platform = Platform(
        settings,
        MemoryStore(),
        engine,
        FakeLoadBalancer(),
        LocalArtifactStore(settings.artifacts_dir),
        FakeHealthProbe(engine),
        registry=handles,
    )
    for name, mutability in REPOSITORIES.items():
        request = {"repositoryName": name, "imageTagMutability": mutability}
        create_repository(platform.store, request, time.time())
    stop = _serve_registry_front(platform)
    assert stop is not None
    try:
        yield Front(
            handles.process, platform, handles.public_host, issue_login(handles.issuer, FULL_ACCESS)
        )
    finally:
        stop()
        handles.process.stop()


@pytest.fixture(scope="module")
def api(engine: DockerEngine) -> Iterator[docker.APIClient]:
    if engine.kind != "docker":
        pytest.skip("pushes rely on Docker treating 127.0.0.0/8 as an insecure registry")
    client = docker.APIClient(base_url=engine.base_url, version="auto", timeout=600)
    yield client
    for ref in reversed(TAGGED):
        with contextlib.suppress(docker.errors.APIError):
            client.remove_image(ref)  # the tag only: the image may be the shared base
    client.close()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    lines = [f"  {what}: {seconds:.2f} s" for what, seconds in TIMINGS.items()]
    lines += [f"  {who}: {text}" for who, text in SAID.items()]
    if lines:
        print("\nregistry front:\n" + "\n".join(lines), file=sys.stderr)


# -- helpers -------------------------------------------------------------------------------

TAGGED: list[str] = []


class EngineRefused(Exception):
    """What the engine said when a push or pull failed."""


def tag(api: docker.APIClient, image: str, host: str, repository: str, tag_: str) -> str:
    ref = f"{host}/{repository}"
    api.tag(image, ref, tag_)
    TAGGED.append(f"{ref}:{tag_}")
    return ref


def push(api: docker.APIClient, ref: str, tag_: str, login: LoginCredentials) -> str:
    """Push ``ref:tag``; the digest the engine reports, or :class:`EngineRefused`."""
    digest = None
    with _refusals():
        for line in api.push(
            ref, tag=tag_, auth_config=login.auth_config(), stream=True, decode=True
        ):
            if "error" in line:
                raise EngineRefused(line["error"])
            digest = line.get("aux", {}).get("Digest", digest)
    assert digest, "the engine reported no digest"
    return str(digest)


def pull(api: docker.APIClient, ref: str, tag_: str, login: LoginCredentials) -> str:
    """Pull ``ref:tag``; the repo digest the engine records."""
    with _refusals():
        for line in api.pull(
            ref, tag=tag_, auth_config=login.auth_config(), stream=True, decode=True
        ):
            if "error" in line:
                raise EngineRefused(line["error"])
    digests: list[str] = api.inspect_image(f"{ref}:{tag_}")["RepoDigests"]
    return next(d.split("@", 1)[1] for d in digests if d.startswith(f"{ref}@"))


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineRefused(str(exc.explanation or exc)) from exc


@pytest.fixture(scope="module")
def build(
    api: docker.APIClient, base_image: str, session_labels: dict[str, str]
) -> Callable[[int], str]:
    """``build(size)``: a new image, FROM the base, plus ``size`` random bytes."""
    return lambda size: unique_image(api, base_image, session_labels, size)


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=600, check=False
    )


# -- docker push and pull ------------------------------------------------------------------


def test_docker_login_as_aws_works_and_a_wrong_password_is_refused(
    api: docker.APIClient, front: Front
) -> None:
    registry = f"http://{front.host}"

    answer = api.login("AWS", front.full.password, registry=registry, reauth=True)
    with pytest.raises(docker.errors.APIError) as refused:
        api.login("AWS", "not-the-password", registry=registry, reauth=True)

    assert answer["Status"] == "Login Succeeded"
    SAID["docker login with a wrong password"] = str(refused.value.explanation)
    assert "not valid" in str(refused.value.explanation)


def test_a_push_through_the_front_is_recorded_with_its_digest(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(100_000), front.host, "models/app", "v1")

    started = time.monotonic()
    digest = push(api, ref, "v1", front.full)
    TIMINGS["docker push through the front, base image included (empty registry)"] = (
        time.monotonic() - started
    )

    (image,) = front.images("models/app")
    assert (image.digest, image.tags) == (digest, ("v1",))
    with RegistryClient(front.registry.base_url(), front.registry.issuer) as client:
        info = client.manifest("models/app", "v1")
    assert info.digest == digest
    assert image.size == info.size
    assert image.media_type == info.media_type


def test_a_pull_credential_pulls_and_cannot_push(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(1_000), front.host, "models/app", "pulled")
    pushed = push(api, ref, "pulled", front.full)
    reader = front.login({"models/app": ["pull"]})
    api.remove_image(f"{ref}:pulled")

    assert pull(api, ref, "pulled", reader) == pushed
    tag(api, f"{ref}:pulled", front.host, "models/app", "by-reader")
    with pytest.raises(EngineRefused) as refused:
        push(api, ref, "by-reader", reader)
    SAID["docker push with a pull-only login"] = str(refused.value)
    assert "by-reader" not in {t for i in front.images("models/app") for t in i.tags}


def test_a_push_to_a_repository_that_does_not_exist_is_refused(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(1_000), front.host, "models/absent", "v1")

    with pytest.raises(EngineRefused, match="does not exist") as refused:
        push(api, ref, "v1", front.full)
    SAID["docker push to a repository that does not exist"] = str(refused.value)
    assert front.platform.store.repositories.get("models/absent") is None


def test_an_immutable_tag_is_not_overwritten(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(1_000), front.host, "models/fixed", "v1")
    original = push(api, ref, "v1", front.full)
    tag(api, build(1_000), front.host, "models/fixed", "v1")  # another image, same tag

    with pytest.raises(EngineRefused, match="ImageTagAlreadyExistsException") as refused:
        push(api, ref, "v1", front.full)
    SAID["docker push over an immutable tag"] = str(refused.value)

    api.remove_image(f"{ref}:v1")
    assert pull(api, ref, "v1", front.full) == original
    assert [(i.digest, i.tags) for i in front.images("models/fixed")] == [(original, ("v1",))]


def test_pushing_the_same_image_again_under_an_immutable_tag_works(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(1_000), front.host, "models/fixed", "same")
    first = push(api, ref, "same", front.full)

    assert push(api, ref, "same", front.full) == first


def test_during_garbage_collection_pushes_are_told_to_retry_and_pulls_work(
    api: docker.APIClient, front: Front, build: Callable[[int], str]
) -> None:
    ref = tag(api, build(1_000), front.host, "models/busy", "v1")
    pushed = push(api, ref, "v1", front.full)
    tag(api, f"{ref}:v1", front.host, "models/busy", "v2")  # its layers are all there

    with front.registry.maintenance():
        with pytest.raises(EngineRefused, match="503") as refused:
            push(api, ref, "v2", front.full)
        api.remove_image(f"{ref}:v1")
        assert pull(api, ref, "v1", front.full) == pushed
    SAID["docker push during a garbage collection"] = str(refused.value)

    assert push(api, ref, "v2", front.full) == pushed


# -- blob downloads ------------------------------------------------------------------------


def bearer(front: Front, login: LoginCredentials | None, scope: str) -> dict[str, str]:
    """Headers with the token the front's token endpoint gives ``login`` for ``scope``."""
    if login is None:
        return {}
    answer = httpx.get(
        f"http://{front.host}/token",
        params={"service": front.registry.issuer.service, "scope": scope},
        auth=(login.username, login.password),
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_blob_downloads_through_the_front_only_with_a_pull_token_for_its_repository(
    front: Front,
) -> None:
    blob = os.urandom(3 << 20)  # several reads' worth
    digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    pusher = bearer(front, front.full, "repository:models/app:pull,push")
    with httpx.Client(base_url=f"http://{front.host}", timeout=60) as client:
        session = client.post("/v2/models/app/blobs/uploads/", headers=pusher)
        location = httpx.URL(session.headers["location"]).copy_merge_params({"digest": digest})
        assert client.put(location, content=blob, headers=pusher).status_code == 201
        url = f"/v2/models/app/blobs/{digest}"
        reader = bearer(front, front.login({"models/app": ["pull"]}), "repository:models/app:pull")
        other = bearer(front, front.login({"models/busy": ["pull"]}), "repository:models/busy:pull")

        anonymous = client.get(url)
        forged = client.get(url, headers={"Authorization": "Bearer not.a.token"})
        elsewhere = client.get(url, headers=other)
        through_other = client.get(f"/v2/models/busy/blobs/{digest}", headers=other)
        pulled = client.get(url, headers=reader)
        part = client.get(url, headers={**reader, "Range": "bytes=100-199"})

    for refused in (anonymous, forged, elsewhere):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer ")
        assert blob[:64] not in refused.content
    assert through_other.status_code == 404  # the blob is not models/busy's
    assert pulled.status_code == 200
    assert pulled.content == blob
    assert pulled.headers["docker-content-digest"] == digest
    assert (part.status_code, part.content) == (206, blob[100:200])


# -- the engine adapter, on Docker and on Podman ------------------------------------------


@pytest.mark.podman
def test_the_engine_pushes_and_pulls_with_credentials_scoped_to_the_repository(
    engine: DockerEngine, front: Front, base_image: str
) -> None:
    """Plain HTTP on the loopback: Docker's default; Podman's through its own API."""
    ref = f"{front.host}/models/engine:v1"
    pusher = front.login({"models/engine": ["pull", "push"]})
    reader = front.login({"models/engine": ["pull"]})
    stranger = front.login({"models/app": ["pull"]})
    engine.tag(base_image, ref)
    try:
        digest = engine.push(ref, RegistryAuth(pusher.username, pusher.password))
        engine._api.remove_image(ref)  # the tag only: the base image keeps its own
        assert engine.image(ref) is None

        refused = engine.pull(ref, RegistryAuth(stranger.username, stranger.password))
        pulled = engine.pull(ref, RegistryAuth(reader.username, reader.password))
    finally:
        with contextlib.suppress(docker.errors.APIError):
            engine._api.remove_image(ref)

    assert not refused
    assert pulled
    (image,) = front.images("models/engine")
    assert digest in ("", image.digest)  # Podman before 4.4 does not say what it pushed


@pytest.mark.podman
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")
def test_the_registries_conf_drop_in_lets_containers_tools_reach_the_registry(
    front: Front,
) -> None:
    """The file Dockyard writes before starting Podman, read by the same library
    (containers/image) in a fresh skopeo process."""
    reader = front.login({"models/engine": ["pull"]})
    inspect = ["skopeo", "inspect", "--raw", "--creds", f"AWS:{reader.password}"]
    inspect.append(f"docker://{front.host}/models/engine:v1")
    drop_in = drop_in_dir() / f"50-dockyard-{front.platform.settings.registry_port}.conf"
    assert not drop_in.exists()  # the fixture's port is a fresh one

    without = subprocess.run(inspect, capture_output=True, text=True, timeout=120, check=False)
    assert write_registry_drop_in(front.platform.settings) == drop_in
    try:
        with_drop_in = subprocess.run(
            inspect, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        drop_in.unlink()

    assert without.returncode != 0
    assert "HTTP response to HTTPS client" in without.stderr
    # reached over plain HTTP: the credentials were checked (the tag may be absent)
    assert with_drop_in.returncode == 0 or "manifest unknown" in with_drop_in.stderr, (
        with_drop_in.stderr
    )


# -- skopeo --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")
def test_skopeo_copies_in_and_out_through_the_front(
    engine: DockerEngine, front: Front, build: Callable[[int], str], tmp_path: Path
) -> None:
    image = build(1_000)
    dest = f"docker://{front.host}/models/skopeo:v1"
    creds = f"AWS:{front.full.password}"
    reader = front.login({"models/skopeo": ["pull"]})

    copied_in = skopeo(
        "copy", "--quiet", "--src-daemon-host", engine.base_url, "--dest-creds", creds,
        "--dest-tls-verify=false", f"docker-daemon:{image}", dest,
    )  # fmt: skip
    copied_out = skopeo(
        "copy", "--quiet", "--src-creds", f"AWS:{reader.password}", "--src-tls-verify=false",
        dest, f"dir:{tmp_path / 'out'}",
    )  # fmt: skip
    overwrite = skopeo(
        "copy", "--quiet", "--src-daemon-host", engine.base_url, "--dest-creds", creds,
        "--dest-tls-verify=false", f"docker-daemon:{build(1_000)}", dest,
    )  # fmt: skip

    assert copied_in.returncode == 0, copied_in.stderr
    assert copied_out.returncode == 0, copied_out.stderr
    assert overwrite.returncode != 0
    assert "ImageTagAlreadyExistsException" in overwrite.stderr
    SAID["skopeo copy over an immutable tag"] = overwrite.stderr.strip()
    (recorded,) = front.images("models/skopeo")
    assert recorded.tags == ("v1",)
    assert (tmp_path / "out" / "manifest.json").is_file()


# -- the listener --------------------------------------------------------------------------


def test_a_taken_port_leaves_the_daemon_without_a_front_and_says_which_setting(
    front: Front, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = front.platform.settings.model_copy(update={"registry_port": port})
        platform = Platform(
            settings,
            front.platform.store,
            front.platform.engine,
            front.platform.lb,
            front.platform.artifacts,
            front.platform.probe,
            registry=front.platform.registry,
        )

        with caplog.at_level(logging.ERROR, logger="dockyard.daemon"):
            assert _serve_registry_front(platform) is None

    assert "DOCKYARD_REGISTRY_PORT" in caplog.text
    assert str(port) in caplog.text


# -- timings -------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_timing_through_the_front_and_straight_to_distribution(
    api: docker.APIClient, front: Front, build: Callable[[int], str], base_image: str
) -> None:
    """The same images both ways, each way's repository already holding the base: two
    new images with a 64 MB layer, each pushed one way then the other (in both orders);
    then a 128 MB blob up and down with httpx (no engine, no gzip; the client shares
    this process, and so its interpreter, with the front)."""
    routes = {"front": front.host, "direct": front.registry.host}
    for way, host in routes.items():
        push(api, tag(api, base_image, host, f"models/timing-{way}", "base"), "base", front.full)
    spent = dict.fromkeys(routes, 0.0)
    digests: dict[str, set[str]] = {way: set() for way in routes}
    for number, order in enumerate((("front", "direct"), ("direct", "front"))):
        image = build(64_000_000)
        for way in order:
            ref = tag(api, image, routes[way], f"models/timing-{way}", f"v{number}")
            started = time.monotonic()
            digests[way].add(push(api, ref, f"v{number}", front.full))
            spent[way] += time.monotonic() - started
    for way in routes:
        TIMINGS[f"docker push of an image with a new 64 MB layer, {way}"] = spent[way] / 2

    blob = os.urandom(128 << 20)
    for way, host in routes.items():
        up, down = _blob_round_trip(front, host, way, blob)
        TIMINGS[f"httpx upload of a 128 MB blob, {way}"] = up
        TIMINGS[f"httpx download of a 128 MB blob, {way}"] = down
    assert digests["front"] == digests["direct"]  # the very same manifests both ways


def _blob_round_trip(front: Front, host: str, way: str, blob: bytes) -> tuple[float, float]:
    """Seconds to upload ``blob`` (monolithic), and to download it again."""
    repository = f"models/timing-{way}"
    scope = Scope("repository", repository, ("pull", "push"))
    token = front.registry.issuer.issue("AWS", [scope]).token
    headers = {"Authorization": f"Bearer {token}"}
    digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    with httpx.Client(base_url=f"http://{host}", headers=headers, timeout=300) as client:
        started = time.monotonic()
        session = client.post(f"/v2/{repository}/blobs/uploads/")
        assert session.status_code == 202, session.text
        location = httpx.URL(session.headers["location"]).copy_merge_params({"digest": digest})
        done = client.put(location, content=blob)
        up = time.monotonic() - started
        assert done.status_code == 201, done.text
        started = time.monotonic()
        with client.stream("GET", f"/v2/{repository}/blobs/{digest}") as response:
            received = sum(len(chunk) for chunk in response.iter_raw())
        down = time.monotonic() - started
    assert received == len(blob)
    return up, down
