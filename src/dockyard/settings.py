"""Every knob Dockyard has, in one typed model.

Values come from the environment (prefix ``DOCKYARD_``, e.g. ``DOCKYARD_STATE_DIR``)
and fall back to the defaults documented on each field. Everything Dockyard writes to
disk lives under ``state_dir`` so that one directory is the whole installation.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HOST_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, Alpine
)


def _default_state_dir() -> Path:
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "dockyard"


def _default_share_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "dockyard"


def _default_ca_bundle() -> Path | None:
    for candidate in HOST_CA_BUNDLES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


class Settings(BaseSettings):
    """Dockyard's configuration. Read once per process with :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", extra="ignore")

    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Where Dockyard keeps its database, artifacts, logs and sockets.",
    )
    engine_url: str | None = Field(
        default=None,
        description="Docker Engine API URL to use. Unset: DOCKER_HOST, then the Docker "
        "socket, then a Podman socket, then start whichever engine is installed.",
    )
    engine_kind: str | None = Field(
        default=None,
        description="'docker' or 'podman': which engine to start when none answers.",
    )
    base_image: str = Field(
        default="python:3.11-slim",
        description="Base of every framework image. Used when it is present or can be "
        "pulled; otherwise Dockyard builds an equivalent offline with debootstrap.",
    )
    ca_bundle: Path | None = Field(
        default_factory=_default_ca_bundle,
        description="CA bundle handed to pip while building images (never kept in them).",
    )
    data_path: Literal["auto", "direct", "published"] = Field(
        default="auto",
        description="How the load balancer reaches replicas: 'direct' on their container "
        "addresses, 'published' through ports the engine publishes on the loopback. "
        "'auto': direct where this host routes to the engine's bridge (a rootful engine "
        "on this Linux host), published elsewhere (Docker Desktop, Podman machine, "
        "rootless or remote engines).",
    )
    backend: Literal["local", "swarm", "kubernetes"] = Field(
        default="local",
        description="Where tasks run: 'local' on the one engine; 'swarm' as services of "
        "the Docker swarm whose manager is the engine (`dockyard cluster init`); "
        "'kubernetes' on a Kubernetes cluster, through `kubeconfig` (`dockyard export "
        "kubernetes` works whatever the backend).",
    )
    lb_port: int = Field(default=9080, description="Port of the load balancer's front end.")
    lb_host: str = Field(default="127.0.0.1", description="Address the load balancer binds.")
    lb_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="HAProxy's threads. Default: a quarter of the cores, at least 1 (it "
        "shares them with the model servers).",
    )
    registry_port: int = Field(
        default=5000,
        description="Port of the image registry's front end on 127.0.0.1: image "
        "references into Dockyard's registry start with 127.0.0.1:<this port>.",
    )
    aws_port: int = Field(
        default=9090,
        description="Port of the AWS-protocol front on 127.0.0.1: boto3 and the AWS CLI "
        "reach sagemaker, sagemaker-runtime, ecs, ecr and application-autoscaling with "
        "endpoint_url http://127.0.0.1:<this port>.",
    )
    credentials_port: int = Field(
        default=51679,
        description="Port of the task-role credentials endpoint on 169.254.170.2 (the "
        "address ECS serves them on; containers reach it through their gateway). A "
        "taken port falls back to a free one; 0 always picks a free one.",
    )
    console_port: int = Field(
        default=9070,
        description="Port of the web console on 127.0.0.1 (`dockyard console` prints its "
        "address with the token).",
    )
    share_dir: Path = Field(
        default_factory=_default_share_dir,
        description="Files installed once per user and shared by every state directory: "
        "the console's chart library (`dockyard setup` installs it here).",
    )
    registry_lifecycle_interval: float = Field(
        default=3600.0,
        description="Seconds between two runs of a repository's lifecycle policy.",
    )

    @property
    def advisories_dir(self) -> Path:
        """Vulnerability advisories (OSV JSON) for image scans, for air-gapped machines."""
        return self.state_dir / "advisories"

    api_tcp: str | None = Field(
        default=None,
        description="HOST:PORT for an extra TCP listener of the API (token required).",
    )
    api_token: str | None = Field(
        default=None, description="Token for the TCP listener; generated when unset."
    )
    reconcile_interval: float = Field(
        default=1.0,
        description="Seconds between two reconciles of every resource, whatever happened "
        "(resources that are converging are looked at again sooner).",
    )
    reconcile_workers: int = Field(
        default=8, description="Resources the control loop reconciles side by side."
    )

    kubeconfig: Path | None = Field(
        default=None,
        description="Kubeconfig of the cluster Dockyard applies manifests to. Unset (the "
        "default): Dockyard never talks to a cluster.",
    )
    kube_context: str | None = Field(
        default=None, description="Context of `kubeconfig` to use (unset: its current one)."
    )
    kube_namespace: str = Field(
        default="default",
        description="Namespace of rendered endpoints, services and tasks (each training "
        "job gets its own, so its hosts resolve as algo-1..N).",
    )

    # Derived locations: one place that says where each thing lives.
    @property
    def db_path(self) -> Path:
        return self.state_dir / "dockyard.db"

    @property
    def api_socket(self) -> Path:
        return self.state_dir / "run" / "api.sock"

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
