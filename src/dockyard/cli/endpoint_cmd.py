"""`dockyard deploy / invoke / endpoints / endpoint / delete`: real-time endpoints."""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx
import typer

from dockyard.cli.context import api, framework_image, input_arg, wait_until_gone
from dockyard.cli.output import ago, console, table
from dockyard.errors import DockyardError, SpecError
from dockyard.runtime.serve.config import MAX_BATCH_SIZE, MAX_BATCH_WAIT_MS

DEPLOY_TIMEOUT = 600.0
BATCH_VARIABLES = frozenset({"DOCKYARD_BATCH_SIZE", "DOCKYARD_BATCH_WAIT_MS"})


def _replica_rows(endpoint: dict[str, Any]) -> list[list[str]]:
    return [
        [r["Container"], r["Variant"], r["Status"], r["Health"], r["Address"] or "—"]
        for r in endpoint.get("Replicas", [])
    ]


def show_endpoint(endpoint: dict[str, Any]) -> None:
    models = (
        f"  multi-model: {endpoint.get('ModelDataUrl')}"
        if endpoint.get("Mode") == "MultiModel"
        else ""
    )
    console.print(
        f"[bold]{endpoint['EndpointName']}[/]  {endpoint['EndpointStatus']}  "
        f"[link={endpoint['Url']}]{endpoint['Url']}[/link]{models}"
    )
    if endpoint.get("FailureReason"):
        console.print(f"[red]FailureReason:[/] {endpoint['FailureReason']}")
    table(
        "replicas",
        ["container", "variant", "status", "health", "address"],
        _replica_rows(endpoint),
    )
    variants = endpoint.get("ProductionVariants") or []
    if len(variants) > 1 or any(v.get("Invocations") for v in variants):
        table(
            "variants",
            ["variant", "weight", "instances", "invocations", "p50 ms", "p99 ms"],
            (
                [
                    v["VariantName"],
                    f"{v.get('CurrentWeight', 0):g}",
                    f"{v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)}",
                    str(v.get("Invocations", 0)),
                    _ms(v.get("LatencyP50Ms")),
                    _ms(v.get("LatencyP99Ms")),
                ]
                for v in variants
            ),
        )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def deploy(
    name: str = typer.Argument(..., help="Endpoint name."),
    image: str | None = typer.Option(None, help="Inference image (e.g. from `dockyard build`)."),
    framework: str | None = typer.Option(
        None,
        help="Serve --model-data on a pre-built framework image instead: sklearn, xgboost "
        "or pytorch.",
    ),
    model_data: str | None = typer.Option(
        None,
        help="Model artifact (model.tar.gz), extracted to /opt/ml/model: a path, "
        "file:///absolute/path, s3://bucket/key in the artifact store, or training-job:NAME.",
    ),
    replicas: int = typer.Option(1, "--replicas", "-n", help="Replicas (InitialInstanceCount)."),
    env: list[str] = typer.Option([], help="NAME=VALUE for the container (repeatable)."),
    startup_timeout: int = typer.Option(
        240, help="Seconds a replica may take to pass /ping (60-3600)."
    ),
    batch_size: int | None = typer.Option(
        None,
        help="Adaptive batching: up to N requests arriving together share one predict_fn "
        "call (sets DOCKYARD_BATCH_SIZE; off unless given).",
    ),
    batch_wait_ms: float | None = typer.Option(
        None,
        help="How long the first request of a batch waits for others, in ms "
        "(sets DOCKYARD_BATCH_WAIT_MS; default 0: batch only what queues while the model "
        "is busy; needs --batch-size).",
    ),
    multi_model: bool = typer.Option(
        False,
        "--multi-model",
        help="A multi-model endpoint: serve every model.tar.gz under --model-prefix, each "
        "loaded on the first request naming it (invoke --target-model).",
    ),
    model_prefix: str | None = typer.Option(
        None,
        help="With --multi-model: the folder (a path, file:///absolute/path or an s3:// "
        "prefix in the artifact store) holding the models' archives.",
    ),
    model_memory_mb: float | None = typer.Option(
        None,
        help="With --multi-model: megabytes each replica's loaded models may take; the "
        "least recently used are unloaded past it (default: 75% of the replica's "
        "memory limit, at most 1024).",
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until InService."),
    pipeline: list[str] = typer.Option(
        [],
        help="HOST=IMAGE of each container of a multi-container endpoint, in order "
        "(`--pipeline pre=IMG1 model=IMG2`); --model-data goes to the last one.",
    ),
    mode: str | None = typer.Option(
        None, help="With --pipeline: serial (each container's answer feeds the next) or direct."
    ),
    more: list[str] = typer.Argument(None, hidden=True),
) -> None:
    """Deploy an image as an endpoint behind the load balancer (creates or updates)."""
    containers = pipeline_containers(pipeline, more or [], mode)
    environment: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f"{item!r} is not NAME=VALUE", field="--env", hint="--env NAME=VALUE")
        environment[key] = value
    environment.update(batching_environment(batch_size, batch_wait_ms, environment))
    environment.update(multi_model_environment(multi_model, model_prefix, model_memory_mb))
    if multi_model:
        if model_data is not None:
            raise SpecError(
                "--model-data names one model; a multi-model endpoint serves a folder",
                field="--model-data",
                hint="give the folder with --model-prefix only",
            )
        model_data = model_prefix
    if containers:
        if multi_model:
            raise SpecError(
                "a multi-container endpoint serves one model per container",
                field="--multi-model",
                hint="deploy --multi-model with one --image or --framework",
            )
        if image or framework:
            raise SpecError(
                "give either --pipeline or --image/--framework",
                field="--pipeline",
                hint="a multi-container endpoint names each container's image in --pipeline",
            )
        if model_data is not None:
            containers[-1]["ModelDataUrl"] = input_arg(model_data)
        for container in containers:
            container["Environment"] = environment
    elif bool(image) == bool(framework):
        raise SpecError(
            "give exactly one of --image and --framework",
            field="--image/--framework",
            hint="--image NAME:TAG serves your image; --framework sklearn --model-data … "
            "serves a model artifact on the pre-built image",
        )
    if framework and not model_data and not multi_model:
        raise SpecError(
            "a framework image needs the model to serve",
            field="--model-data",
            hint="add --model-data training-job:NAME (or a model.tar.gz path)",
        )
    client = api()
    if framework:
        image = framework_image(framework)
    body: dict[str, Any] = {
        "EndpointName": name,
        "Image": image,
        "ModelDataUrl": input_arg(model_data) if model_data is not None else None,
        "InstanceCount": replicas,
        "Mode": "MultiModel" if multi_model else "SingleModel",
        "Environment": environment,
        "ContainerStartupHealthCheckTimeoutInSeconds": startup_timeout,
    }
    if containers:
        body.update(
            Image=None,
            ModelDataUrl=None,
            Containers=containers,
            Mode="SingleModel",
            InferenceExecutionConfig={"Mode": mode.capitalize()} if mode else None,
        )
    started = time.monotonic()
    endpoint = client.request("POST", "/v1/endpoints", json=body)
    if wait:
        endpoint = _wait_in_service(name, started)
    show_endpoint(endpoint)
    if endpoint["EndpointStatus"] == "Failed":
        sys.exit(1)


