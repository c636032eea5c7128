"""Load balancer adapters: HAProxy, driven through its runtime API."""

from __future__ import annotations

from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer, LbOptions

__all__ = ["HAProxyLoadBalancer", "LbOptions"]
