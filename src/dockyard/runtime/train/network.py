"""Waiting until every peer host's name resolves before the script starts.

Hosts of a distributed job come up at slightly different times, and a script that
connects to ``algo-2`` before its name exists fails at once. The training toolkit waits
(up to 15 minutes) for every host to resolve; so does this runner. The current host is
skipped: it is this container, and a lone host that never had its own name registered
must not wait a quarter of an hour for nothing. ``SM_STUDIO_LOCAL_MODE=true`` skips the
wait altogether, as in the toolkit.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Mapping

from dockyard.runtime.train.errors import JobConfigError

DNS_WAIT_S = 15 * 60
_FIRST_DELAY_S = 0.1
_MAX_DELAY_S = 30.0
SKIP_ENV = "SM_STUDIO_LOCAL_MODE"


def wait_for_hosts(
    hosts: list[str],
    current_host: str,
    environ: Mapping[str, str],
    *,
    timeout_s: float = DNS_WAIT_S,
    resolve: Callable[[str], object] = socket.gethostbyname,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    if environ.get(SKIP_ENV, "false").lower() == "true":
        return
    deadline = clock() + timeout_s
    for host in hosts:
        if host == current_host:
            continue
        delay = _FIRST_DELAY_S
        while True:
            try:
                resolve(host)
                break
            except OSError as exc:
                if clock() >= deadline:
                    raise JobConfigError(
                        f"host {host} did not resolve within {int(timeout_s)} s ({exc}); the "
                        "hosts of a training job must share a network on which each is "
                        "reachable by its name"
                    ) from None
                message = f"dockyard-train: waiting for host {host} to resolve"
                print(message, file=sys.stderr, flush=True)
                sleep(min(delay, max(0.0, deadline - clock())))
                delay = min(delay * 2, _MAX_DELAY_S)
