"""What users declare, validated: task definitions, services, training jobs, endpoints.

Pure data and rules, no I/O. User documents enter through the ``parse_*`` functions of
each module, which accept AWS's own JSON names and raise
:class:`~dockyard.errors.SpecError` with the JSON path of the offending field and a hint.
"""
