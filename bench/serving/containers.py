"""Peer images built through Dockyard's BYOC path, run by the engine on a published port.

A peer image is the peer's own virtual environment (the one the benchmark installed
on the host: cp311 wheels, which the base image's Python 3.11 runs) copied to
``/opt/venv`` on Dockyard's locally built base image, plus its app directory in
``/opt/app``; the entry point is the same command as on the host, with ``0.0.0.0`` and
port 8080. Nothing can be pulled on these machines, so a peer's own image recipe
(``bentoml containerize``, ``mlflow models build-docker``, the SageMaker container)
cannot be used as is; this is the same server, environment and command in an image.
The context goes through ``dockyard build DIR`` (a Dockerfile not FROM a framework
image: BYOC), and is rebuilt only when its inputs change (a digest in the tag).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker

from .peers import Peer

BASE_IMAGE = "dockyard/base:py3.11"
IMAGE_VENV = "/opt/venv"
IMAGE_APP = "/opt/app"
CONTAINER_PORT = 8080


def _link_tree(src: Path, dest: Path, host_venv: Path) -> None:
    """Copy ``src`` to ``dest`` by hard links, except the interpreter links and scripts.

    ``bin/python*`` (links to the host's interpreter) are left out: the image makes
    them point at its own. Scripts in ``bin/`` get their ``#!`` line rewritten from the
    host venv to ``/opt/venv``.
    """
    for directory, dirnames, filenames in os.walk(src):
        rel = Path(directory).relative_to(src)
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            source = Path(directory) / name
            target = dest / rel / name
            if rel == Path("bin") and name.startswith("python"):
                continue
            if rel == Path("bin"):
                data = source.read_bytes()
                old = f"#!{host_venv}/bin/".encode()
                if data.startswith(old):
                    target.write_bytes(data.replace(old, f"#!{IMAGE_VENV}/bin/".encode(), 1))
                    target.chmod(0o755)
                    continue
            if source.is_symlink() and not source.exists():
                continue
            try:
                os.link(source, target, follow_symlinks=True)
            except OSError:
                shutil.copy2(source, target)


def dockerfile(command: list[str]) -> str:
    quoted = ", ".join(f'"{part}"' for part in command)
    return f"""\
FROM {BASE_IMAGE}
COPY venv/ {IMAGE_VENV}/
RUN mkdir -p {IMAGE_VENV}/bin && ln -s /usr/bin/python3 {IMAGE_VENV}/bin/python3 \\
 && ln -s python3 {IMAGE_VENV}/bin/python \\
 && ln -s python3 {IMAGE_VENV}/bin/python3.11 \\
 && printf 'home = /usr/bin\\ninclude-system-site-packages = false\\nversion = 3.11\\n' \\
    > {IMAGE_VENV}/pyvenv.cfg
COPY app/ {IMAGE_APP}/
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PATH={IMAGE_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR {IMAGE_APP}
EXPOSE {CONTAINER_PORT}
ENTRYPOINT [{quoted}]
"""


def stage_context(
    work: Path, name: str, venv: Path | None, app: Path, command: list[str]
) -> tuple[Path, str]:
    """The build directory for ``name`` and a digest of what went into it."""
    ctx = work / "images" / name
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    if venv is not None:
        _link_tree(venv, ctx / "venv", venv)
    else:
        (ctx / "venv").mkdir()
    shutil.copytree(app, ctx / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pid"))
    (ctx / "Dockerfile").write_text(dockerfile(command))
    (ctx / ".dockerignore").write_text("**/__pycache__\n")
    digest = hashlib.sha256()
    digest.update((ctx / "Dockerfile").read_bytes())
    marker = venv / ".bench-requirements" if venv is not None else None
    if marker is not None and marker.is_file():
        digest.update(marker.read_bytes())
    for path in sorted((ctx / "app").rglob("*")):
        # inputs only: what a peer's prepare step writes (mlflow_model/) carries timestamps
        if path.is_file() and "mlflow_model" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    return ctx, digest.hexdigest()[:12]


def build_image(
    client: docker.DockerClient,
    dockyard: str,
    env: Mapping[str, str],
    ctx: Path,
    repository: str,
    digest: str,
    log: Path,
) -> tuple[str, float | None]:
    """``dockyard build CTX --tag REPO:DIGEST`` unless the engine has it; (ref, seconds)."""
    ref = f"{repository}:{digest}"
    try:
        client.images.get(ref)
        return ref, None
    except docker.errors.ImageNotFound:
        pass
    began = time.monotonic()
    with log.open("ab") as out:
        done = subprocess.run(
            [dockyard, "build", str(ctx), "--tag", ref],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"`dockyard build` of {repository} failed; see {log}")
    return ref, round(time.monotonic() - began, 1)


def run_published(
    client: docker.DockerClient, image: str, name: str, env: Mapping[str, str] | None = None
) -> tuple[Any, int]:
    """``docker run -d -p 127.0.0.1::8080 IMAGE``; (container, host port)."""
    remove(client, name)
    container = client.containers.run(
        image,
        name=name,
        detach=True,
        environment=dict(env or {}),
        ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)},
        labels={"dockyard-bench": "serving"},
    )
    for _ in range(100):
        container.reload()
        bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{CONTAINER_PORT}/tcp")
        if bound:
            return container, int(bound[0]["HostPort"])
        time.sleep(0.05)
    raise RuntimeError(f"{name} has no published port")


def remove(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True)


def peak_mib(container: Any) -> float | None:
    """The container's peak memory (cgroup v1 ``max_usage``, else ``usage``), MiB."""
    try:
        stats = container.stats(stream=False)
    except docker.errors.APIError:
        return None
    memory = stats.get("memory_stats") or {}
    value = memory.get("max_usage") or memory.get("usage")
    return round(value / 2**20, 1) if value else None


def peer_command(peer: Peer) -> list[str]:
    """The peer's command inside its image (flask: gunicorn on the port; no nginx there)."""
    sock = f"0.0.0.0:{CONTAINER_PORT}"
    return peer.render(f"{IMAGE_VENV}/bin/python", IMAGE_APP, "0.0.0.0", CONTAINER_PORT, sock)
