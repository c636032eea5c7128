"""The HTTP floor: the least a Python server can do around the same one-row ``predict``.

A measuring device, not a model server: ``POST`` (any path) with a JSON matrix gets
``{"predictions": [...]}`` from the model (``GET``, any path: ``200 {}``, for
readiness), parsed by httptools on uvloop, one ``transport.write`` per response,
keep-alive, no routing, no ASGI, no error handling beyond a 400. Comparing its CPU per
request with Dockyard's model server on the same model, the same JSON and the same
worker count says how much of the replica's cost is the HTTP layer and the hand-off
rather than ``predict`` (``http_floor.py``).

``FLOOR_HANDOFF``: ``inline`` runs ``predict`` on the event loop (a long prediction
would hold up ``/ping``); ``thread`` hands it to one worker thread per process, the
usual way to keep answering pings. Workers: ``SAGEMAKER_MODEL_SERVER_WORKERS``
(default 2) processes sharing ``SAGEMAKER_BIND_TO_PORT`` with ``SO_REUSEPORT``; the model
is ``$SM_MODEL_DIR/model.joblib``, loaded before the workers fork.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httptools
import joblib
import numpy as np
import uvloop

HEAD = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def predict_json(model: Any, body: bytes) -> tuple[int, bytes]:
    """The answer to one request body: (status, JSON)."""
    try:
        rows = np.asarray(json.loads(body), dtype=float)
        return 200, json.dumps({"predictions": model.predict(rows).tolist()}).encode()
    except ValueError as error:
        return 400, json.dumps({"error": str(error)}).encode()


class Floor(asyncio.Protocol):
    """One connection: parse with httptools, answer each request in order."""

    def __init__(self, model: Any, pool: ThreadPoolExecutor | None) -> None:
        self.model = model
        self.pool = pool
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.transport: Any = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self) -> None:
        self.body = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.parser.get_method() == b"GET":
            self.reply(200, b"{}")
            return
        body = b"".join(self.body)
        if self.pool is None:
            self.reply(*predict_json(self.model, body))
            return
        future = self.loop.run_in_executor(self.pool, predict_json, self.model, body)
        future.add_done_callback(lambda done: self.reply(*done.result()))

    def reply(self, status: int, out: bytes) -> None:
        if not self.transport.is_closing():
            reason = b"OK" if status == 200 else b"Bad Request"
            self.transport.write(HEAD % (status, reason, len(out)) + out)


def serve(sock: socket.socket, model: Any, handoff: str) -> None:
    uvloop.install()

    async def main() -> None:
        pool = ThreadPoolExecutor(1) if handoff == "thread" else None
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Floor(model, pool), sock=sock)
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        await stop
        server.close()

    asyncio.run(main())


def main() -> None:
    handoff = os.environ.get("FLOOR_HANDOFF", "inline")
    if handoff not in ("inline", "thread"):
        sys.exit(f"FLOOR_HANDOFF={handoff!r}: give inline or thread")
    model = joblib.load(Path(os.environ.get("SM_MODEL_DIR", ".")) / "model.joblib")
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    workers = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "2"))
    children = []
    for _ in range(workers):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        sock.setblocking(False)
        pid = os.fork()
        if pid == 0:
            serve(sock, model, handoff)
            os._exit(0)
        sock.close()
        children.append(pid)

    def stop_workers(*_: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # one that already exited
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_workers)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