def multi_model_environment(
    multi_model: bool, prefix: str | None, memory_mb: float | None
) -> dict[str, str]:
    """The replicas' variables for --multi-model, its options checked together here."""
    if not multi_model:
        if prefix is not None or memory_mb is not None:
            raise SpecError(
                "--model-prefix and --model-memory-mb are for multi-model endpoints",
                field="--multi-model",
                hint="add --multi-model, or use --model-data for one model",
            )
        return {}
    if not prefix:
        raise SpecError(
            "a multi-model endpoint needs the folder of its models",
            field="--model-prefix",
            hint="--model-prefix DIR (or s3://bucket/prefix/) holding a/model.tar.gz, ...",
        )
    if memory_mb is None:
        return {}
    if not memory_mb > 0:
        raise SpecError(
            f"--model-memory-mb {memory_mb:g} is not a positive number",
            field="--model-memory-mb",
            hint="megabytes the loaded models of one replica may take, e.g. 512",
        )
    return {"DOCKYARD_MODEL_MEMORY_MB": f"{memory_mb:g}"}


def pipeline_containers(
    pipeline: list[str], more: list[str], mode: str | None
) -> list[dict[str, Any]]:
    """--pipeline HOST=IMAGE values (the ones after the first may follow it unflagged)."""
    if more and not pipeline:
        raise SpecError(
            f"unexpected argument {more[0]!r}",
            field="NAME",
            hint="deploy takes one endpoint name; containers go in --pipeline HOST=IMAGE …",
        )
    if mode is not None and not pipeline:
        raise SpecError("--mode needs --pipeline", field="--mode", hint="--pipeline a=IMG b=IMG")
    containers = []
    for item in [*pipeline, *more]:
        host, sep, ref = item.partition("=")
        if not sep or not host or not ref:
            raise SpecError(
                f"{item!r} is not HOST=IMAGE",
                field="--pipeline",
                hint="--pipeline pre=IMG1 model=IMG2",
            )
        containers.append({"ContainerHostname": host, "Image": ref})
    if mode is not None:
        modes = {"serial": "Serial", "direct": "Direct"}
        if mode.lower() not in modes:
            raise SpecError(f"unknown mode {mode!r}", field="--mode", hint="serial or direct")
        mode = modes[mode.lower()]
    return containers


