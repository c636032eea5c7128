"""`dockyard transform` and friends: SageMaker batch transform jobs on local containers."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dockyard.cli.context import api, framework_image, input_arg
from dockyard.cli.output import ago, console, table
from dockyard.errors import SpecError

POLL_S = 0.5
FINISHED = ("Completed", "Failed", "Stopped")


def _uri(text: str) -> str:
    """A data location: a plain path becomes a file:// URI of its absolute form."""
    arg = input_arg(text)
    return Path(arg).as_uri() if arg.startswith("/") else arg


def _request_from_options(
    name: str,
    model: str | None,
    framework: str | None,
    model_data: str | None,
    input_: str | None,
    output: str | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    if not input_ or not output:
        raise SpecError(
            "a transform job needs its input and output",
            field="--input" if not input_ else "--output",
            hint="add --input DIR_OR_S3_PREFIX --output DIR_OR_S3_PREFIX (or use --from-json)",
        )
    if bool(model) == bool(framework):
        raise SpecError(
            "give exactly one of --model and --framework",
            field="--model/--framework",
            hint="--model names a model (CreateModel) or an image; --framework sklearn "
            "--model-data … runs a model artifact on the pre-built image",
        )
    if framework and not model_data:
        raise SpecError(
            "a framework image needs the model to run",
            field="--model-data",
            hint="add --model-data training-job:NAME (or a model.tar.gz path)",
        )
    image = framework_image(framework) if framework else str(model)
    container: dict[str, Any] = {"Image": image}
    if model_data:
        container["ModelDataUrl"] = input_arg(model_data)
    request: dict[str, Any] = {
        "TransformJobName": name,
        # a model of that name (CreateModel) wins; otherwise Container runs
        "ModelName": model if model and _model_name_like(model) else name,
        "Container": container,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _uri(input_)}},
            "SplitType": options["split_type"],
            "CompressionType": options["compression"],
        },
        "TransformOutput": {"S3OutputPath": _uri(output), "AssembleWith": options["assemble_with"]},
        "TransformResources": {"InstanceType": "local", "InstanceCount": options["instances"]},
    }
    if options["content_type"]:
        request["TransformInput"]["ContentType"] = options["content_type"]
    if options["accept"]:
        request["TransformOutput"]["Accept"] = options["accept"]
    for key, option in (
        ("BatchStrategy", "strategy"),
        ("MaxPayloadInMB", "max_payload_mb"),
        ("MaxConcurrentTransforms", "max_concurrent"),
    ):
        if options[option] is not None:
            request[key] = options[option]
    processing = {
        key: options[option]
        for key, option in (
            ("InputFilter", "input_filter"),
            ("OutputFilter", "output_filter"),
            ("JoinSource", "join_source"),
        )
        if options[option] is not None
    }
    if processing:
        request["DataProcessing"] = processing
    if options["env"]:
        request["Environment"] = options["env"]
    return request


def _model_name_like(text: str) -> bool:
    return all(c.isalnum() or c == "-" for c in text) and len(text) <= 63


