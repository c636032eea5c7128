"""The router of a multi-container endpoint replica: serial pipeline or Direct mode.

Who chains a serial inference pipeline? On SageMaker the platform does, and here too:
this small process runs as one more container of the replica, in the network namespace
its containers share (the task's awsvpc namespace), listening on the replica's entry
port 8080 where the load balancer sends requests. Each model container listens on its
own port (``SAGEMAKER_BIND_TO_PORT``) on the same namespace, so every hop is a loopback
call on a kept-alive connection: no extra network, no second load balancer, and no
dependence on what the user's images contain (it needs only the Python standard
library, in an image of its own). The alternative of chaining inside the first
container's model server would work only for images that run Dockyard's server.

* ``POST /invocations``, Serial: the body goes through the containers in order; each
  answer's body and Content-Type become the next request's; intermediate containers
  are asked for what they were sent (``Accept`` = their input's Content-Type), the
  last one for the caller's ``Accept``; the last answer is returned. A container that
  answers 4xx/5xx ends the chain with its answer (``X-Dockyard-Pipeline-Container``
  names it).
* ``POST /invocations``, Direct: ``X-Amzn-SageMaker-Target-Container-Hostname`` names
  the container; missing, unknown (or given to a Serial pipeline): 400.
* ``GET /ping``: 200 when every container's ``/ping`` answers 200, else 503.

Configuration (set by the platform): ``DOCKYARD_PIPELINE`` JSON
``[{"hostname": H, "port": P}, ...]`` in order, ``DOCKYARD_PIPELINE_MODE``
``Serial``|``Direct``, ``DOCKYARD_PIPELINE_PORT`` (default 8080).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_HEADER = "X-Amzn-SageMaker-Target-Container-Hostname"
CONTAINER_HEADER = "X-Dockyard-Pipeline-Container"
PASSED = ("X-Amzn-SageMaker-Custom-Attributes", "X-Amzn-SageMaker-Inference-Id")
TIMEOUT_S = 60.0  # the inference contract's limit for an answer


@dataclass(frozen=True)
class Hop:
    hostname: str
    port: int


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


class _Connections(threading.local):
    """One kept-alive connection per container per router thread."""

    def __init__(self) -> None:
        self.by_port: dict[int, http.client.HTTPConnection] = {}


_local = _Connections()


def call(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    """One request to the container on ``port``; a broken kept-alive connection is
    reopened once."""
    for attempt in (1, 2):
        conn = _local.by_port.get(port)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
            _local.by_port[port] = conn
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()})
        except (OSError, http.client.HTTPException):
            conn.close()
            _local.by_port.pop(port, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def serial(hops: list[Hop], body: bytes, headers: dict[str, str]) -> tuple[Answer, Hop]:
    """Run ``body`` through every container in order; the last answer (or the first
    error) and the container that gave it."""
    content_type = headers.get("content-type", "application/octet-stream")
    accept = headers.get("accept", "*/*")
    extra = {k: v for k, v in headers.items() if k in {p.lower() for p in PASSED}}
    answer = Answer(200, body, {})
    for index, hop in enumerate(hops):
        last = index == len(hops) - 1
        sent = {**extra, "Content-Type": content_type, "Accept": accept if last else content_type}
        answer = call(hop.port, "POST", "/invocations", body, sent)
        if answer.status >= 400:
            return answer, hop
        body = answer.body
        content_type = answer.headers.get("content-type", content_type)
    return answer, hops[-1]


class Router(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hops: list[Hop] = []
    mode = "Serial"

    def do_GET(self) -> None:
        if self.path != "/ping":
            self._send(404, b'{"message":"use /ping or /invocations"}')
            return
        healthy = True
        for hop in self.hops:
            try:
                healthy = call(hop.port, "GET", "/ping", b"", {}).status == 200
            except (OSError, http.client.HTTPException):
                healthy = False
            if not healthy:
                break
        self._send(200 if healthy else 503, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] != "/invocations":
            self._send(404, b'{"message":"use /invocations"}')
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        target = self.headers.get(TARGET_HEADER)
        try:
            if self.mode == "Direct":
                hop = self._target(target)
                if hop is None:
                    return
                sent = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
                answer = call(hop.port, "POST", "/invocations", body, sent)
            else:
                if target is not None:
                    self._error(
                        f"{TARGET_HEADER} is for endpoints whose containers run in Direct mode; "
                        "this one is a serial inference pipeline"
                    )
                    return
                answer, hop = serial(self.hops, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self._send(502, json.dumps({"message": f"a container did not answer: {exc}"}).encode())
            return
        keep = {"content-type", *(p.lower() for p in PASSED)}
        passed = {k: v for k, v in answer.headers.items() if k in keep}
        self._send(answer.status, answer.body, {**passed, CONTAINER_HEADER: hop.hostname})

    def _target(self, target: str | None) -> Hop | None:
        names = [h.hostname for h in self.hops]
        if not target:
            self._error(
                f"this endpoint runs its containers in Direct mode: name one in {TARGET_HEADER} "
                f"({', '.join(names)})"
            )
            return None
        hop = next((h for h in self.hops if h.hostname == target), None)
        if hop is None:
            self._error(
                f"no container {target!r} in this endpoint; its containers: {', '.join(names)}"
            )
        return hop

    def _error(self, message: str) -> None:
        self._send(400, json.dumps({"code": "ValidationError", "message": message}).encode())

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if not headers or "content-type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    Router.hops = [
        Hop(h["hostname"], int(h["port"])) for h in json.loads(os.environ["DOCKYARD_PIPELINE"])
    ]
    Router.mode = os.environ.get("DOCKYARD_PIPELINE_MODE", "Serial")
    port = int(os.environ.get("DOCKYARD_PIPELINE_PORT", "8080"))
    server = _Server(("0.0.0.0", port), Router)

    def stop(_signum: int, _frame: object) -> None:
        # As PID 1 an unhandled SIGTERM is ignored, and the replica would wait out its
        # stop timeout for SIGKILL. ``shutdown`` waits for ``serve_forever`` to return,
        # which runs on this (the signal's) thread: ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"pipeline router ({Router.mode}, {len(Router.hops)} containers) on :{port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
