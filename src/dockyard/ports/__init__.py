"""Interfaces the server drives and adapters implement.

They sit beside the pure core and hold no I/O themselves: plain data types and
``Protocol`` classes. The local engine (Docker API) implements :class:`Engine` today;
a Kubernetes backend implements the same protocol later, so nothing above the
adapters knows which one runs the containers.
"""