def transform(
    name: str = typer.Argument(..., help="Transform job name."),
    model: str | None = typer.Option(
        None, help="A model made with CreateModel, or an image (e.g. from `dockyard build`)."
    ),
    framework: str | None = typer.Option(
        None, help="Run --model-data on a pre-built framework image instead (e.g. sklearn)."
    ),
    model_data: str | None = typer.Option(
        None, help="Model artifact (model.tar.gz): a path, s3://…, or training-job:NAME."
    ),
    input_: str | None = typer.Option(
        None, "--input", help="Input directory or file, file:///…, or s3://bucket/prefix."
    ),
    output: str | None = typer.Option(
        None, help="Where X.out goes for each input X: a directory or s3://bucket/prefix."
    ),
    content_type: str | None = typer.Option(None, help="Content-Type of the requests."),
    accept: str | None = typer.Option(None, help="Accept of the requests."),
    split_type: str = typer.Option("Line", help="None | Line | RecordIO | TFRecord."),
    compression: str = typer.Option("None", help="None | Gzip (the input files)."),
    strategy: str | None = typer.Option(None, help="MultiRecord | SingleRecord."),
    max_payload_mb: int | None = typer.Option(None, help="MaxPayloadInMB (0-100; 0: chunked)."),
    max_concurrent: int | None = typer.Option(None, help="Requests in flight per replica."),
    assemble_with: str = typer.Option("Line", help="None | Line."),
    instance_count: int = typer.Option(1, help="Replicas of the model container."),
    input_filter: str | None = typer.Option(None, help='JSONPath on each input, e.g. "$[1:]".'),
    output_filter: str | None = typer.Option(None, help="JSONPath on each (joined) output."),
    join_source: str | None = typer.Option(None, help="Input | None: join input to output."),
    env: list[str] = typer.Option([], help="NAME=VALUE for the container (repeatable)."),
    from_json: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="A CreateTransformJob request (JSON)."
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the job until it ends."),
) -> None:
    """Run a batch transform job: every record of the input through the model, X → X.out."""
    if from_json is not None:
        request = json.loads(from_json.read_text())
        if not isinstance(request, dict):
            raise SpecError("the file must hold a JSON object", field="--from-json")
        request.setdefault("TransformJobName", name)
    else:
        environment = {}
        for item in env:
            key, sep, value = item.partition("=")
            if not sep:
                raise SpecError(f"{item!r} is not NAME=VALUE", field="--env", hint="NAME=VALUE")
            environment[key] = value
        options = {
            "content_type": content_type,
            "accept": accept,
            "split_type": split_type,
            "compression": compression,
            "strategy": strategy,
            "max_payload_mb": max_payload_mb,
            "max_concurrent": max_concurrent,
            "assemble_with": assemble_with,
            "instances": instance_count,
            "input_filter": input_filter,
            "output_filter": output_filter,
            "join_source": join_source,
            "env": environment,
        }
        request = _request_from_options(name, model, framework, model_data, input_, output, options)
    job = api().request("POST", "/v1/transform-jobs", json=request)
    if wait:
        job = follow(str(job["TransformJobName"]))
    _show(job)
    if job["TransformJobStatus"] != "Completed" and wait:
        sys.exit(1)


def follow(name: str) -> dict[str, Any]:
    """A progress bar with records/s until the job ends (DescribeTransformJob, polled)."""
    client = api()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records  {task.fields[rate]}  {task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(name, total=None, rate="", status="InProgress")
        samples: list[tuple[float, int]] = []
        while True:
            job = client.request("GET", f"/v1/transform-jobs/{name}")
            progress = job.get("Progress", {})
            done, total = int(progress.get("RecordsDone", 0)), int(progress.get("Records", 0))
            now = time.monotonic()
            samples = [*samples, (now, done)][-10:]
            rate = ""
            if len(samples) > 1 and samples[-1][0] > samples[0][0]:
                per_s = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
                rate = f"{per_s:,.0f}/s"
            bar.update(
                task,
                completed=done,
                total=total or None,
                rate=rate,
                status=job["TransformJobStatus"],
            )
            if job["TransformJobStatus"] in FINISHED:
                return dict(job)
            time.sleep(POLL_S)


def _show(job: dict[str, Any]) -> None:
    console.print(f"[bold]{job['TransformJobName']}[/]  {job['TransformJobStatus']}")
    if job.get("FailureReason"):
        console.print(f"[red]FailureReason:[/] {job['FailureReason']}")
    progress = job.get("Progress", {})
    console.print(
        f"records {progress.get('RecordsDone', 0)}/{progress.get('Records', 0)}  "
        f"output {job['TransformOutput']['S3OutputPath']}"
    )
    rows = [
        [f["Key"], f["Status"], f"{f['RecordsDone']}/{f['Records']}", f.get("Failure", "")]
        for f in progress.get("FileStatus", [])
    ]
    if rows:
        table("files", ["input", "status", "records", "failure"], rows)


def transform_jobs() -> None:
    """List transform jobs."""
    jobs = api().request("GET", "/v1/transform-jobs")["TransformJobSummaries"]
    table(
        "transform jobs",
        ["name", "status", "records", "created", "failure"],
        (
            [
                j["TransformJobName"],
                j["TransformJobStatus"],
                f"{j['Progress']['RecordsDone']}/{j['Progress']['Records']}",
                ago(j.get("CreationTime")),
                (j.get("FailureReason") or "")[:80],
            ]
            for j in jobs
        ),
    )


def transform_job(name: str = typer.Argument(..., help="Transform job name.")) -> None:
    """Describe a transform job: status, parameters, each input file's progress."""
    job = api().request("GET", f"/v1/transform-jobs/{name}")
    _show(job)
    parameters = job.get("Progress", {}).get("Parameters", {})
    if parameters:
        console.print(
            "  ".join(f"{k} {v}" for k, v in parameters.items() if not k.endswith("Source"))
        )


def stop_transform_job(name: str = typer.Argument(..., help="Transform job name.")) -> None:
    """Stop a transform job: what is written stays; the job ends Stopped."""
    api().request("POST", f"/v1/transform-jobs/{name}/stop")
    console.print(f"stopping {name}")
