"""An in-memory :class:`~dockyard.ports.cluster.Cluster` for the server glue's tests.

It keeps what was applied (each object by ``KIND/NAMESPACE/NAME``, the last body wins,
as server-side apply leaves one object per name) and answers ``observe`` from the
workload statuses a test sets, so a test plays the cluster's part: "the Deployment
has 2 available replicas", "the Job failed". ``delete_objects`` removes what it names
(an object it never had counts as gone, as a 404 does), and while ``refusal`` is set
every apply and delete raises it, as a cluster that refuses or cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import DockyardError
from dockyard.kube.status import DeploymentStatus, JobStatus, Observation


@dataclass
class FakeCluster:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    applies: list[list[str]] = field(default_factory=list)  # each apply's objects, in order
    deployments: dict[str, DeploymentStatus] = field(default_factory=dict)  # by name
    jobs: dict[str, JobStatus] = field(default_factory=dict)  # by name
    pod_phases: dict[str, dict[str, int]] = field(default_factory=dict)  # by resource
    observed: list[str] = field(default_factory=list)  # the resources asked about
    deletes: list[list[str]] = field(default_factory=list)  # each delete's objects, in order
    refusal: DockyardError | None = None  # raised by apply and delete_objects while set

    def apply(self, manifests: Sequence[dict[str, Any]]) -> list[str]:
        if self.refusal is not None:
            raise self.refusal
        applied = []
        for manifest in manifests:
            meta = manifest["metadata"]
            key = f"{manifest['kind']}/{meta.get('namespace', '')}/{meta['name']}"
            self.objects[key] = manifest
            applied.append(key)
        self.applies.append(applied)
        return applied

    def delete_objects(self, objects: Sequence[str]) -> list[str]:
        if self.refusal is not None:
            raise self.refusal
        for item in objects:
            self.objects.pop(item, None)
        self.deletes.append(list(objects))
        return list(objects)

    def observe(self, resource: str, manifests: Sequence[dict[str, Any]]) -> Observation:
        self.observed.append(resource)
        names = [(m["kind"], m["metadata"]["name"]) for m in manifests]
        return Observation(
            resource,
            tuple(
                self.deployments[n] for k, n in names if k == "Deployment" and n in self.deployments
            ),
            tuple(self.jobs[n] for k, n in names if k == "Job" and n in self.jobs),
            dict(self.pod_phases.get(resource, {})),
        )

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for key, m in self.objects.items() if key.startswith(f"{kind}/")]
