"""Running the entry point as a child: live output, forwarded signals, the error's words.

- stdout is inherited, so the script writes straight to the container log; stderr passes
  through a pipe, chunk by chunk (progress bars that redraw with ``\\r`` stay live), and
  the runner keeps its last 64 KiB to explain a failure.
- The child runs in its own process group. SIGTERM or SIGINT sent to the runner (``docker
  stop`` signals PID 1 only) goes to that whole group, so a shell script's own children
  hear it too; the child then decides how to end, and its exit status becomes the
  runner's.
- A failure is explained like the training toolkit does: the captured stderr from the
  first line that names a Python error class (``ValueError: ...``) onwards.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

TAIL_BYTES = 64 * 1024
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_READ_CHUNK = 64 * 1024
_DRAIN_TIMEOUT_S = 10.0
_FALLBACK_LINES = 20
# What marks the start of an error report in a script's output.
ERROR_MARKERS: tuple[str, ...] = (
    *sorted(n for n in dir(builtins) if "Error" in n or "Exception" in n),
    "Invalid requirement",
    "ExecuteUserScriptError",
    "mpirun.real",
    "ORTE",
)


@dataclass(frozen=True)
class ChildResult:
    return_code: int
    stderr_tail: str


class SignalForwarder:
    """Relays termination signals from the runner to the running child's process group.

    Use as a context manager around the whole run: a signal that arrives before the child
    exists is remembered (:attr:`received`) and delivered as soon as it starts.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalForwarder:
        for signum in FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, child: subprocess.Popen[bytes] | None) -> None:
        self._child = child
        if child is not None and self.received is not None:
            self._forward(self.received)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        # os.write, not print: a handler may interrupt a print in progress.
        name = signal.Signals(signum).name
        _write_all(2, f"dockyard-train: received {name}, passing it to the script\n".encode())
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        child = self._child
        if child is None or child.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)


def run_child(
    cmd: list[str], cwd: str, env: Mapping[str, str], forwarder: SignalForwarder
) -> ChildResult:
    """Run ``cmd`` to completion, relaying output and signals."""
    child = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stderr=subprocess.PIPE, process_group=0)
    forwarder.attach(child)
    tail = _Tail()
    assert child.stderr is not None
    reader = threading.Thread(target=_pump, args=(child.stderr, tail), daemon=True)
    reader.start()
    try:
        return_code = child.wait()
    finally:
        forwarder.attach(None)
    reader.join(_DRAIN_TIMEOUT_S)
    return ChildResult(return_code=return_code, stderr_tail=tail.text())


def error_excerpt(stderr_tail: str) -> str:
    """The part of a failed script's stderr that says what went wrong."""
    lines = [line.rstrip() for line in stderr_tail.splitlines()]
    start = next((i for i, line in enumerate(lines) if any(m in line for m in ERROR_MARKERS)), None)
    chosen = lines[start:] if start is not None else lines[-_FALLBACK_LINES:]
    unique = list(dict.fromkeys(line for line in chosen if line.strip()))
    return "\n".join(unique).strip()


class _Tail:
    """The last :data:`TAIL_BYTES` of a stream, safe to fill from one thread."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._truncated = False

    def add(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) > TAIL_BYTES:
            del self._buffer[: len(self._buffer) - TAIL_BYTES]
            self._truncated = True

    def text(self) -> str:
        text = self._buffer.decode("utf-8", "replace")
        if self._truncated and "\n" in text:
            text = text.split("\n", 1)[1]  # drop the partial first line
        return text


def _pump(stream: Any, tail: _Tail) -> None:
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            break
        _write_all(2, chunk)
        tail.add(chunk)
    stream.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return  # nowhere to write to; the tail still keeps the text
        view = view[written:]
