"""A resource's manifests in a stable order, and as multi-document YAML.

Objects are ordered so that ``kubectl apply -f`` (which applies in file order) creates
what others refer to first — namespaces, then service accounts, secrets, config maps
and claims, then Services and the workloads, autoscalers last — and by name within a
kind; the same records always give the same text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from dockyard.kube import KUBERNETES_VERSION

KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "Job",
    "HorizontalPodAutoscaler",
)


def ordered(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``manifests`` in apply order, one object per (kind, namespace, name)."""
    unique: dict[tuple[int, str, str, str], dict[str, Any]] = {}
    for manifest in manifests:
        kind = manifest["kind"]
        meta = manifest["metadata"]
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        unique.setdefault((rank, kind, meta.get("namespace", ""), meta["name"]), manifest)
    return [unique[key] for key in sorted(unique)]


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no types
    """Block style; multi-line strings (config files, scripts) as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(manifests: Iterable[dict[str, Any]], *, header: str = "") -> str:
    """Multi-document YAML, one document per object, fields in the renderer's order."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    lines.append(f"# Kubernetes {KUBERNETES_VERSION}, rendered by Dockyard")
    documents = [
        yaml.dump(m, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for m in manifests
    ]
    return "\n".join(lines) + "\n---\n" + "---\n".join(documents)
