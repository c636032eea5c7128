"""The registry through the daemon, as a user drives it: repositories, `dockyard push`,
scan on push, immutable tags, images listed, a lifecycle policy applied, the disk freed.

Real Distribution behind the daemon's own front, the real engine, the CLI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, wait_until

from dockyard.adapters.engine import DockerEngine
from dockyard.errors import DockyardError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(scope="module")
def images(
    engine: DockerEngine,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    unique_name: Callable[..., str],
) -> Iterator[dict[str, str]]:
    """Two small local images on the base image: v1 with a secret in ENV, v2 without."""
    made = {}
    for version, env in (("v1", f"AWS_SECRET_ACCESS_KEY={SECRET}"), ("v2", "MODE=v2")):
        context = tmp_path_factory.mktemp(f"image-{version}")
        (context / "Dockerfile").write_text(f"FROM {base_image}\nENV {env}\n")
        ref = f"{unique_name('regimg')}:{version}"
        for _ in engine.build(str(context), ref):
            pass
        made[version] = ref
    yield made
    for ref in made.values():
        with contextlib.suppress(DockyardError):
            engine._api.remove_image(ref, force=True)  # test cleanup of local images


def _images(daemon: Daemon, repository: str) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = daemon.api(
        "GET", "/v1/images", params={"repository": repository}
    )["imageDetails"]
    return details


def _scanned(daemon: Daemon, repository: str, tag: str) -> dict[str, Any] | None:
    for image in _images(daemon, repository):
        if tag in image["imageTags"] and image.get("imageScanStatus", {}).get("status") not in (
            None,
            "PENDING",
            "IN_PROGRESS",
        ):
            return image
    return None


def test_push_scan_immutable_tags_and_lifecycle_through_the_daemon(
    daemon: Daemon, images: dict[str, str], unique_name: Callable[..., str], tmp_path: Path
) -> None:
    repository = f"models/{unique_name('e2e')}"
    created = daemon.cli("repo", "create", repository, "--immutable", "--scan-on-push")
    assert created.returncode == 0, created.stderr

    pushed = daemon.cli("push", f"{repository}:v1", "--source", images["v1"])
    assert pushed.returncode == 0, pushed.stderr

    scanned = wait_until(
        lambda: _scanned(daemon, repository, "v1"), timeout=120, what="the scan on push"
    )
    assert scanned["imageScanStatus"]["status"] == "COMPLETE", scanned
    assert scanned["imageScanFindingsSummary"]["findingSeverityCounts"]["CRITICAL"] >= 1
    findings = daemon.api("GET", "/v1/scans", params={"repository": repository, "reference": "v1"})[
        "imageScanFindings"
    ]
    secret = next(f for f in findings["findings"] if f["severity"] == "CRITICAL")
    assert SECRET not in str(secret)  # masked, never echoed
    assert findings["sbom"] and Path(findings["sbom"]).is_file()

    # an immutable tag cannot move, whoever pushes
    refused = daemon.cli("push", f"{repository}:v1", "--source", images["v2"])
    assert refused.returncode != 0
    assert "ImageTagAlreadyExists" in refused.stderr + refused.stdout
    assert _images(daemon, repository)[0]["imageDigest"] == scanned["imageDigest"]

    assert daemon.cli("push", f"{repository}:v2", "--source", images["v2"]).returncode == 0
    assert len(_images(daemon, repository)) == 2

    # keep the newest image only: v1 expires, the disk is freed by the collection after
    policy = tmp_path / "policy.json"
    policy.write_text(
        '{"rules": [{"rulePriority": 1, "description": "keep one",'
        ' "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",'
        ' "countNumber": 1}, "action": {"type": "expire"}}]}'
    )
    preview = daemon.cli("repo", "lifecycle", repository, str(policy), "--dry-run")
    assert preview.returncode == 0, preview.stderr
    applied = daemon.cli("repo", "lifecycle", repository, str(policy), "--now")
    assert applied.returncode == 0, applied.stderr
    left = _images(daemon, repository)
    assert [image["imageTags"] for image in left] == [["v2"]]

    pulled = daemon.cli("pull", f"{repository}:v2")
    assert pulled.returncode == 0, pulled.stderr
    gone = daemon.cli("pull", f"{repository}:v1")
    assert gone.returncode != 0


def test_a_push_to_a_repository_that_does_not_exist_is_refused_naming_it(
    daemon: Daemon, images: dict[str, str], unique_name: Callable[..., str]
) -> None:
    repository = f"models/{unique_name('absent')}"
    refused = daemon.cli("push", f"{repository}:v1", "--source", images["v1"])
    assert refused.returncode != 0
    assert repository in refused.stderr
    assert "repo create" in refused.stderr


SERVER = """\
import http.server, os, signal, sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self._answer(b"" if self.path == "/ping" else b"?", 200 if self.path == "/ping" else 404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(b"echo:" + body, 200)

    def _answer(self, body, status):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # PID 1: stop when told
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
"""


def pushed_server(
    daemon: Daemon, engine: DockerEngine, base_image: str, tmp_path: Path, repository: str
) -> str:
    """The echo server built locally, pushed to ``repository:v1`` and removed from the
    engine again: only the registry has it. Its digest."""
    daemon.api("POST", "/v1/repositories", json={"repositoryName": repository})
    (tmp_path / "serve.py").write_text(SERVER)
    (tmp_path / "Dockerfile").write_text(
        f'FROM {base_image}\nCOPY serve.py /serve.py\nENTRYPOINT ["python3", "/serve.py"]\n'
    )
    local = f"{repository.replace('/', '-')}-local:v1"
    for _ in engine.build(str(tmp_path), local):
        pass
    pushed = daemon.cli("push", f"{repository}:v1", "--source", local)
    assert pushed.returncode == 0, pushed.stderr
    (image,) = _images(daemon, repository)
    for ref in (local, f"127.0.0.1:{daemon.registry_port}/{repository}:v1"):
        info = engine.image(ref)
        if info is not None:
            engine._api.remove_image(info.id, force=True)  # only the registry has it now
    return str(image["imageDigest"])


@pytest.mark.podman
def test_an_endpoint_runs_an_image_pinned_by_digest_pulled_from_the_registry(
    daemon: Daemon,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    repository = f"models/{unique_name('served')}"
    digest = pushed_server(daemon, engine, base_image, tmp_path, repository)
    pinned = f"127.0.0.1:{daemon.registry_port}/{repository}@{digest}"
    assert engine.image(pinned) is None

    name = unique_name("from-registry")
    daemon.api(
        "POST", "/v1/endpoints", json={"EndpointName": name, "Image": pinned, "InstanceCount": 1}
    )
    try:
        endpoint = wait_until(
            lambda: (
                (e := daemon.api("GET", f"/v1/endpoints/{name}"))["EndpointStatus"] == "InService"
                and e
            ),
            timeout=120,
            what=f"{name} InService",
        )
        answer = httpx.post(endpoint["Url"], content=b"1,2", timeout=10)
        assert (answer.status_code, answer.content) == (200, b"echo:1,2")
        assert engine.image(pinned) is not None  # pulled by the daemon, by digest
    finally:
        daemon.api("DELETE", f"/v1/endpoints/{name}")


def test_an_ecs_service_runs_an_image_pulled_from_the_registry(
    daemon: Daemon,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    repository = f"models/{unique_name('ecs-served')}"
    pushed_server(daemon, engine, base_image, tmp_path, repository)
    remote = f"127.0.0.1:{daemon.registry_port}/{repository}:v1"
    assert engine.image(remote) is None
    family = unique_name("from-registry")
    daemon.api(
        "POST",
        "/v1/task-definitions",
        json={
            "family": family,
            "containerDefinitions": [
                {
                    "name": "web",
                    "image": remote,
                    "portMappings": [{"containerPort": 8080}],
                    "stopTimeout": 2,  # the test server ignores SIGTERM as PID 1
                }
            ],
        },
    )
    service = unique_name("reg-svc")
    created = daemon.api(
        "POST",
        "/v1/services",
        json={
            "serviceName": service,
            "taskDefinition": family,
            "desiredCount": 1,
            "loadBalancers": [
                {"loadBalancerName": service, "containerName": "web", "containerPort": 8080}
            ],
        },
    )
    try:
        assert engine.image(remote) is not None  # pulled by the daemon when created
        url = daemon.api("GET", f"/v1/services/{service}")["url"]

        def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.post(url, content=b"1,2", timeout=10).content == b"echo:1,2"
            return False

        wait_until(answers, timeout=120, what=f"{service} to answer")
        assert created["service"]["serviceName"] == service
    finally:
        daemon.api("DELETE", f"/v1/services/{service}", params={"force": "true"})
