"""Distribution's configuration file, rendered from what Dockyard decides.

The file is written as JSON, which is YAML too (Distribution parses it with a YAML
1.1 parser that reads JSON flow style): no YAML library is needed and no value can
be mis-quoted (a path or a URL with a colon, a port that looks like a number).

Two renderings exist for one installation: the normal one, and the *read-only* one
used while garbage is collected (``storage.maintenance.readonly``): Distribution's
garbage collector is not safe against concurrent pushes, so writes are refused while
it runs and pulls go on.

Reference: https://distribution.github.io/distribution/about/configuration/
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class UploadPurging:
    """Removal of abandoned uploads (a push cut off half-way leaves its data behind)."""

    enabled: bool = True
    age: str = "168h"  # uploads older than this are purged...
    interval: str = "24h"  # ...checked this often (and once at start-up)


@dataclass(frozen=True)
class Notifications:
    """Where Distribution POSTs its push/pull/delete events (manifests only)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: str = "2s"
    threshold: int = 5
    backoff: str = "1s"


@dataclass(frozen=True)
class RegistryConfig:
    """Everything that varies in the rendered file."""

    data_dir: Path
    port: int
    http_secret: str
    token_realm: str
    root_cert_bundle: Path
    service: str
    issuer: str
    read_only: bool = False
    notifications: Notifications | None = None
    upload_purging: UploadPurging = field(default_factory=UploadPurging)
    log_level: str = "info"


def render_config(config: RegistryConfig) -> str:
    """The configuration file's text (YAML, written as JSON)."""
    purging = config.upload_purging
    document: dict[str, Any] = {
        "version": "0.1",
        "log": {
            "level": config.log_level,
            "formatter": "text",
            "fields": {"service": "registry"},
        },
        "storage": {
            "filesystem": {"rootdirectory": str(config.data_dir)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {
                "uploadpurging": {
                    "enabled": purging.enabled,
                    "age": purging.age,
                    "interval": purging.interval,
                    "dryrun": False,
                },
                "readonly": {"enabled": config.read_only},
            },
        },
        "http": {
            "addr": f"127.0.0.1:{config.port}",
            "secret": config.http_secret,
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {
            "token": {
                "realm": config.token_realm,
                "service": config.service,
                "issuer": config.issuer,
                "rootcertbundle": str(config.root_cert_bundle),
            }
        },
    }
    if config.notifications is not None:
        document["notifications"] = {"endpoints": [_endpoint(config.notifications)]}
    return json.dumps(document, indent=2) + "\n"


def _endpoint(notify: Notifications) -> dict[str, Any]:
    return {
        "name": "dockyard",
        "url": notify.url,
        "headers": {name: [value] for name, value in notify.headers.items()},
        "timeout": notify.timeout,
        "threshold": notify.threshold,
        "backoff": notify.backoff,
        # Blob events are one per layer and say nothing a manifest event does not.
        "ignore": {"mediatypes": ["application/octet-stream"]},
    }
