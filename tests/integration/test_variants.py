"""Production variants on real containers: weighted split, pinning, weights changed in
place, and an update to a new endpoint config under load.

The endpoint is made the AWS way (CreateModel, CreateEndpointConfig with two variants,
CreateEndpoint) through the AWS front with boto3; requests go through HAProxy. One
small image serves every variant: it answers with ``$WHO``, which each model sets, so
the answer itself says which variant's replica served it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import docker
import httpx
import pytest
from dockyard_daemon import free_port, wait_until
from test_aws_front import ROLE, AwsDaemon, aws_client

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

TIMEOUT = 180.0
PIN = "X-Amzn-SageMaker-Target-Variant"
INVOKED = "x-amzn-invoked-production-variant"

#: /ping, and /invocations answers $WHO; listens on SAGEMAKER_BIND_TO_PORT (default 8080)
SERVER = """
import os, signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WHO = os.environ.get("WHO", "?").encode()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(200, WHO)

    def log_message(self, *args):
        pass

signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # PID 1: stop when told
port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def daemon(engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsDaemon]:
    running = AwsDaemon(
        tmp_path_factory.mktemp("variants-daemon") / "state", engine.base_url, lb_port=free_port()
    )
    try:
        running.start()
        yield running
    finally:
        running.cleanup(engine)


@pytest.fixture(scope="module")
def sm(daemon: AwsDaemon) -> Any:
    done = daemon.cli("credentials", "create")
    assert done.returncode == 0, done.stderr
    keys = dict(re.findall(r"^(AccessKeyId|SecretAccessKey)\s+(\S+)$", done.stdout, re.M))
    return aws_client(daemon, keys, "sagemaker")


@pytest.fixture(scope="module")
def who_image(script_image: Callable[..., str]) -> str:
    """The server as an inference image: started as ``IMAGE serve`` (ENTRYPOINT)."""
    return script_image("who", SERVER, inference=True)


def create_model(sm: Any, name: str, image: str, who: str) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image, "Environment": {"WHO": who}},
    )


def create_config(sm: Any, name: str, variants: dict[str, tuple[str, float]]) -> None:
    """``variants``: variant name -> (model name, weight), one instance each."""
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, (model, weight) in variants.items()
        ],
    )


def in_service(daemon: AwsDaemon, name: str, variants: set[str]) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
        assert endpoint["EndpointStatus"] != "Failed", endpoint.get("FailureReason")
        healthy = {r["Variant"] for r in endpoint["Replicas"] if r["Health"] == "healthy"}
        done = endpoint["EndpointStatus"] == "InService" and healthy == variants
        return endpoint if done and len(endpoint["Replicas"]) == len(variants) else None

    return wait_until(ready, timeout=TIMEOUT, what=f"{name} InService with {variants}")


def invoke(url: str, client: httpx.Client, pin: str | None = None) -> tuple[int, str, str]:
    """(status, variant the balancer named, who answered)."""
    headers = {PIN: pin} if pin else {}
    response = client.post(url, content=b"1,2", headers=headers, timeout=30)
    return response.status_code, response.headers.get(INVOKED, ""), response.text


def replica_containers(engine: DockerEngine, name: str) -> dict[str, str]:
    """Container id -> when it started, of every container of the endpoint's replicas."""
    with docker.APIClient(base_url=engine.base_url, version="auto") as api:
        found = api.containers(filters={"label": f"dockyard.endpoint={name}"})
        return {c["Id"]: api.inspect_container(c["Id"])["State"]["StartedAt"] for c in found}


