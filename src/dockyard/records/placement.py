"""Where and how a task's containers run, beyond what its task definition says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.ports.engine import Mount


@dataclass(frozen=True)
class Placement:
    """Platform-provided settings of a task, kept with it so a restart can act on it.

    ``network``/``hostnames`` place training hosts on a private network where they
    resolve as algo-1..N; ``extra_mounts`` add platform-provided directories (the
    SageMaker ``/opt/ml`` tree) to a named container; ``labels`` say who owns it.
    ``hold_names``: the task's names on ``network`` resolve for as long as the task
    exists, its containers' exits notwithstanding (the hosts of a job of several hosts;
    see :mod:`dockyard.control.task_network`).
    """

    name_prefix: str
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str | None = None
    hostnames: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    extra_mounts: Mapping[str, tuple[Mount, ...]] = field(default_factory=dict)
    init: bool = False
    hold_names: bool = False
