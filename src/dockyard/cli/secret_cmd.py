"""`dockyard secret put / list / delete`: secrets for task definitions' ``valueFrom``.

A value is read from a file (``--value-file``) or from standard input, never from
the command line, where it would land in the shell's history and in ``ps``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, console, table
from dockyard.errors import SpecError

secret_app = typer.Typer(
    help="Secrets, encrypted at rest, injected into tasks by secrets[].valueFrom.",
    no_args_is_help=True,
)


@secret_app.command("put")
def put(
    name: str = typer.Argument(..., help="Secret name, e.g. prod/db-password."),
    value_file: Path | None = typer.Option(
        None, "--value-file", exists=True, dir_okay=False, help="Read the value from this file."
    ),
) -> None:
    """Store a secret (or replace its value); the value comes from a file or stdin."""
    if value_file is not None:
        value = value_file.read_text()
    elif sys.stdin.isatty():
        raise SpecError(
            "no value given",
            field="value",
            hint=f'pipe it in (`printf %s "$VALUE" | dockyard secret put {name}`) or '
            "pass --value-file FILE",
        )
    else:
        value = sys.stdin.read()
    answer = api().request("PUT", f"/v1/secrets/{name}", json={"SecretString": value})
    verb = "stored" if answer["Created"] else "replaced the value of"
    console.print(f"[green]✓[/] {verb} {answer['Name']}  ({answer['ARN']})")


@secret_app.command("list")
def list_secrets() -> None:
    """The stored secrets (names and dates; values are never shown)."""
    answer = api().request("GET", "/v1/secrets")
    rows = [
        [s["Name"], ago(s["CreatedDate"]), ago(s["LastChangedDate"])] for s in answer["SecretList"]
    ]
    table(None, ["NAME", "CREATED", "CHANGED"], rows)


@secret_app.command("delete")
def delete(name: str = typer.Argument(..., help="Secret name.")) -> None:
    """Delete a secret: tasks that start later and name it fail to start."""
    api().request("DELETE", f"/v1/secrets/{name}")
    console.print(f"deleted {name}")