@pytest.fixture(scope="module")
def ab(
    daemon: AwsDaemon, sm: Any, who_image: str, unique_name: Callable[..., str]
) -> Iterator[str]:
    """Endpoint with variants a (weight 0.75, answers "A") and b (0.25, answers "B")."""
    name = unique_name("ab")
    create_model(sm, f"{name}-ma", who_image, "A")
    create_model(sm, f"{name}-mb", who_image, "B")
    create_config(sm, f"{name}-c1", {"a": (f"{name}-ma", 0.75), "b": (f"{name}-mb", 0.25)})
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    in_service(daemon, name, {"a", "b"})
    yield name
    daemon.api("DELETE", f"/v1/endpoints/{name}")
    wait_until(
        lambda: daemon.raw("GET", f"/v1/endpoints/{name}").status_code == 404,
        timeout=TIMEOUT,
        what=f"{name} deleted",
    )


def test_requests_split_by_weight_and_the_answer_names_the_variant(
    daemon: AwsDaemon, ab: str
) -> None:
    url = daemon.api("GET", f"/v1/endpoints/{ab}")["Url"]
    seen: Counter[str] = Counter()
    with httpx.Client() as client:
        for _ in range(800):
            status, variant, who = invoke(url, client)
            assert status == 200 and who == variant.upper()
            seen[variant] += 1
    # binomial(800, 0.25): sd ~12; 5 sd either side
    assert 140 <= seen["b"] <= 260, seen
    described = daemon.api("GET", f"/v1/endpoints/{ab}")
    counts = {v["VariantName"]: v["Invocations"] for v in described["ProductionVariants"]}
    assert counts["a"] >= seen["a"] and counts["b"] >= seen["b"], counts


def test_a_pinned_variant_answers_through_the_cli_and_an_unknown_one_is_refused(
    daemon: AwsDaemon, ab: str
) -> None:
    done = daemon.cli("invoke", ab, "--body", "1,2", "--target-variant", "b")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("B")
    refused = daemon.cli("invoke", ab, "--body", "1,2", "--target-variant", "zz")
    assert refused.returncode != 0 and "zz" in refused.stdout + refused.stderr


def test_new_weights_take_effect_without_restarting_any_replica(
    daemon: AwsDaemon, engine: DockerEngine, ab: str
) -> None:
    before = replica_containers(engine, ab)
    done = daemon.cli("endpoint", "update-weights", ab, "a=0", "b=1")
    assert done.returncode == 0, done.stdout + done.stderr
    url = daemon.api("GET", f"/v1/endpoints/{ab}")["Url"]
    with httpx.Client() as client:
        wait_until(
            lambda: all(invoke(url, client)[1] == "b" for _ in range(20)),
            timeout=30,
            what="every request to go to b",
        )
        assert invoke(url, client, pin="a")[1:] == ("a", "A")  # weight 0, still pinnable
    assert replica_containers(engine, ab) == before
    weights = {
        v["VariantName"]: v["CurrentWeight"]
        for v in daemon.api("GET", f"/v1/endpoints/{ab}")["ProductionVariants"]
    }
    assert weights == {"a": 0.0, "b": 1.0}
    done = daemon.cli("endpoint", "update-weights", ab, "a=0.75", "b=0.25")
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_update_to_a_new_endpoint_config_rolls_without_failed_requests(
    daemon: AwsDaemon, sm: Any, who_image: str, unique_name: Callable[..., str]
) -> None:
    name = unique_name("roll")
    create_model(sm, f"{name}-ma", who_image, "A")
    create_model(sm, f"{name}-mc", who_image, "C")
    create_config(sm, f"{name}-c1", {"a": (f"{name}-ma", 1.0)})
    create_config(sm, f"{name}-c2", {"c": (f"{name}-mc", 1.0)})
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c1")
    url = in_service(daemon, name, {"a"})["Url"]
    failures: list[str] = []
    answers: Counter[str] = Counter()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                status, _, who = invoke(url, client)
                answers[who] += 1
                if status != 200:
                    failures.append(f"{status} {who}")

    worker = threading.Thread(target=load)
    worker.start()
    try:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c2")
        in_service(daemon, name, {"c"})  # and a's replica gone
    finally:
        stop.set()
        worker.join()
    assert not failures, failures[:5]
    assert answers["A"] > 0 and answers["C"] > 0, answers
    daemon.api("DELETE", f"/v1/endpoints/{name}")
