"""Deploy → first HTTP 200, for Dockyard and for the bare engine, side by side.

Three things are timed from the same kind of start line, one after the other in each
round (A/B/C, A/B/C…), so that the machine's noise hits all three alike:

* ``dockyard``: ``POST /v1/endpoints`` (2 replicas of an already-built image) until
  the first ``POST <endpoint Url>`` with an iris CSV row answers 200 through HAProxy;
  also until the endpoint says ``InService`` (both replicas registered);
* ``floor_model``: ``docker run IMAGE serve`` of the same image, 2 containers started
  in parallel, until each published port answers the same POST with 200 — what the
  engine and the model server cost with no control plane at all;
* ``floor_trivial``: the same with ``python3 -m http.server`` on the base image —
  the engine's own floor; the gap to ``floor_model`` is the model server's start-up
  (imports, model load, workers).

The probes fire a request every 10 ms, each on a fresh connection and in its own
thread (see :class:`FirstOk`), so a figure is never rounded up to a polling period or
held back by one stuck attempt.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
import docker.models.containers

from dockyard.cli.client import ApiClient
from dockyard.errors import DockyardError
from dockyard.ports.engine import Engine

#: one sample as a one-row JSON matrix (a single CSV line decodes flat, as on AWS)
ROW_BODY = b"[[5.1, 3.5, 1.4, 0.2]]"
PROBE_INTERVAL = 0.01
ATTEMPT_TIMEOUT = 5.0
MAX_IN_FLIGHT = 64
ROUND_TIMEOUT = 180.0
BENCH_LABEL = {"dockyard.bench": "foundation"}


@dataclass(frozen=True)
class Request:
    """What a probe sends, and where."""

    port: int
    path: str
    method: str = "POST"
    body: bytes | None = ROW_BODY
    content_type: str = "application/json"


class FirstOk(threading.Thread):
    """Fires one attempt at a URL every few milliseconds until one answers 200.

    ``at`` is the monotonic time the first 200 arrived. Attempts run in their own
    threads and never wait for each other: a connection that docker's userland proxy
    accepts before the container's network is up hangs for about a second (the proxy's
    dial waits for ARP), and a sequential prober would add that second to the figure.
    """

    def __init__(self, request: Request, timeout: float = ROUND_TIMEOUT) -> None:
        super().__init__(daemon=True)
        self.request = request
        self.timeout = timeout
        self.at: float | None = None
        self.attempts = 0
        self.last: str = ""
        self._done = threading.Event()
        self._in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._done.is_set() and time.monotonic() < deadline:
            if self._in_flight.acquire(timeout=PROBE_INTERVAL):
                self.attempts += 1
                threading.Thread(target=self._attempt, daemon=True).start()
            self._done.wait(PROBE_INTERVAL)

    def _attempt(self) -> None:
        try:
            if self._send() and not self._done.is_set():
                self.at = time.monotonic()
                self._done.set()
        finally:
            self._in_flight.release()

    def _send(self) -> bool:
        req = self.request
        conn = http.client.HTTPConnection("127.0.0.1", req.port, timeout=ATTEMPT_TIMEOUT)
        try:
            headers = {"content-type": req.content_type} if req.body is not None else {}
            conn.request(req.method, req.path, body=req.body, headers=headers)
            response = conn.getresponse()
            response.read()
            self.last = str(response.status)
            return response.status == 200
        except (OSError, http.client.HTTPException) as exc:
            self.last = type(exc).__name__
            return False
        finally:
            conn.close()

    def wait(self, timeout: float = ROUND_TIMEOUT) -> None:
        self._done.wait(timeout)
        self.cancel()

    def cancel(self) -> None:
        self._done.set()


def _since(t0: float, at: float | None) -> float | None:
    return None if at is None else round(at - t0, 4)


# -- Dockyard ---------------------------------------------------------------------------


def dockyard_round(
    client: ApiClient, engine: Engine, image: str, name: str, lb_port: int, replicas: int
) -> dict[str, Any]:
    """One deploy through the API, timed to the first 200 and to InService; then delete."""
    path = f"/endpoints/{name}/invocations"
    probe = FirstOk(Request(lb_port, path))
    probe.start()
    body = {"EndpointName": name, "Image": image, "InstanceCount": replicas}
    t0 = time.monotonic()
    doc = client.request("POST", "/v1/endpoints", json=body)
    t_api = time.monotonic()
    if not str(doc.get("Url", "")).endswith(path):
        probe.cancel()
        raise RuntimeError(f"the endpoint's Url is {doc.get('Url')}, expected …{path}")
    t_service, status = _wait_in_service(client, name)
    probe.wait()
    result = {
        "api_s": _since(t0, t_api),
        "first_200_s": _since(t0, probe.at),
        "in_service_s": _since(t0, t_service),
        "status": status,
        "probe_attempts": probe.attempts,
        "probe_last": probe.last,
    }
    result["delete_s"] = delete_endpoint(client, engine, name)
    return result


def _wait_in_service(client: ApiClient, name: str) -> tuple[float | None, str]:
    deadline = time.monotonic() + ROUND_TIMEOUT
    status = "?"
    while time.monotonic() < deadline:
        status = client.request("GET", f"/v1/endpoints/{name}")["EndpointStatus"]
        if status == "InService":
            return time.monotonic(), status
        if status == "Failed":
            return None, status
        time.sleep(0.02)
    return None, status


def delete_endpoint(client: ApiClient, engine: Engine, name: str) -> float:
    """Delete, then wait until the API forgets it and its containers are gone."""
    t0 = time.monotonic()
    try:
        client.request("DELETE", f"/v1/endpoints/{name}")
    except DockyardError as error:
        if error.code != "ResourceNotFound":
            raise
    _poll(lambda: not _endpoint_exists(client, name), f"endpoint {name} to go")
    _poll(lambda: not engine.list({"dockyard.managed": "1"}), "its containers to go")
    return round(time.monotonic() - t0, 4)


def _endpoint_exists(client: ApiClient, name: str) -> bool:
    try:
        client.request("GET", f"/v1/endpoints/{name}")
    except DockyardError as error:
        if error.code == "ResourceNotFound":
            return False
        raise
    return True


def _poll(done: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- the bare engine ----------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """``docker run`` of one image, ``replicas`` times in parallel, probed like an endpoint."""

    image: str
    command: list[str]
    request_path: str
    method: str = "POST"
    body: bytes | None = ROW_BODY


MODEL_PATH = "/invocations"


def floor_round(
    engine_url: str, floor: Floor, replicas: int, free_port: Callable[[], int]
) -> dict[str, Any]:
    """Start ``replicas`` containers at once; time each one's first 200; remove them.

    Each container's probe starts when its ``run`` call returns (its network is up by
    then). An earlier probe would go through docker's userland proxy to an address
    with no neighbour yet, and every packet to it would wait about a second for the
    kernel's next ARP attempt — a cost of probing too early, not of the engine.
    Dockyard's own health checks also start only after the container runs.
    """
    clients = [docker.DockerClient(base_url=engine_url) for _ in range(replicas)]
    ports = [free_port() for _ in range(replicas)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(replicas) as pool:
        outcomes = list(pool.map(_run_and_probe(floor), clients, ports))
    with ThreadPoolExecutor(replicas) as pool:
        list(pool.map(lambda outcome: outcome[0].remove(force=True), outcomes))
    for client in clients:
        client.close()
    times = [_since(t0, at) for _, _, at in outcomes]
    done = [t for t in times if t is not None]
    return {
        "first_200_s": min(done) if done else None,
        "all_200_s": max(done) if len(done) == replicas else None,
        "per_container_s": times,
        "run_returned_s": [_since(t0, started) for _, started, _ in outcomes],
    }


Outcome = tuple[docker.models.containers.Container, float, float | None]


def _run_and_probe(floor: Floor) -> Callable[[docker.DockerClient, int], Outcome]:
    """(container, when ``run`` returned, when it first answered 200)."""

    def run(client: docker.DockerClient, port: int) -> Outcome:
        container = client.containers.run(
            floor.image,
            floor.command,
            detach=True,
            ports={"8080/tcp": ("127.0.0.1", port)},
            labels=BENCH_LABEL,
        )
        started = time.monotonic()
        probe = FirstOk(Request(port, floor.request_path, floor.method, floor.body))
        probe.start()
        probe.wait()
        return container, started, probe.at

    return run
