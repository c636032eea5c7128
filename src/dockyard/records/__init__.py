"""What the control plane stores: one typed, immutable record per resource.

Records sit between the pure core and the server: they are made of ``control``'s
and ``spec``'s values (a :class:`~dockyard.control.task.Task`, a validated
:class:`~dockyard.spec.task_definition.TaskDefinition`…) plus what the server needs to
act again after a restart (where a replica answers, how its health checks went).
Every field is typed and documented here, so no module interprets another's loose
dictionary; the store (:mod:`dockyard.ports.store`) keeps them, and
:mod:`dockyard.records.codec` turns them into JSON and back.
"""
