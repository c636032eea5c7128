"""Registry commands, like ECR's: repositories, push/pull, images, lifecycle, scans, login.

Image names on the command line are ``REPOSITORY:TAG`` (``models/iris:v1``), as in
``docker push`` to ECR; the registry's host is added by the daemon.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api
from dockyard.cli.output import ago, console, human_bytes, table
from dockyard.errors import SpecError

repo_app = typer.Typer(help="Repositories of Dockyard's registry (ECR).", no_args_is_help=True)
registry_app = typer.Typer(help="The registry itself.", no_args_is_help=True)


def _split(image: str) -> tuple[str, str]:
    """``models/iris:v1`` → (``models/iris``, ``v1``); the tag is required."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        raise SpecError(
            f"{image!r} names no tag",
            field="IMAGE",
            hint="write REPOSITORY:TAG, e.g. models/iris:v1",
        )
    return name, tag


@repo_app.command("create")
def repo_create(
    name: str = typer.Argument(..., help="Repository name, e.g. models/iris."),
    immutable: bool = typer.Option(False, "--immutable", help="Tags can never be moved."),
    scan_on_push: bool = typer.Option(False, "--scan-on-push", help="Scan every pushed image."),
) -> None:
    """CreateRepository."""
    body = {
        "repositoryName": name,
        "imageTagMutability": "IMMUTABLE" if immutable else "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
    }
    repository = api().request("POST", "/v1/repositories", json=body)["repository"]
    console.print(f"[green]✓[/] {name}: {repository.get('repositoryUri', '')}")


@repo_app.command("list")
def repo_list() -> None:
    """Every repository."""
    repositories = api().request("GET", "/v1/repositories")["repositories"]
    table(
        None,
        ["repository", "uri", "tags", "scan on push", "lifecycle", "created"],
        [
            (
                r["repositoryName"],
                r.get("repositoryUri"),
                r["imageTagMutability"],
                "yes" if r["imageScanningConfiguration"]["scanOnPush"] else "no",
                "yes" if r["hasLifecyclePolicy"] else "",
                ago(r["createdAt"]),
            )
            for r in repositories
        ],
    )


@repo_app.command("delete")
def repo_delete(
    name: str = typer.Argument(...),
    force: bool = typer.Option(False, "--force", help="Also delete its images."),
) -> None:
    """DeleteRepository."""
    api().request("DELETE", "/v1/repositories", params={"repository": name, "force": force})
    console.print(f"[green]✓[/] {name} deleted")


