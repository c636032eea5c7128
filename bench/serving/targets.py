"""Everything that gets measured, started per comparison and stopped after it.

* ``server`` (server to server): each server a host process on 127.0.0.1, nothing in
  front — Dockyard's model server (``python -m dockyard.runtime serve``, the checkout's
  code), every peer, and the constant server (the ceiling of that path).
* ``e2e`` (end to end): Dockyard's endpoint URL through its HAProxy (with and without
  adaptive batching), every peer in a container built through ``dockyard build`` and run
  by the engine with a published port, and the constant image both through the same
  HAProxy (as an endpoint) and on a published port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker

from . import containers, cpu, dockyard_side, peers, venvs
from .load import Request
from .model import Model
from .procs import HostServer, peak_rss_mib, wait_ready

CONST_SERVER = Path(__file__).with_name("const_server.py")
DOCKYARD_REQUEST = Request("/invocations", "application/json", peers.ROW_JSON)
READY_TIMEOUT_S = 180.0


@dataclass
class Target:
    """One server under load: where to send what, how to read its memory, how to stop it."""

    name: str
    title: str
    kind: str  # dockyard | peer | ceiling
    base_url: str
    request: Request
    process_model: str
    rss: Callable[[], dict[str, float]]
    stop: Callable[[], None]
    info: dict[str, Any] = field(default_factory=dict)
    meter: cpu.Meter | None = None  # CPU per request, hop by hop (``cpu.py``)


@dataclass
class Context:
    """What every group needs: paths, the model, the selected peers, what failed."""

    work: Path
    cache: Path
    model: Model
    peer_names: list[str]
    state_dir: Path
    engine_url: str | None
    batching: bool
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    builds: dict[str, float | None] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        path = self.work / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path


# ── server to server ─────────────────────────────────────────────────────────────


def _host_target(
    ctx: Context,
    name: str,
    title: str,
    kind: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    ping: str,
    request: Request,
    process_model: str,
    extra: list[HostServer] | None = None,
) -> Target | None:
    server = HostServer.start(name, command, ctx.log(f"host-{name}"), env)
    group = [*(extra or []), server]

    def stop() -> None:
        for member in reversed(group):
            member.stop()

    try:
        seconds = wait_ready(f"http://127.0.0.1:{port}{ping}", READY_TIMEOUT_S, server.process)
    except RuntimeError as exc:
        stop()
        ctx.failures[f"server/{name}"] = f"{exc}; see {server.log}"
        print(f"  ✗ {name}: {exc}", flush=True)
        return None

    def rss() -> dict[str, float]:
        merged: dict[str, float] = {}
        for member in group:
            merged.update(member.rss())
        return merged

    print(f"  ✓ {name} on :{port} in {seconds:.1f} s", flush=True)
    trees = [cpu.tree_reader(member.process.pid) for member in group]
    return Target(
        name,
        title,
        kind,
        f"http://127.0.0.1:{port}",
        request,
        process_model,
        rss,
        stop,
        {"ready_s": round(seconds, 2)},
        cpu.Meter({"server": lambda: sum(read() for read in trees)}),
    )


def _peer_app(ctx: Context, peer: peers.Peer, venv: Path, where: str) -> Path:
    app = ctx.work / "apps" / f"{peer.name}-{where}"
    shutil.rmtree(app, ignore_errors=True)
    peers.write_app(peer, app, ctx.model.joblib_path)
    if peer.prepare:
        subprocess.run(
            [str(venv / "bin" / "python"), str(app / peer.prepare), str(app)],
            check=True,
            capture_output=True,
            env=base_env(),
        )
    return app


def peer_venv(ctx: Context, peer: peers.Peer) -> Path | None:
    try:
        venv = venvs.ensure_venv(peer, ctx.cache / "peers", ctx.log(f"install-{peer.name}"))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        ctx.failures[f"install/{peer.name}"] = str(exc)
        print(f"  ✗ {peer.name}: {exc}", flush=True)
        return None
    if peer.name not in ctx.versions:
        ctx.versions[peer.name] = venvs.freeze(venv)
    return venv


def server_group(ctx: Context) -> list[Target]:
    targets: list[Target] = []
    env = base_env()
    port = free_port()
    dy_env = {
        **env,
        "SM_MODEL_DIR": str(ctx.model.directory),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(peers.WORKERS),
    }
    target = _host_target(
        ctx,
        "dockyard",
        "Dockyard model server (host process)",
        "dockyard",
        [sys.executable, "-m", "dockyard.runtime", "serve"],
        dy_env,
        port,
        "/ping",
        DOCKYARD_REQUEST,
        "supervisor + 2 worker processes (python -m dockyard.runtime serve)",
    )
    if target:
        targets.append(target)
    port = free_port()
    const_env = {
        **env,
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(peers.WORKERS),
        "BENCH_CONST_HOST": "127.0.0.1",
    }
    target = _host_target(
        ctx,
        "const-host",
        "constant (host process)",
        "ceiling",
        [sys.executable, str(CONST_SERVER)],
        const_env,
        port,
        "/ping",
        Request("/invocations", "application/json", peers.ROW_JSON),
        "2 asyncio/uvloop processes on SO_REUSEPORT",
    )
    if target:
        targets.append(target)
    for name in ctx.peer_names:
        peer = peers.PEERS[name]
        venv = peer_venv(ctx, peer)
        if venv is None:
            continue
        target = _start_host_peer(ctx, peer, venv, env)
        if target:
            targets.append(target)
    return targets


def _start_host_peer(
    ctx: Context, peer: peers.Peer, venv: Path, env: dict[str, str]
) -> Target | None:
    try:
        app = _peer_app(ctx, peer, venv, "host")
    except subprocess.CalledProcessError as exc:
        ctx.failures[f"server/{peer.name}"] = f"preparing the app failed: {exc.stderr!r}"[:400]
        return None
    port = free_port()
    python = str(venv / "bin" / "python")
    sock = f"127.0.0.1:{port}"
    extra: list[HostServer] = []
    process_model = peer.process_model
    if peer.name == "mlserver":
        (app / "settings.json").write_text(peers.mlserver_settings("127.0.0.1", port, free_port()))
    peer_env = {**env, **peer.env, "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"}
    if peer.name == "flask":
        nginx = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None
        )
        if nginx:
            sock = f"unix:{app}/gunicorn.sock"
            (app / "nginx-tmp").mkdir(exist_ok=True)
            conf = (app / "nginx.conf.in").read_text()
            (app / "nginx.conf").write_text(
                conf.format(app=app, sock=sock.removeprefix("unix:"), host="127.0.0.1", port=port)
            )
            extra.append(
                HostServer.start(
                    "nginx",
                    [nginx, "-c", str(app / "nginx.conf"), "-p", str(app), "-e", "stderr"],
                    ctx.log("host-flask-nginx"),
                    env,
                )
            )
        else:
            process_model = "gunicorn master + 2 gevent workers on the port (nginx not installed)"
            note = "flask (host): nginx is not installed on this machine; gunicorn serves the port"
            if note not in ctx.notes:
                ctx.notes.append(note)
    command = peer.render(python, app, "127.0.0.1", port, sock)
    return _host_target(
        ctx,
        peer.name,
        peer.title,
        "peer",
        command,
        peer_env,
        port,
        peer.ping,
        peer.request,
        process_model,
        extra,
    )


# ── end to end ───────────────────────────────────────────────────────────────────


def _endpoint_target(
    ctx: Context,
    stack: Any,
    engine: docker.DockerClient,
    name: str,
    title: str,
    kind: str,
    args: list[str],
    process_model: str,
) -> Target | None:
    endpoint = f"bench-serving-{name}"
    deployed = dockyard_side.deploy(stack, endpoint, args, ctx.log("e2e-deploy"))
    if deployed.url is None:
        dockyard_side.delete(stack, endpoint)
        ctx.failures[f"e2e/{name}"] = deployed.error or "deploy failed"
        print(f"  ✗ {name}: {deployed.error}", flush=True)
        return None
    base, path = _split(deployed.url)

    def rss() -> dict[str, float]:
        return {
            c.name: value
            for c in dockyard_side.replica_containers(engine, endpoint)
            if (value := containers.peak_mib(c)) is not None
        }

    def replicas_cpu_s() -> float:
        replicas = dockyard_side.replica_containers(engine, endpoint)
        return sum(cpu.container_reader(c)() for c in replicas)

    print(f"  ✓ {name}: {deployed.url}", flush=True)
    body = peers.ROW_JSON
    return Target(
        name,
        title,
        kind,
        base,
        Request(path, "application/json", body),
        process_model,
        rss,
        lambda: dockyard_side.delete(stack, endpoint),
        {"url": deployed.url, "deploy_args": args},
        cpu.Meter(
            {
                "balancer": cpu.haproxy_reader(stack.settings.state_dir),
                "server": replicas_cpu_s,
            }
        ),
    )


def _container_target(
    ctx: Context,
    engine: docker.DockerClient,
    name: str,
    title: str,
    kind: str,
    image: str,
    ping: str,
    request: Request,
    process_model: str,
    env: dict[str, str] | None = None,
) -> Target | None:
    cname = f"bench-serving-{name}"
    try:
        container, port = containers.run_published(engine, image, cname, env)
        seconds = wait_ready(f"http://127.0.0.1:{port}{ping}", READY_TIMEOUT_S)
    except Exception as exc:
        logs = ""
        with contextlib.suppress(docker.errors.DockerException):
            logs = engine.containers.get(cname).logs(tail=5).decode(errors="replace")
        containers.remove(engine, cname)
        ctx.failures[f"e2e/{name}"] = f"{exc} {logs}"[:500]
        print(f"  ✗ {name}: {exc}", flush=True)
        return None
    print(f"  ✓ {name} on :{port} in {seconds:.1f} s", flush=True)

    def rss() -> dict[str, float]:
        value = containers.peak_mib(container)
        return {cname: value} if value is not None else {}

    return Target(
        name,
        title,
        kind,
        f"http://127.0.0.1:{port}",
        request,
        process_model,
        rss,
        lambda: containers.remove(engine, cname),
        {"image": image, "ready_s": round(seconds, 2)},
        cpu.Meter(
            {"proxy": cpu.userland_proxy_reader(port), "server": cpu.container_reader(container)}
        ),
    )


def _const_image(ctx: Context, stack: Any, engine: docker.DockerClient) -> str | None:
    """The constant server in a tiny BYOC image (uvloop from this interpreter's site)."""
    app = ctx.work / "apps" / "const"
    shutil.rmtree(app, ignore_errors=True)
    app.mkdir(parents=True)
    shutil.copyfile(CONST_SERVER, app / "const_server.py")
    import uvloop  # noqa: PLC0415

    site = ctx.work / "apps" / "const-site"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(
        Path(uvloop.__file__).parent,
        site / "lib" / "python3.11" / "site-packages" / "uvloop",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    command = [f"{containers.IMAGE_VENV}/bin/python", f"{containers.IMAGE_APP}/const_server.py"]
    ctx_dir, digest = containers.stage_context(ctx.work, "const", site, app, command)
    return _build(ctx, stack, engine, "const", ctx_dir, digest)


def _build(
    ctx: Context, stack: Any, engine: docker.DockerClient, name: str, ctx_dir: Path, digest: str
) -> str | None:
    try:
        ref, seconds = containers.build_image(
            engine,
            dockyard_side.dockyard_bin(),
            stack.env,
            ctx_dir,
            f"bench-serving-{name}",
            digest,
            ctx.log(f"build-{name}"),
        )
    except RuntimeError as exc:
        ctx.failures[f"build/{name}"] = str(exc)
        print(f"  ✗ build {name}: {exc}", flush=True)
        return None
    ctx.builds[name] = seconds
    print(f"  image {ref}" + (f" built in {seconds} s" if seconds else " (cached)"), flush=True)
    return ref


def e2e_group(ctx: Context, stack: Any) -> list[Target]:
    engine = docker.DockerClient(base_url=stack.settings.engine_url)
    targets: list[Target] = []
    tarball = str(ctx.model.tarball)
    target = _endpoint_target(
        ctx,
        stack,
        engine,
        "dockyard",
        "Dockyard endpoint (HAProxy → replica)",
        "dockyard",
        ["--framework", "sklearn", "--model-data", tarball],
        "1 replica: supervisor + 2 workers; HAProxy in front",
    )
    if target:
        targets.append(target)
    if ctx.batching:
        target = _endpoint_target(
            ctx,
            stack,
            engine,
            "dockyard-batch",
            "Dockyard endpoint, adaptive batching",
            "dockyard",
            ["--framework", "sklearn", "--model-data", tarball, *dockyard_side.BATCH_FLAGS],
            "as above, --batch-size 32 --batch-wait-ms 0 (a batch goes when the handler is free)",
        )
        if target:
            targets.append(target)
    const = _const_image(ctx, stack, engine)
    if const:
        target = _endpoint_target(
            ctx,
            stack,
            engine,
            "const-lb",
            "constant through HAProxy (endpoint)",
            "ceiling",
            ["--image", const],
            "the constant image as an endpoint, 2 processes",
        )
        if target:
            targets.append(target)
        target = _container_target(
            ctx,
            engine,
            "const-port",
            "constant on a published port",
            "ceiling",
            const,
            "/ping",
            Request("/invocations", "application/json", peers.ROW_JSON),
            "the constant image, 2 processes",
            {"SAGEMAKER_MODEL_SERVER_WORKERS": str(peers.WORKERS)},
        )
        if target:
            targets.append(target)
    for name in ctx.peer_names:
        peer = peers.PEERS[name]
        venv = peer_venv(ctx, peer)
        if venv is None:
            continue
        try:
            app = _peer_app(ctx, peer, venv, "image")
        except subprocess.CalledProcessError as exc:
            ctx.failures[f"e2e/{name}"] = f"preparing the app failed: {exc.stderr!r}"[:400]
            continue
        process_model = peer.process_model
        if name == "mlserver":
            settings = peers.mlserver_settings("0.0.0.0", containers.CONTAINER_PORT, 8081)
            (app / "settings.json").write_text(settings)
        if name == "flask":
            process_model = "gunicorn master + 2 gevent workers on the port (no nginx in the image)"
        command = containers.peer_command(peer)
        ctx_dir, digest = containers.stage_context(ctx.work, name, venv, app, command)
        image = _build(ctx, stack, engine, name, ctx_dir, digest)
        shutil.rmtree(ctx_dir, ignore_errors=True)
        if image is None:
            continue
        target = _container_target(
            ctx,
            engine,
            name,
            peer.title,
            "peer",
            image,
            peer.ping,
            peer.request,
            process_model,
            peer.env,
        )
        if target:
            targets.append(target)
    return targets


def host_rss(pid: int) -> dict[str, float]:
    return peak_rss_mib([pid])
