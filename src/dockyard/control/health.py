"""One health truth per replica: its check history and the rise/fall policy (pure).

The server checks each running replica (``GET /ping`` for endpoints, ALB-style) and
hands every answer to :func:`record_check`. The verdict changes only after ``rise``
passes or ``fall`` failures in a row, so a single lost check on a busy machine never
takes a healthy replica out of rotation, and one lucky answer never puts a sick one
in. The history is part of the replica's stored record: a restarted daemon carries on
from the same verdict instead of starting from UNKNOWN.

This verdict is the only one the control plane acts on: readiness, registration in
the load balancer and an endpoint's status all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dockyard.control.task import HealthStatus

PING_TIMEOUT_S = 2.0  # the SageMaker contract: /ping answers within 2 s


@dataclass(frozen=True)
class CheckPolicy:
    """How many answers in a row change the verdict."""

    rise: int = 1  # a replica must answer before it gets traffic; one pass is proof
    fall: int = 3  # one slow ping is not an outage


DEFAULT_POLICY = CheckPolicy()


@dataclass(frozen=True)
class CheckHistory:
    """A replica's health checks so far.

    ``first_healthy_at`` is when the verdict first turned HEALTHY; it is kept even
    after the replica turns unhealthy, because "it served once" is what tells a
    replica being replaced from one that never started (startup timeouts).
    """

    status: HealthStatus = HealthStatus.UNKNOWN
    passes: int = 0  # consecutive, up to the policy's rise
    failures: int = 0  # consecutive, up to the policy's fall
    first_healthy_at: float | None = None


def record_check(
    history: CheckHistory, passed: bool, now: float, policy: CheckPolicy = DEFAULT_POLICY
) -> CheckHistory:
    """The history after one more answer."""
    # counts stop at what the policy needs: a steady replica's history stays the same
    # value pass after pass, so the record is not rewritten every second
    if passed:
        passes, failures = min(history.passes + 1, policy.rise), 0
    else:
        passes, failures = 0, min(history.failures + 1, policy.fall)
    status = history.status
    if passes >= policy.rise:
        status = HealthStatus.HEALTHY
    elif failures >= policy.fall:
        status = HealthStatus.UNHEALTHY
    first = history.first_healthy_at
    if first is None and status is HealthStatus.HEALTHY:
        first = now
    return replace(
        history,
        status=status,
        passes=passes,
        failures=failures,
        first_healthy_at=first,
    )
