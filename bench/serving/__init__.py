"""The serving benchmark: Dockyard's model server and endpoint next to its peers.

See ``bench/README.md`` (section "Serving") and ``python -m bench.serving --help``.
"""
