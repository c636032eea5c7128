"""`dockyard build`: package a model directory into an inference image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api, input_arg
from dockyard.cli.output import console, human_bytes


def build(
    model_dir: Path = typer.Argument(
        ..., exists=True, file_okay=False, resolve_path=True, help="Model directory."
    ),
    tag: str = typer.Option(..., "--tag", "-t", help="Image name, NAME:TAG."),
    framework: str | None = typer.Option(
        None, "--framework", help="Framework image to build on (default: detected)."
    ),
    model_data: str | None = typer.Option(
        None,
        "--model-data",
        help="Model artifact (model.tar.gz) to package instead of one in the directory: "
        "a path, file:///absolute/path, s3://bucket/key in the artifact store, "
        "or training-job:NAME.",
    ),
) -> None:
    """Build an image that obeys the SageMaker inference contract.

    Three ways, as on AWS: a directory with a model artifact (and optionally
    inference.py and requirements.txt) builds on a pre-built framework image; a
    Dockerfile FROM a Dockyard framework image extends it; any other Dockerfile is
    built as your own container.
    """
    client = api()
    body = {
        "ModelDir": str(model_dir),
        "Tag": tag,
        "Framework": framework,
        "ModelData": input_arg(model_data) if model_data is not None else None,
    }
    result: dict[str, Any] = {}
    with console.status(f"Building {tag}…") as status:
        for item in client.stream("POST", "/v1/builds", json=body):
            if "progress" in item:
                line = str(item["progress"]).rstrip()
                if line:
                    status.update(f"Building {tag}… [dim]{line[:90]}[/]")
                    if line.startswith("Step ") or line.startswith("==>"):
                        console.print(f"  [dim]{line}[/]")
            if "result" in item:
                result = item["result"]
    for note in result.get("Notes") or []:
        console.print(f"  [yellow]note:[/] {note}")
    cached = result.get("StepsCached")
    if cached is not None:
        console.print(f"  [dim]{cached}/{result.get('StepsTotal')} build steps from cache[/]")
    size = human_bytes(float(result.get("SizeBytes", 0)))
    console.print(
        f"[green]✓[/] built [bold]{result.get('Image')}[/] ({result.get('Mode')}) "
        f"in {float(result.get('Seconds', 0)):.1f} s — image size {size}"
    )
