"""`dockyard cluster init / join / nodes`: run Dockyard's tasks on a Docker swarm.

``init`` and ``nodes`` go through the daemon (its engine becomes, or is, the swarm's
manager). ``join`` runs on the machine that joins: through its own daemon, or with
``--engine URL`` straight on its engine, since a worker needs no Dockyard daemon.
"""

from __future__ import annotations

from typing import Any

import typer

from dockyard.adapters.engine.swarm_cluster import SwarmCluster
from dockyard.cli.context import api
from dockyard.cli.output import console, table

cluster_app = typer.Typer(
    help="A Docker swarm to run tasks on more than one machine (DOCKYARD_BACKEND=swarm).",
    no_args_is_help=True,
)

ADVERTISE_HELP = "This machine's address the other nodes reach (e.g. its LAN address)."


@cluster_app.command("init")
def init(
    advertise_addr: str = typer.Option(..., "--advertise-addr", help=ADVERTISE_HELP),
    listen_addr: str | None = typer.Option(
        None, "--listen-addr", help="HOST:PORT the manager listens on (default ADDR:2377)."
    ),
) -> None:
    """Make the daemon's engine the manager of a new swarm; prints the join URL."""
    answer = api().request(
        "POST",
        "/v1/cluster/init",
        json={"AdvertiseAddr": advertise_addr, "ListenAddr": listen_addr},
    )
    console.print(f"[green]✓[/] swarm started on {advertise_addr}")
    console.print("On each other machine, run:")
    console.print(
        f"  dockyard cluster join {answer['JoinUrl']} --advertise-addr ADDR", soft_wrap=True
    )
    console.print("then start the daemon here with DOCKYARD_BACKEND=swarm.")


@cluster_app.command("join")
def join(
    url: str = typer.Argument(..., help="The join URL `dockyard cluster init` printed."),
    advertise_addr: str = typer.Option(..., "--advertise-addr", help=ADVERTISE_HELP),
    listen_addr: str | None = typer.Option(None, "--listen-addr", help="HOST:PORT to listen on."),
    engine: str | None = typer.Option(
        None, "--engine", help="Join this engine directly (unix:///… or tcp://…), no daemon."
    ),
) -> None:
    """Join this machine's engine to a swarm as a worker."""
    if engine is not None:
        cluster = SwarmCluster.at(engine)
        try:
            cluster.join(url, advertise_addr, listen_addr)
        finally:
            cluster.close()
    else:
        body = {"Url": url, "AdvertiseAddr": advertise_addr, "ListenAddr": listen_addr}
        api().request("POST", "/v1/cluster/join", json=body)
    console.print(f"[green]✓[/] joined the swarm as {advertise_addr}")


@cluster_app.command("nodes")
def nodes(
    join_url: bool = typer.Option(False, "--join-url", help="Also print the join URL."),
) -> None:
    """The swarm's nodes: role, state, address, capacity."""
    answer: dict[str, Any] = api().request("GET", "/v1/cluster/nodes")
    rows = [
        [
            n["ID"][:12],
            n["Hostname"],
            n["Addr"],
            n["Role"] + (" (leader)" if n["Leader"] else ""),
            n["State"],
            n["Availability"],
            f"{n['NanoCPUs'] / 1e9:g}",
            f"{n['MemoryBytes'] // (1024 * 1024)} MiB",
            n["EngineVersion"],
        ]
        for n in answer["Nodes"]
    ]
    headers = ["ID", "HOSTNAME", "ADDRESS", "ROLE", "STATE", "AVAILABILITY", "CPUS", "MEMORY"]
    table(None, [*headers, "ENGINE"], rows)
    if join_url:
        console.print(answer["JoinUrl"], soft_wrap=True)
