"""The web console (see :mod:`dockyard.server.console.app`)."""
