"""Application Auto Scaling as stored: scalable targets, scaling policies, scheduled actions.

Keyed by the service they scale, so each service has at most one scalable target (its
``ecs:service:DesiredCount``) and policies and scheduled actions are owned by it.
The API writes the desired parts (capacities, policy configurations, schedules); the
scaling reconciler writes only its own: cooldown clocks, the activities it performed,
when a scheduled action last ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.control.autoscaling import StepScaling, TargetTracking

#: newest scaling activities kept per scalable target
MAX_ACTIVITIES = 50


@dataclass(frozen=True)
class ScalingActivity:
    """One decision that changed (or tried to change) a service's desired count."""

    at: float
    description: str  # "Setting desired count to 3."
    cause: str  # the decision's reason
    status: str = "Successful"  # AAS's StatusCode
    desired: int | None = None


@dataclass(frozen=True)
class ScalableTargetRecord:
    KIND: ClassVar[str] = "scalable_target"

    service: str
    min_capacity: int
    max_capacity: int
    created_at: float
    last_scale_out_at: float | None = None
    last_scale_in_at: float | None = None
    activities: tuple[ScalingActivity, ...] = ()  # oldest first, at most MAX_ACTIVITIES
    last_reason: str = ""  # why the newest evaluation did (or did not) act

    @property
    def key(self) -> str:
        return self.service

    @property
    def owner(self) -> str:
        return self.service


@dataclass(frozen=True)
class ScalingPolicyRecord:
    KIND: ClassVar[str] = "scaling_policy"

    service: str
    policy_name: str
    created_at: float
    target_tracking: TargetTracking | None = None
    step: StepScaling | None = None
    last_activity_at: float | None = None  # step policies cool down per policy

    @property
    def key(self) -> str:
        return policy_key(self.service, self.policy_name)

    @property
    def owner(self) -> str:
        return self.service


@dataclass(frozen=True)
class ScheduledActionRecord:
    KIND: ClassVar[str] = "scheduled_action"

    service: str
    action_name: str
    schedule: str  # the expression as given (validated)
    created_at: float
    min_capacity: int | None = None
    max_capacity: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    last_run_at: float | None = None

    @property
    def key(self) -> str:
        return policy_key(self.service, self.action_name)

    @property
    def owner(self) -> str:
        return self.service


def policy_key(service: str, name: str) -> str:
    return f"{service}/{name}"
