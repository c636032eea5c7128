"""Kubernetes names, labels and annotations for Dockyard's resources.

Dockyard's names follow AWS's rules (ECS allows capitals and ``_``, up to 255
characters; SageMaker up to 63 with capitals); Kubernetes wants lowercase DNS labels
for object names and a narrower alphabet for label values. A name that is already
valid is kept as it is; any other is lowercased, its other characters become ``-``,
and a short digest of the original is appended, so two names that differ only in
case never collide. The exact Dockyard name always travels in the
:data:`RESOURCE_ANNOTATION`, which the read-back uses to map objects to records.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"
MANAGER = "dockyard"
KIND_LABEL = "dockyard.io/kind"
RESOURCE_LABEL = "dockyard.io/resource"
VARIANT_LABEL = "dockyard.io/variant"
#: ``endpoint/NAME``, ``service/NAME``, ``training-job/NAME``, ``task/ID``: the record
RESOURCE_ANNOTATION = "dockyard.io/resource"
REVISION_ANNOTATION = "dockyard.io/task-definition"
SOURCE_ANNOTATION = "dockyard.io/source"
NOT_RENDERED_ANNOTATION = "dockyard.io/not-rendered"

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_DIGEST_LENGTH = 6


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_LENGTH]


def dns_label(*parts: str, max_length: int = DNS_LABEL_MAX) -> str:
    """``parts`` joined by ``-`` as an RFC 1035 label (Service names need one; every
    other object name accepts it): ``[a-z]([-a-z0-9]*[a-z0-9])?``, at most 63."""
    joined = "-".join(parts)
    if len(joined) <= max_length and _DNS_LABEL.fullmatch(joined):
        return joined
    cleaned = re.sub(r"[^a-z0-9-]+", "-", joined.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"x-{cleaned}".rstrip("-")
    head = cleaned[: max_length - _DIGEST_LENGTH - 1].rstrip("-")
    return f"{head}-{_digest(joined)}"


def label_value(text: str) -> str:
    """``text`` as a label value (63 characters of ``[-A-Za-z0-9_.]``, alphanumeric ends)."""
    if len(text) <= DNS_LABEL_MAX and _LABEL_VALUE.fullmatch(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_.")
    head = cleaned[: DNS_LABEL_MAX - _DIGEST_LENGTH - 1].strip("-_.")
    return f"{head}-{_digest(text)}" if head else _digest(text)


def resource_labels(kind: str, name: str) -> dict[str, str]:
    """The labels every object of one Dockyard resource carries (and selects on)."""
    return {
        MANAGED_BY_LABEL: MANAGER,
        KIND_LABEL: kind,
        RESOURCE_LABEL: label_value(name),
    }


def metadata(
    name: str,
    namespace: str,
    labels: dict[str, str],
    resource: str,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An object's ``metadata``: its name, namespace, labels and the record it renders."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": dict(sorted(labels.items())),
        "annotations": dict(sorted({RESOURCE_ANNOTATION: resource, **(annotations or {})}.items())),
    }
