"""Image plumbing shared by the engine adapter: references, build streams, registries.

Kept apart from :mod:`docker_api` because each piece has one small rule worth
testing on its own: how ``repo:tag`` splits when the registry has a port, how a
build's JSON stream becomes :class:`BuildEvent` lines and a :class:`BuildFailed`,
and how to tell quickly that no registry can be reached (a pull that cannot succeed
must fail in seconds, not sit on a DNS or TCP timeout inside the engine).
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from dockyard.errors import BuildFailed
from dockyard.ports.engine import BuildEvent

DEFAULT_REGISTRY = "registry-1.docker.io"
BUILD_TAIL_LINES = 25


def split_ref(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` → ``(repo, tag)``; the tag defaults to ``latest``.

    A colon before the last slash belongs to a registry port (``host:5000/app``), so
    only a colon after it separates the tag. Digests (``@sha256:``) stay in the repo.
    """
    if "@" in ref:
        return ref, ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


def registry_of(ref: str) -> tuple[str, int]:
    """The registry host and port a pull of ``ref`` would contact.

    Docker's rule: the first path component is a registry only if it has a dot or a
    colon, or is ``localhost``; otherwise the image lives on Docker Hub.
    """
    first, sep, _ = ref.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return DEFAULT_REGISTRY, 443
    host, _, port = first.partition(":")
    if port.isdigit():
        return host, int(port)
    return host, 443


def reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Name resolution has no timeout of its own, so the whole attempt runs in a
    daemon thread that is abandoned when the deadline passes.
    """
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True, name=f"probe-{host}")
    worker.start()
    worker.join(timeout + 0.5)
    return bool(result and result[0])


def build_events(chunks: Iterable[dict[str, Any]], tag: str) -> Iterator[BuildEvent]:
    """Turn the builder's JSON messages into output lines; raise :class:`BuildFailed`.

    The final image id is not taken from the stream (Docker and Podman report it
    differently); the adapter reads it from the tag once the stream has ended.

    The error carries the last lines the builder printed, which is where the failing
    step's own output (a pip traceback, a missing file) is.
    """
    tail: deque[str] = deque(maxlen=BUILD_TAIL_LINES)
    for chunk in chunks:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            reason = str(chunk.get("error") or detail.get("message") or "unknown error")
            output = "".join(tail).rstrip()
            raise BuildFailed(
                f"building {tag} failed: {reason.strip()}"
                + (f"\n--- last build output ---\n{output}" if output else ""),
                resource=tag,
                hint="fix the failing step shown above, then build again",
            )
        text = chunk.get("stream") or chunk.get("status") or ""
        if text:
            line = str(text)
            if chunk.get("status") and not line.endswith("\n"):
                line += "\n"
            tail.append(line)
            yield BuildEvent(stream=line)
