"""One write per response: uvicorn's httptools protocol, with its writes gathered.

uvicorn writes a response's status line and headers in one ``transport.write`` and its
body in a second. On uvloop each write is a ``send()`` of its own, so every prediction
left the replica as two TCP segments: two system calls here, and two wake-ups and reads
in the balancer (or client) on the other end. Measured on one-row iris predictions at 32
connections, through HAProxy on a 2-core machine: gathering them into one write answered
7 % more requests with batching on and 2-4 % more without, and HAProxy spent about 3 µs
less CPU per request.

How: the protocol sees the connection's transport through a thin wrapper whose
``write`` only appends, and schedules one flush with ``call_soon`` -- which runs right
after the coroutine step that wrote, before the loop next waits for I/O. So everything a
request's handler writes in one step (the head and the body) goes out in one system
call, and nothing waits longer than that step. ``close`` flushes first, so a response
sent with ``Connection: close`` is never cut off; after ``abort`` nothing is written.
Everything else (flow control, ``get_extra_info``, ``is_closing``) goes to the real
transport unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatheringTransport:
    """Wraps a transport: writes made in one loop step leave as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Hand what was gathered to the real transport (once, whatever the count)."""
        pending, self._pending = self._pending, []
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class SingleWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`GatheringTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering = GatheringTransport(transport, asyncio.get_running_loop())
        super().connection_made(gathering)  # type: ignore[arg-type]
