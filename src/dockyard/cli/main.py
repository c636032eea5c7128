"""The `dockyard` command: one verb per job, errors without tracebacks."""

from __future__ import annotations

import sys

import typer

from dockyard import __version__
from dockyard.cli import (
    autoscaling_cmd,
    build_cmd,
    cluster_cmd,
    console_cmd,
    credentials_cmd,
    endpoint_cmd,
    export_cmd,
    instances_cmd,
    metrics_cmd,
    registry_cmd,
    schedule_cmd,
    secret_cmd,
    server_cmd,
    service_cmd,
    setup_cmd,
    task_cmd,
    task_definition_cmd,
    train_cmd,
    transform_cmd,
    variant_cmd,
)
from dockyard.cli.output import print_error
from dockyard.errors import DockyardError

app = typer.Typer(
    name="dockyard",
    help="Train, package and serve ML containers on your own machines — AWS contracts, "
    "real containers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command()(setup_cmd.setup)
app.command()(server_cmd.server)
app.command()(server_cmd.shutdown)
app.command()(build_cmd.build)
app.command()(train_cmd.train)
app.command("training-jobs")(train_cmd.training_jobs)
app.command("training-job")(train_cmd.training_job)
app.command("stop-training-job")(train_cmd.stop_training_job)
app.command()(train_cmd.logs)
app.command()(endpoint_cmd.deploy)
app.command()(endpoint_cmd.invoke)
app.command()(endpoint_cmd.endpoints)
app.add_typer(variant_cmd.endpoint_app, name="endpoint")
app.command()(endpoint_cmd.delete)
app.command()(endpoint_cmd.events)
app.command("register-task-definition")(task_definition_cmd.register_task_definition)
app.command("describe-task-definition")(task_definition_cmd.describe_task_definition)
app.command("deregister-task-definition")(task_definition_cmd.deregister_task_definition)
app.command("task-definitions")(task_definition_cmd.task_definitions)
app.command("list-task-definitions", hidden=True)(task_definition_cmd.task_definitions)
app.command()(task_cmd.tasks)
app.command("run-task")(task_cmd.run_task)
app.command("stop-task")(task_cmd.stop_task)
app.add_typer(service_cmd.service_app, name="service")
app.command()(metrics_cmd.metrics)
app.add_typer(autoscaling_cmd.autoscaling_app, name="autoscaling")
app.add_typer(registry_cmd.repo_app, name="repo")
app.add_typer(credentials_cmd.credentials_app, name="credentials")
app.add_typer(secret_cmd.secret_app, name="secret")
app.add_typer(schedule_cmd.schedule_app, name="schedule")
app.add_typer(export_cmd.export_app, name="export")
app.add_typer(registry_cmd.registry_app, name="registry")
app.add_typer(cluster_cmd.cluster_app, name="cluster")
app.add_typer(instances_cmd.instances_app, name="instances")
app.command()(registry_cmd.push)
app.command()(registry_cmd.pull)
app.command()(registry_cmd.images)
app.command()(registry_cmd.scan)
app.command()(registry_cmd.login)
app.command()(console_cmd.console)
app.command()(transform_cmd.transform)
app.command("transform-jobs")(transform_cmd.transform_jobs)
app.command("transform-job")(transform_cmd.transform_job)
app.command("stop-transform-job")(transform_cmd.stop_transform_job)


@app.command()
def version() -> None:
    """Print Dockyard's version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except DockyardError as error:
        print_error(error)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