def batching_environment(
    size: int | None, wait_ms: float | None, given: dict[str, str]
) -> dict[str, str]:
    """The replicas' batching variables from --batch-size/--batch-wait-ms, checked here so
    that a bad value fails the command instead of every replica's start."""
    if size is None and wait_ms is None:
        return {}
    clash = sorted(BATCH_VARIABLES & set(given))
    if clash:
        raise SpecError(
            f"{', '.join(clash)} given both with --env and as a batching option",
            field="--env",
            hint="use --batch-size/--batch-wait-ms only",
        )
    if size is None:
        raise SpecError(
            "--batch-wait-ms needs --batch-size",
            field="--batch-size",
            hint="add --batch-size N (2 or more) to turn batching on",
        )
    if not 2 <= size <= MAX_BATCH_SIZE:
        raise SpecError(
            f"--batch-size {size} is out of range",
            field="--batch-size",
            hint=f"a whole number from 2 to {MAX_BATCH_SIZE} (leave it out for no batching)",
        )
    environment = {"DOCKYARD_BATCH_SIZE": str(size)}
    if wait_ms is not None:
        if not 0 <= wait_ms <= MAX_BATCH_WAIT_MS:
            raise SpecError(
                f"--batch-wait-ms {wait_ms:g} is out of range",
                field="--batch-wait-ms",
                hint=f"milliseconds from 0 to {MAX_BATCH_WAIT_MS:g}; a few ms is typical",
            )
        environment["DOCKYARD_BATCH_WAIT_MS"] = f"{wait_ms:g}"
    return environment


def _wait_in_service(name: str, started: float) -> dict[str, Any]:
    client = api()
    with console.status(f"Deploying {name}…") as status:
        while True:
            endpoint: dict[str, Any] = client.request("GET", f"/v1/endpoints/{name}")
            state = endpoint["EndpointStatus"]
            healthy = sum(1 for r in endpoint.get("Replicas", []) if r["Health"] == "healthy")
            status.update(
                f"Deploying {name}… {state}, {healthy}/{endpoint.get('DesiredReplicas', '?')} "
                f"replicas healthy ({time.monotonic() - started:.1f} s)"
            )
            if state in ("InService", "Failed"):
                console.print(
                    f"[green]✓[/] {name} {state} in {time.monotonic() - started:.1f} s"
                    if state == "InService"
                    else f"[red]✗[/] {name} {state}"
                )
                return endpoint
            if time.monotonic() - started > DEPLOY_TIMEOUT:
                console.print(f"[yellow]still {state} after {DEPLOY_TIMEOUT:.0f} s[/]")
                return endpoint
            time.sleep(0.1)


