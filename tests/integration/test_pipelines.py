"""Multi-container endpoints on real containers: a serial inference pipeline and Direct
mode, deployed with the CLI, invoked through HAProxy.

Two small stages from one image, each on its own ``SAGEMAKER_BIND_TO_PORT`` in the
replica's shared network namespace: ``pre`` doubles every number of a CSV body (and
answers CSV), ``model`` sums each row and answers JSON. Through the pipeline
``1,2\\n3,4`` becomes ``[6.0, 14.0]``, which neither stage gives alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import docker
import httpx
import pytest
from dockyard_daemon import Daemon, wait_until

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
TARGET = "X-Amzn-SageMaker-Target-Container-Hostname"

#: a stage: STAGE=pre doubles CSV numbers, STAGE=model sums rows; /ping; honours
#: SAGEMAKER_BIND_TO_PORT
STAGE = r"""
import json, os, signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STAGE = os.environ["STAGE"]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

    def _answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404, b"", "text/plain")

    def do_POST(self):
        text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type") != "text/csv":
            self._answer(415, f"{STAGE} takes text/csv".encode(), "text/plain")
            return
        rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line]
        if STAGE == "pre":
            out = "".join(",".join(str(2 * v) for v in row) + "\n" for row in rows)
            self._answer(200, out.encode(), "text/csv")
        else:
            self._answer(200, json.dumps([sum(row) for row in rows]).encode(), "application/json")

    def log_message(self, *args):
        pass

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # PID 1: stop when told
ThreadingHTTPServer(("0.0.0.0", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def stage_image(script_image: Callable[..., str]) -> str:
    """An inference image (``IMAGE serve``) that says it listens on SAGEMAKER_BIND_TO_PORT."""
    return script_image("stage", STAGE, inference=True)


def in_service(daemon: Daemon, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
        assert endpoint["EndpointStatus"] != "Failed", endpoint.get("FailureReason")
        return endpoint if endpoint["EndpointStatus"] == "InService" else None

    return wait_until(ready, timeout=TIMEOUT, what=f"{name} InService")


def deploy_stages(daemon: Daemon, name: str, image: str, mode: str | None = None) -> str:
    """Deploy pre -> model through the API (each container its own STAGE); the URL."""
    request: dict[str, Any] = {
        "EndpointName": name,
        "Containers": [
            {"ContainerHostname": "pre", "Image": image, "Environment": {"STAGE": "pre"}},
            {"ContainerHostname": "model", "Image": image, "Environment": {"STAGE": "model"}},
        ],
    }
    if mode:
        request["InferenceExecutionConfig"] = {"Mode": mode}
    daemon.api("POST", "/v1/endpoints", json=request)
    return str(in_service(daemon, name)["Url"])


def post(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        url,
        content=b"1,2\n3,4\n",
        headers={"Content-Type": "text/csv", "Accept": "application/json", **(headers or {})},
        timeout=30,
    )


@pytest.fixture(scope="module")
def serial(daemon: Daemon, stage_image: str, unique_name: Callable[..., str]) -> Iterator[str]:
    name = unique_name("pipe")
    yield deploy_stages(daemon, name, stage_image)
    daemon.api("DELETE", f"/v1/endpoints/{name}")


@pytest.fixture(scope="module")
def direct(daemon: Daemon, stage_image: str, unique_name: Callable[..., str]) -> Iterator[str]:
    name = unique_name("direct")
    yield deploy_stages(daemon, name, stage_image, mode="Direct")
    daemon.api("DELETE", f"/v1/endpoints/{name}")


def test_a_serial_pipeline_feeds_each_answer_to_the_next_container(serial: str) -> None:
    answer = post(serial)
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == [6.0, 14.0]
    assert answer.headers["content-type"] == "application/json"


def test_a_serial_pipeline_refuses_a_target_container(serial: str) -> None:
    answer = post(serial, {TARGET: "model"})
    assert answer.status_code == 400 and "Direct" in answer.text


def test_the_containers_of_a_replica_share_one_network_namespace(
    daemon: Daemon, engine: DockerEngine, serial: str
) -> None:
    endpoint = daemon.api("GET", "/v1/endpoints")["Endpoints"]
    (replica,) = next(e for e in endpoint if e["Url"] == serial)["Replicas"]
    with docker.APIClient(base_url=engine.base_url, version="auto") as api:
        found = api.containers(filters={"label": f"dockyard.task={replica['TaskId']}"})
        modes = {api.inspect_container(c["Id"])["HostConfig"]["NetworkMode"] for c in found}
    joined = {m for m in modes if m.startswith("container:")}
    assert len(found) >= 4 and len(joined) == 1, modes  # pre, model, router join the holder


def test_direct_mode_sends_the_request_to_the_named_container_only(direct: str) -> None:
    to_pre = post(direct, {TARGET: "pre"})
    assert to_pre.status_code == 200 and to_pre.text == "2.0,4.0\n6.0,8.0\n"
    to_model = post(direct, {TARGET: "model"})
    assert to_model.status_code == 200 and json.loads(to_model.text) == [3.0, 7.0]


def test_direct_mode_without_or_with_an_unknown_hostname_is_a_400(direct: str) -> None:
    missing = post(direct)
    assert missing.status_code == 400 and "pre, model" in missing.text
    unknown = post(direct, {TARGET: "nope"})
    assert unknown.status_code == 400 and "nope" in unknown.text


def test_the_cli_deploys_a_pipeline_and_invokes_a_direct_container(
    daemon: Daemon, stage_image: str, unique_name: Callable[..., str]
) -> None:
    name = unique_name("cli-direct")
    done = daemon.cli(
        "deploy",
        name,
        "--pipeline",
        f"pre={stage_image}",
        f"model={stage_image}",
        "--mode",
        "direct",
        "--env",
        "STAGE=pre",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    invoked = daemon.cli(
        "invoke", name, "--body", "1,2", "--content-type", "text/csv", "--target-container", "model"
    )
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert invoked.stdout.strip().endswith("2.0,4.0")  # both containers run STAGE=pre
    daemon.api("DELETE", f"/v1/endpoints/{name}")


def test_an_image_without_the_bind_to_port_label_is_refused_naming_it(
    daemon: Daemon,
    stage_image: str,
    script_image: Callable[[str, str], str],
    unique_name: Callable[..., str],
) -> None:
    plain = script_image("unlabelled", "print('hi')\n")
    answer = daemon.raw(
        "POST",
        "/v1/endpoints",
        json={
            "EndpointName": unique_name("nolabel"),
            "Containers": [{"Image": stage_image}, {"Image": plain}],
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "Containers[1].Image"
    assert "SAGEMAKER_BIND_TO_PORT" in answer.json()["hint"]
