"""Orchestrators Dockyard hands workloads to when one machine is not enough."""
