"""The per-invocation timeout (SAGEMAKER_MODEL_SERVER_TIMEOUT) for handlers run inline.

Handlers run on the event loop, which runs on the worker's main thread (``handlers.py``
says why). An ``asyncio`` timeout cannot interrupt a handler that never yields, so the
timeout is a one-shot ``ITIMER_REAL`` armed around each handler call (two ``setitimer``
system calls per request): when it fires, the SIGALRM handler raises HandlerTimeout
inside the user's code, the worker answers 504 and goes on serving. Python delivers it
between bytecodes, so pure-Python and NumPy/scikit-learn code stop promptly. A handler
stuck inside one C call that never returns to Python cannot be interrupted this way; the
supervisor's watchdog (``supervisor.py``) replaces such a worker once it has been
unresponsive past the timeout plus a grace period.

Why 504 Gateway Timeout: the server stands between the client and the model code, and
it is that upstream step which did not answer in time. 408 would blame the client for
sending slowly, and 503 suggests retrying later against an overloaded server, while a
retry of the same request will most likely time out again.
"""

from __future__ import annotations

import signal
from types import FrameType

from dockyard.runtime.serve.errors import HandlerTimeout


class Deadline:
    """Arms and disarms the interval timer; ``install`` must run in the main thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.installed = False

    def install(self) -> None:
        """Route SIGALRM to HandlerTimeout (call once per worker process)."""
        signal.signal(signal.SIGALRM, _expire)
        self.installed = True

    def arm(self) -> None:
        if self.installed:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self.installed:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _expire(signum: int, frame: FrameType | None) -> None:
    raise HandlerTimeout
