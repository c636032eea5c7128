"""A trivial HTTP/1.1 server answering every request with one constant: the ceiling.

Stand-alone (standard library, uvloop when importable), so the same file runs on the
host and in a tiny image built through Dockyard's BYOC path. ``GET /ping`` and
``POST /invocations`` (any path, really) get ``200 [0]`` on keep-alive connections.
Workers: ``SAGEMAKER_MODEL_SERVER_WORKERS`` (default 2) processes sharing the port with
``SO_REUSEPORT``; port ``SAGEMAKER_BIND_TO_PORT`` (default 8080). Started as
``const_server.py serve`` (the platform's argument) or without arguments.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from typing import Any

BODY = b"[0]"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class Constant(asyncio.Protocol):
    """Reads requests (headers + Content-Length body) and answers each with RESPONSE."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end >= 0 else None].strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            self.buffer = self.buffer[total:]
            out.append(RESPONSE)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((os.environ.get("BENCH_CONST_HOST", "0.0.0.0"), port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def worker(port: int) -> None:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

        uvloop.install()
    except ImportError:
        pass
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Constant, sock=listen(port)))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()


def main() -> int:
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    workers = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "2"))
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            worker(port)
            os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