@repo_app.command("lifecycle")
def repo_lifecycle(
    name: str = typer.Argument(...),
    policy: Path = typer.Argument(..., exists=True, dir_okay=False, help="ECR policy JSON."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what it would expire."),
    now: bool = typer.Option(False, "--now", help="Apply it now, not at the next schedule."),
) -> None:
    """PutLifecyclePolicy (or preview it with --dry-run)."""
    try:
        document = json.loads(policy.read_text())
    except ValueError as error:
        raise SpecError(
            f"{policy} is not JSON: {error}", field="policy", hint="write ECR's policy JSON"
        ) from None
    client = api()
    params = {"repository": name}
    if not dry_run:
        client.request("PUT", "/v1/lifecycle-policy", params=params, json=document)
        console.print(f"[green]✓[/] lifecycle policy set on {name}")
    preview = client.request("POST", "/v1/lifecycle-policy/preview", params=params, json=document)
    table(
        "what it expires now" if dry_run else "what it expires at its next run",
        ["digest", "tags", "action", "rule", "why"],
        [
            (
                d["imageDigest"][:19],
                ", ".join(d["imageTags"]),
                d["action"],
                d["appliedRulePriority"] or "",
                d["reason"],
            )
            for d in preview["decisions"]
        ],
    )
    if now and not dry_run:
        result = client.request("POST", "/v1/lifecycle-policy/apply", params=params)
        console.print(f"[green]✓[/] expired {len(result['expiredImageDigests'])} images")


def _transfer(path: str, params: dict[str, str], what: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with console.status(what) as status:
        for item in api().stream("POST", path, params=params):
            if "progress" in item:
                status.update(f"{what} [dim]{str(item['progress'])[:80]}[/]")
            if "result" in item:
                result = item["result"]
    return result


def push(
    image: str = typer.Argument(..., help="REPOSITORY:TAG, e.g. models/iris:v1."),
    source: str | None = typer.Option(
        None, "--source", help="Local image to push (default: the same name)."
    ),
) -> None:
    """Push an image from the engine to the registry."""
    repository, tag = _split(image)
    params = {"image": source or image, "repository": repository, "tag": tag}
    result = _transfer("/v1/registry/push", params, f"Pushing {image}…")
    console.print(
        f"[green]✓[/] pushed {result['ImageUri']} ({result['Digest']}) in {result['Seconds']:.1f} s"
    )


def pull(image: str = typer.Argument(..., help="REPOSITORY:TAG or REPOSITORY@sha256:…")) -> None:
    """Pull an image from the registry into the engine."""
    if "@" in image:
        repository, reference = image.split("@", 1)
    else:
        repository, reference = _split(image)
    params = {"repository": repository, "reference": reference}
    result = _transfer("/v1/registry/pull", params, f"Pulling {image}…")
    console.print(f"[green]✓[/] pulled {result['ImageUri']} in {result['Seconds']:.1f} s")


def images(repository: str = typer.Argument(..., help="Repository name.")) -> None:
    """The repository's images: tags, digests, sizes, pushed, scan summary."""
    details = api().request("GET", "/v1/images", params={"repository": repository})
    rows = []
    for d in details["imageDetails"]:
        scan = d.get("imageScanStatus", {}).get("status", "")
        counts = d.get("imageScanFindingsSummary", {}).get("findingSeverityCounts", {})
        if counts:
            scan = ", ".join(f"{n} {severity}" for severity, n in counts.items())
        rows.append(
            (
                ", ".join(d["imageTags"]) or "<untagged>",
                d["imageDigest"][:19],
                human_bytes(d["imageSizeInBytes"]),
                ago(d["imagePushedAt"]),
                scan,
            )
        )
    table(repository, ["tags", "digest", "size", "pushed", "scan"], rows)


def scan(
    image: str = typer.Argument(..., help="REPOSITORY:TAG or REPOSITORY@sha256:…"),
    start: bool = typer.Option(False, "--start", help="Scan it (again) now, then show."),
) -> None:
    """An image's scan findings by severity."""
    repository, reference = image.split("@", 1) if "@" in image else _split(image)
    params = {"repository": repository, "reference": reference}
    client = api()
    if start:
        client.request("POST", "/v1/scans", params=params)
        with console.status(f"Scanning {image}…"):
            while True:
                found = client.request("GET", "/v1/scans", params=params)
                if found["imageScanStatus"]["status"] not in ("PENDING", "IN_PROGRESS"):
                    break
                time.sleep(0.5)
    found = client.request("GET", "/v1/scans", params=params)
    status = found["imageScanStatus"]
    console.print(f"{image}: [bold]{status['status']}[/] {status.get('description', '')}")
    result = found["imageScanFindings"]
    table(
        None,
        ["severity", "name", "package / location", "fixed in", "description"],
        [
            (
                f["severity"],
                f["name"],
                next(
                    (a["value"] for a in f["attributes"] if a["key"] in ("package", "location")), ""
                ),
                next((a["value"] for a in f["attributes"] if a["key"] == "fixed_version"), ""),
                f["description"][:80],
            )
            for f in result["findings"]
        ],
    )
    counts = result["findingSeverityCounts"]
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no findings"
    console.print(f"{result['packages']} packages; {summary}. SBOM: {result.get('sbom') or '-'}")


def login() -> None:
    """Log the engine's client in with a short-lived password (12 hours), like
    ``aws ecr get-login-password | docker login``."""
    data = api().request("POST", "/v1/registry/login")["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    host = data["proxyEndpoint"].removeprefix("http://")
    cli = shutil.which("docker") or shutil.which("podman")
    if cli is None:
        console.print(f"no docker or podman command here; log in with user {user} to {host}")
        return
    args = [cli, "login", "--username", user, "--password-stdin", host]
    if cli.endswith("podman"):
        args.insert(2, "--tls-verify=false")
    done = subprocess.run(args, input=password, text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise SpecError(
            f"{Path(cli).name} login failed: {done.stderr.strip() or done.stdout.strip()}",
            resource=host,
            hint="is the daemon's registry running? `dockyard repo list` checks",
        )
    console.print(f"[green]✓[/] {Path(cli).name} logged in to {host} as {user}")


@registry_app.command("gc")
def registry_gc() -> None:
    """Free the disk of blobs no image uses (safe while pushes run: they wait)."""
    report = api().request("POST", "/v1/registry/gc")
    console.print(
        f"[green]✓[/] freed {human_bytes(report['FreedBytes'])} in {report['Seconds']:.1f} s"
    )
