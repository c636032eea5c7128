"""Dockyard's side: its model server as a host process, and endpoints on its own daemon.

End to end runs on the benchmark's **own daemon and HAProxy** (the control-plane
benchmark's :class:`EngineStack`: state under ``--state-dir``, HAProxy on a free port)
on the engine ``dockyard setup`` prepared, so neither the measurement nor the
installation's endpoints disturb each other. Endpoints are deployed with the CLI, as a
user deploys them: ``dockyard deploy NAME --framework sklearn --model-data
model.tar.gz`` (1 replica, ``SAGEMAKER_MODEL_SERVER_WORKERS=2``), and called at their
``Url`` (``http://127.0.0.1:PORT/endpoints/NAME/invocations``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from control_plane_stack import EngineStack  # noqa: E402

from dockyard.adapters.engine import connect  # noqa: E402
from dockyard.settings import Settings  # noqa: E402

WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS=2"
BATCH_FLAGS = ("--batch-size", "32", "--batch-wait-ms", "0")


@dataclass
class Deployed:
    """An endpoint the benchmark deployed, or why it could not."""

    name: str
    url: str | None = None
    seconds: float | None = None
    error: str | None = None
    flags: list[str] = field(default_factory=list)


def open_stack(state_dir: Path, engine_url: str | None) -> EngineStack:
    url = engine_url or connect(Settings(), start=False).base_url
    # the daemon's other listeners on free ports, not the installation's defaults
    for variable in ("DOCKYARD_REGISTRY_PORT", "DOCKYARD_AWS_PORT"):
        os.environ[variable] = str(_free_port())
    stack = EngineStack.on_engine(state_dir, url)
    stack.client()  # starts the daemon
    return stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dockyard_bin() -> str:
    return str(Path(sys.executable).with_name("dockyard"))


def deploy(
    stack: EngineStack,
    name: str,
    args: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
) -> Deployed:
    """``dockyard deploy NAME ARGS`` against the stack; the endpoint's Url, or the error."""
    command = [dockyard_bin(), "deploy", name, "--replicas", "1", "--env", WORKERS_ENV, *args]
    done = subprocess.run(
        command,
        env={**stack.env, **(env or {}), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        text = (done.stderr.strip() or done.stdout.strip()).splitlines()
        reason = next((line for line in text if "No such option" in line), None)
        if reason:
            reason = reason.strip(" │|")
        return Deployed(name, error=(reason or " ".join(text[-3:]))[:300], flags=args)
    endpoint: dict[str, Any] = stack.client().request("GET", f"/v1/endpoints/{name}")
    if endpoint.get("EndpointStatus") != "InService":
        return Deployed(name, error=f"status {endpoint.get('EndpointStatus')}", flags=args)
    return Deployed(name, url=str(endpoint["Url"]), flags=args)


def delete(stack: EngineStack, name: str) -> None:
    subprocess.run(
        [dockyard_bin(), "delete", name],
        env=stack.env,
        capture_output=True,
        check=False,
        timeout=300,
    )


def replica_containers(engine_client: Any, endpoint: str) -> list[Any]:
    """The engine's containers of ``endpoint`` (replicas are named ``NAME-<variant>-…``)."""
    return [
        c
        for c in engine_client.containers.list()
        if c.name.startswith(f"{endpoint}-") and c.labels.get("dockyard.managed") == "1"
    ]
