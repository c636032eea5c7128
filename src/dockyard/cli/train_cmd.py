"""`dockyard train` and friends: SageMaker training jobs on local containers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import api, framework_image, input_arg
from dockyard.cli.output import ago, console, table
from dockyard.errors import SpecError

DEFAULT_OUTPUT = "s3://dockyard/training-jobs"


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SpecError(
                f"{value!r} is not NAME=VALUE",
                field=option,
                hint=f"write it as {option} name=value",
            )
        pairs[key] = rest
    return pairs


def _channel_uri(text: str) -> str:
    """A channel's S3Uri: a plain path becomes a file:// URI of its absolute form."""
    arg = input_arg(text)
    return Path(arg).as_uri() if arg.startswith("/") else arg


def _request(
    name: str,
    image: str | None,
    framework: str | None,
    source_dir: Path | None,
    entry_point: str | None,
    channels: dict[str, str],
    hyperparameters: dict[str, str],
    instance_count: int,
    instance_type: str,
    cpus: float | None,
    memory: int | None,
    max_runtime: int | None,
    env: dict[str, str],
    output: str,
    metrics: dict[str, str] | None = None,
) -> dict[str, Any]:
    if bool(image) == bool(framework):
        raise SpecError(
            "give exactly one of --image and --framework",
            field="--image/--framework",
            hint="--framework sklearn runs your script in the pre-built image; "
            "--image NAME:TAG runs your own training image",
        )
    hps = dict(hyperparameters)
    if source_dir is not None or entry_point is not None:
        if source_dir is None or entry_point is None:
            raise SpecError(
                "script mode needs both --source-dir and --entry-point",
                field="--source-dir/--entry-point",
                hint="e.g. --source-dir ./code --entry-point train.py",
            )
        hps["sagemaker_program"] = entry_point
        hps["sagemaker_submit_directory"] = source_dir.resolve().as_uri()
    elif framework:
        raise SpecError(
            "--framework runs a training script: say which one",
            field="--entry-point",
            hint="add --source-dir DIR --entry-point SCRIPT.py",
        )
    if framework:
        image = framework_image(framework)
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            **(
                {"MetricDefinitions": [{"Name": n, "Regex": r} for n, r in metrics.items()]}
                if metrics
                else {}
            ),
        },
        "HyperParameters": hps,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": _channel_uri(path),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, path in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {
            "InstanceCount": instance_count,
            "InstanceType": instance_type,
            "VolumeSizeInGB": 1,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime or 86400},
    }
    if not request["InputDataConfig"]:
        del request["InputDataConfig"]  # botocore: one channel at least, or no member at all
    if env:
        request["Environment"] = env
    if cpus is not None or memory is not None:
        limits: dict[str, Any] = {}
        if cpus is not None:
            limits["Cpus"] = cpus
        if memory is not None:
            limits["MemoryMiB"] = memory
        request["ResourceLimits"] = limits
    return request


def train(
    name: str = typer.Argument(..., help="Training job name (unique, 1-63 chars)."),
    image: str | None = typer.Option(None, help="Your own training image."),
    framework: str | None = typer.Option(
        None, help="Pre-built framework image: sklearn, xgboost or pytorch."
    ),
    source_dir: Path | None = typer.Option(
        None, exists=True, file_okay=False, help="Directory with the training code."
    ),
    entry_point: str | None = typer.Option(None, help="Script in --source-dir to run."),
    channel: list[str] = typer.Option(
        [],
        help="NAME=DATA channel (repeatable); DATA: a path, file:///absolute/path, "
        "or s3://bucket/prefix in the artifact store.",
    ),
    hyperparameter: list[str] = typer.Option([], "--hyperparameter", "--hp", help="NAME=VALUE."),
    instance_count: int = typer.Option(1, help="Hosts (algo-1..N on a private network)."),
    instance_type: str = typer.Option("local", help="Instance type recorded for the job."),
    cpus: float | None = typer.Option(None, help="CPU limit per host (e.g. 0.5)."),
    memory: int | None = typer.Option(None, help="Memory limit per host in MiB."),
    max_runtime: int | None = typer.Option(None, help="MaxRuntimeInSeconds (default 1 day)."),
    env: list[str] = typer.Option([], help="NAME=VALUE environment variable (repeatable)."),
    metric: list[str] = typer.Option(
        [],
        help="NAME=REGEX (repeatable): a metric read from the output, the value being what "
        "REGEX's first group captures (SageMaker's MetricDefinitions).",
    ),
    output: str = typer.Option(DEFAULT_OUTPUT, help="S3OutputPath in the artifact store."),
    spec: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="A CreateTrainingJob JSON request instead."
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Stream logs until it ends."),
) -> None:
    """Run a training job: the SageMaker training contract, on local containers."""
    if spec is not None:
        request = json.loads(spec.read_text())
        request.setdefault("TrainingJobName", name)
    else:
        request = _request(
            name,
            image,
            framework,
            source_dir,
            entry_point,
            _pairs(channel, "--channel"),
            _pairs(hyperparameter, "--hyperparameter"),
            instance_count,
            instance_type,
            cpus,
            memory,
            max_runtime,
            _pairs(env, "--env"),
            output,
            _pairs(metric, "--metric"),
        )
    client = api()
    job = client.request("POST", "/v1/training-jobs", json=request)
    console.print(f"[green]✓[/] training job [bold]{job['TrainingJobName']}[/] created")
    if not wait:
        return
    final = _follow(job["TrainingJobName"])
    _report(final)