def invoke(
    name: str = typer.Argument(..., help="Endpoint name."),
    body: str | None = typer.Option(None, help="Request body (default: read from stdin)."),
    content_type: str = typer.Option("text/csv", help="Content-Type of the body."),
    accept: str = typer.Option("application/json", help="Accept header."),
    custom_attributes: str | None = typer.Option(None, help="X-Amzn-SageMaker-Custom-Attributes."),
    target_model: str | None = typer.Option(
        None,
        help="Multi-model endpoints: the archive under the model prefix to use, e.g. "
        "a/model.tar.gz (X-Amzn-SageMaker-Target-Model).",
    ),
    target_variant: str | None = typer.Option(
        None, help="Send the request to this production variant (TargetVariant)."
    ),
    target_container: str | None = typer.Option(
        None, help="The container to ask, on a Direct multi-container endpoint."
    ),
) -> None:
    """Send one request through the load balancer and print the answer."""
    if body is None and sys.stdin.isatty():
        raise SpecError(
            "no request body", field="--body", hint="pass --body '…' or pipe the body in"
        )
    endpoint = api().request("GET", f"/v1/endpoints/{name}")
    payload = body.encode() if body is not None else sys.stdin.buffer.read()
    headers = {"content-type": content_type, "accept": accept}
    if custom_attributes:
        headers["x-amzn-sagemaker-custom-attributes"] = custom_attributes
    if target_model:
        headers["x-amzn-sagemaker-target-model"] = target_model
    if target_variant:
        headers["x-amzn-sagemaker-target-variant"] = target_variant
    if target_container:
        headers["x-amzn-sagemaker-target-container-hostname"] = target_container
    response = httpx.post(endpoint["Url"], content=payload, headers=headers, timeout=70)
    if response.status_code >= 400:
        raise DockyardError(
            f"the endpoint answered {response.status_code}: {response.text.strip()}",
            resource=f"endpoint/{name}",
            hint="see `dockyard endpoint " + name + "` for replica health",
        )
    invoked = response.headers.get("x-amzn-invoked-production-variant")
    console.print(
        f"[dim]POST {endpoint['Url']} → {response.status_code}"
        + (f" (variant {invoked})" if invoked else "")
        + "[/]"
    )
    sys.stdout.write(response.text if response.text.endswith("\n") else response.text + "\n")


def endpoints() -> None:
    """List endpoints."""
    items = api().request("GET", "/v1/endpoints")["Endpoints"]
    table(
        None,
        ["name", "status", "replicas", "image", "url", "created"],
        (
            [
                e["EndpointName"],
                e["EndpointStatus"],
                f"{e.get('HealthyReplicas', 0)}/{e.get('DesiredReplicas', 0)}",
                e.get("Image", ""),
                e.get("Url", ""),
                ago(e.get("CreationTime")),
            ]
            for e in items
        ),
    )


def endpoint(name: str = typer.Argument(..., help="Endpoint name.")) -> None:
    """Describe an endpoint and its replicas."""
    show_endpoint(api().request("GET", f"/v1/endpoints/{name}"))


def delete(
    name: str = typer.Argument(..., help="Endpoint name."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until it is gone."),
) -> None:
    """Delete an endpoint: drain and stop its replicas, remove its route."""
    client = api()
    client.request("DELETE", f"/v1/endpoints/{name}")
    if wait:
        wait_until_gone(f"/v1/endpoints/{name}", name)
    console.print(f"[green]✓[/] deleted {name}")


def events(
    resource: str | None = typer.Argument(None, help="KIND/NAME, e.g. endpoint/iris."),
    limit: int = typer.Option(50, help="How many of the latest events."),
) -> None:
    """Show what happened, oldest first."""
    params: dict[str, Any] = {"limit": limit}
    if resource:
        kind, _, name = resource.partition("/")
        params.update(kind=kind, name=name or None)
    items = api().request("GET", "/v1/events", params=params)["Events"]
    table(
        None,
        ["when", "resource", "message"],
        ([ago(e["At"]), f"{e['Kind']}/{e['Name']}", e["Message"]] for e in items),
    )
