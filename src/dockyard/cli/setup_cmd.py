"""`dockyard setup`: make this machine ready, idempotently.

Setup runs locally rather than through the daemon because it installs what the
daemon itself needs (an engine, HAProxy). Each step reports what it did, and a
second run finds everything in place and takes a few seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import typer

from dockyard.cli.output import console
from dockyard.settings import Settings, get_settings


def setup(
    podman: bool = typer.Option(False, "--podman", help="Also install Podman (second engine)."),
    rebuild_base: bool = typer.Option(
        False, "--rebuild-base", help="Rebuild the base image even when it exists."
    ),
    browser: bool = typer.Option(
        False, "--browser", help="Also install Chromium and its driver (console browser tests)."
    ),
    frameworks: list[str] = typer.Option(
        ["sklearn"], "--framework", help="Framework images to prepare (repeatable)."
    ),
) -> None:
    """Install what is missing, start the engine, prepare base and framework images."""
    from dockyard.adapters.baseimage import ensure_base_image
    from dockyard.adapters.engine import connect
    from dockyard.adapters.host_packages import apt_host, ensure_host_packages
    from dockyard.errors import EngineUnavailable
    from dockyard.server.builds import ensure_framework_image

    settings = get_settings()
    started = time.monotonic()

    def step(message: str) -> None:
        console.print(f"  [dim]{message}[/]")

    want = {"haproxy", "docker-registry", "skopeo"}  # the load balancer; the image registry
    want.add("catatonit")  # holds shared network namespaces (awsvpc tasks, training hosts)
    try:
        connect(settings, start=False)
    except EngineUnavailable:
        want.add("docker.io")  # no engine answers: install one Dockyard can start
    if apt_host() and os.geteuid() == 0:
        want.add("debootstrap")  # the offline base image, for when nothing can be pulled
    if podman:
        want.add("podman")
    if browser:
        want |= {"chromium", "chromium-driver"}
    with console.status("Checking host packages…"):
        installed = ensure_host_packages(want, progress=step)
    summary = f"{', '.join(installed)} installed" if installed else "present"
    console.print(f"[green]✓[/] host packages: {summary}")
    if podman:
        _mark_registry_for_podman(settings, step)
    with console.status("Connecting to the container engine…"):
        engine = connect(settings, progress=step)
    console.print(f"[green]✓[/] container engine: {engine.kind}")
    with console.status("Preparing the base image…"):
        base = ensure_base_image(engine, settings, rebuild=rebuild_base, progress=step)
    console.print(f"[green]✓[/] base image: {base}")
    for framework in frameworks:
        with console.status(f"Preparing the {framework} framework image…"):
            ref = ensure_framework_image(engine, settings, framework, progress=step)
        console.print(f"[green]✓[/] framework image: {ref}")
    _chart_library(settings)
    console.print(
        f"[bold]Ready[/] in {time.monotonic() - started:.1f} s. State: {settings.state_dir}"
    )


def _mark_registry_for_podman(settings: Settings, step: Callable[[str], None]) -> None:
    """Podman reaches plain-HTTP registries only where registries.conf says so."""
    from dockyard.adapters.engine.registries_conf import drop_in_dir, write_registry_drop_in

    port = settings.registry_port
    written = write_registry_drop_in(settings)
    if written is not None:
        console.print(f"[green]✓[/] Podman: registry 127.0.0.1:{port} is plain HTTP ({written})")
        return
    step(
        f"could not write to {drop_in_dir()}: `podman pull` by hand needs --tls-verify=false "
        f"for 127.0.0.1:{port} (pulls through Dockyard are unaffected)"
    )


def _chart_library(settings: Settings) -> None:
    """The console's charts; without them the console still works, so a failure warns."""
    from dockyard.adapters.chart_library import VERSION, ensure_chart_library, install_dir
    from dockyard.adapters.host_packages import ensure_host_packages
    from dockyard.errors import DockyardError

    try:
        with console.status("Installing the console's chart library…"):
            ensure_host_packages({"npm"})
            installed = ensure_chart_library(settings.share_dir)
    except DockyardError as error:
        console.print(f"[yellow]![/] console charts unavailable: {error}")
        return
    where = install_dir(settings.share_dir)
    console.print(
        f"[green]✓[/] console chart library: uPlot {VERSION} "
        f"({'installed in' if installed else 'present in'} {where})"
    )
