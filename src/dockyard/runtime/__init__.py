"""Code that runs inside the containers Dockyard builds: ``serve`` and ``train``.

Framework images start ``python3 -m dockyard.runtime serve|train``. This package is copied
into images on its own (with ``dockyard/__init__.py``), so nothing here may import the
control plane or its dependencies: the standard library, numpy, uvicorn (with httptools
and uvloop when present) and, lazily, the user's framework are all there is.
"""
