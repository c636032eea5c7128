"""Dockyard: the AWS machine-learning container stack as software a team runs itself.

This top-level module stays import-free on purpose: the in-container runtime
(``dockyard.runtime``) is shipped into images on its own and must import without
any of the control plane's dependencies.
"""

__version__ = "0.1.0"
