"""In-memory implementations of the ports, for tests that must not need a real engine.

:class:`~dockyard.testing.engine.FakeEngine`,
:class:`~dockyard.testing.lb.FakeLoadBalancer` and
:class:`~dockyard.testing.probe.FakeHealthProbe` implement the
:mod:`dockyard.ports` protocols in memory. Fast tests of the server glue use them to
drive whole reconcile passes in milliseconds, and the control-plane benchmark uses
them to count what a pass asks of the engine and the balancer. They copy the real
adapters' observable contracts (which error type, which exit code, what is
idempotent), and each offers a few public *test controls* to make the world change
under the server: a container exits, a target keeps connections open, a ping fails.

They stand in for the adapters, never for their tests: every real adapter keeps its
own integration tests against a real engine and a real HAProxy.
"""

from __future__ import annotations

from dockyard.testing.engine import FakeEngine
from dockyard.testing.lb import FakeLoadBalancer
from dockyard.testing.probe import FakeHealthProbe

__all__ = ["FakeEngine", "FakeHealthProbe", "FakeLoadBalancer"]
