"""How the CLI shows things: tables for lists, a status line for long work, errors
without tracebacks. One place, so every command looks the same."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from dockyard.errors import DockyardError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(grid)


def print_error(error: DockyardError) -> None:
    where = error.field or error.resource
    prefix = f"[bold red]error[/]: [bold]{where}[/]: " if where else "[bold red]error[/]: "
    err_console.print(prefix + error.message, markup=True, soft_wrap=True)
    if error.hint:
        err_console.print(f"  [dim]hint:[/] {error.hint}", markup=True, soft_wrap=True)


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def ago(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    seconds = max(0, time.time() - timestamp)
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"