def _follow(name: str) -> dict[str, Any]:
    client = api()
    multi_host = False
    for item in client.stream("GET", f"/v1/training-jobs/{name}/logs", params={"follow": "1"}):
        if "line" in item:
            host = item.get("host", "")
            multi_host = multi_host or host not in ("", "algo-1")
            prefix = f"[cyan]{host}[/] " if multi_host else ""
            console.print(prefix + item["line"], markup=bool(prefix), highlight=False)
        elif "status" in item:
            console.print(f"  [dim]{item['status']}[/]")
    return dict(client.request("GET", f"/v1/training-jobs/{name}"))


def _report(job: dict[str, Any]) -> None:
    status = job.get("TrainingJobStatus")
    _final_metrics(job)
    if status == "Completed":
        artifact = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        console.print(f"[green]✓[/] {job['TrainingJobName']}: Completed — model: {artifact}")
        return
    console.print(
        f"[red]✗[/] {job['TrainingJobName']}: {status} ({job.get('SecondaryStatus')})"
        + (f" — {job['FailureReason']}" if job.get("FailureReason") else "")
    )
    sys.exit(1)


def _final_metrics(job: dict[str, Any]) -> None:
    final = job.get("FinalMetricDataList") or []
    if final:
        shown = ", ".join(f"{m['MetricName']} {m['Value']:g}" for m in final)
        console.print(f"  metrics: {shown}", highlight=False)


def _metrics_table(name: str) -> None:
    """Each metric per host: its points, first, last, min and max."""
    series = api().request("GET", f"/v1/training-jobs/{name}/metrics")["Metrics"]
    if not series:
        return
    table(
        "metrics",
        ["metric", "host", "points", "first", "last", "min", "max"],
        (
            [
                s["MetricName"],
                s["Host"],
                str(len(s["Values"])),
                f"{s['Values'][0]:g}",
                f"{s['Values'][-1]:g}",
                f"{min(s['Values']):g}",
                f"{max(s['Values']):g}",
            ]
            for s in series
        ),
    )


def training_jobs() -> None:
    """List training jobs."""
    jobs = api().request("GET", "/v1/training-jobs")["TrainingJobSummaries"]
    table(
        None,
        ["name", "status", "secondary", "created", "model"],
        (
            [
                j["TrainingJobName"],
                j["TrainingJobStatus"],
                j.get("SecondaryStatus", ""),
                ago(j.get("CreationTime")),
                (j.get("ModelArtifacts") or {}).get("S3ModelArtifacts", ""),
            ]
            for j in jobs
        ),
    )


def training_job(name: str = typer.Argument(..., help="Training job name.")) -> None:
    """Describe a training job: status history, hosts, artifacts."""
    job = api().request("GET", f"/v1/training-jobs/{name}")
    console.print(f"[bold]{job['TrainingJobName']}[/]  {job['TrainingJobStatus']}")
    if job.get("FailureReason"):
        console.print(f"[red]FailureReason:[/] {job['FailureReason']}")
    artifact = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if artifact:
        console.print(f"model: {artifact}")
    table(
        "status history",
        ["status", "started", "message"],
        (
            [t["Status"], ago(t.get("StartTime")), t.get("StatusMessage", "")]
            for t in job.get("SecondaryStatusTransitions", [])
        ),
    )
    _metrics_table(name)


def stop_training_job(name: str = typer.Argument(..., help="Training job name.")) -> None:
    """Stop a training job (SIGTERM, then SIGKILL after 120 s)."""
    api().request("POST", f"/v1/training-jobs/{name}/stop")
    console.print(f"stopping {name}")


def logs(
    name: str = typer.Argument(
        ..., help="A training job's name, endpoint/NAME, service/NAME or task/TASK_ID."
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep streaming until it ends."),
    tail: int = typer.Option(100, help="Endpoints, services, tasks: lines per container."),
) -> None:
    """Print a training job's logs, an endpoint's replicas' or a service's tasks' (stopped
    ones too), or one task's; each line of a service or task starts with its task id."""
    kind, _, rest = name.partition("/")
    if kind in ("service", "task") and rest:
        _task_logs(f"/v1/{kind}s/{rest}/logs", tail, follow)
        return
    if name.startswith("endpoint/"):
        _endpoint_logs(name.removeprefix("endpoint/"), tail)
        return
    if follow:
        _follow(name)
        return
    for item in api().stream("GET", f"/v1/training-jobs/{name}/logs"):
        if "line" in item:
            console.print(item["line"], markup=False, highlight=False)


def _task_logs(path: str, tail: int, follow: bool) -> None:
    """Lines of many tasks, each behind its task id (dim when the task has stopped)."""
    params = {"tail": tail, "follow": "1" if follow else "0"}
    try:
        for item in api().stream("GET", path, params=params):
            style = "dim" if item["stopped"] else "cyan"
            console.print(f"[{style}]{item['prefix']}[/] ", end="", highlight=False)
            console.print(item["line"], markup=False, highlight=False)
    except KeyboardInterrupt:
        return


def _endpoint_logs(name: str, tail: int) -> None:
    replicas = api().request("GET", f"/v1/endpoints/{name}/logs", params={"tail": tail})
    for replica in replicas["Replicas"]:
        state = "stopped" if replica["Stopped"] else "running"
        console.print(f"[bold]── {replica['Replica']} ({state})[/]")
        for line in replica["Lines"]:
            console.print(line, markup=False, highlight=False)
