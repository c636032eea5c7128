"""Secrets and task roles on real containers, through the CLI and a real daemon.

A task's container sees its secret as an environment variable (it prints only a hash
of it), while the API, the task's description, events and the daemon's log never
contain the value. A task with ``taskRoleArn`` fetches its credentials from
169.254.170.2 with its own token, is refused with a wrong one, and a task without a
role has no credential variables at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dockyard_daemon import Daemon, wait_until

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

TIMEOUT = 120.0
ROLE = "arn:aws:iam::123456789012:role/reader"

PROBE = r"""
import hashlib, json, os, urllib.error, urllib.request

def fetch(token):
    request = urllib.request.Request(
        os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={"Authorization": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, {}

report = {
    "secret_sha256": hashlib.sha256(os.environ.get("DB_PASSWORD", "").encode()).hexdigest(),
    "has_uri": "AWS_CONTAINER_CREDENTIALS_FULL_URI" in os.environ,
    "has_token": "AWS_CONTAINER_AUTHORIZATION_TOKEN" in os.environ,
}
if report["has_uri"]:
    status, body = fetch(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
    report["own"] = [status, body.get("AccessKeyId"), body.get("RoleArn"), bool(body.get("Token"))]
    report["wrong"] = fetch("0" * 64)[0]
print("REPORT " + json.dumps(report), flush=True)
"""


def definition(family: str, image: str, **extra: Any) -> dict[str, Any]:
    container = {
        "name": "probe",
        "image": image,
        "command": ["python3", "-c", PROBE],
        **extra.pop("container", {}),
    }
    return {"family": family, "containerDefinitions": [container], **extra}


def register(daemon: Daemon, document: dict[str, Any]) -> str:
    registered = daemon.api("POST", "/v1/task-definitions", json=document)["taskDefinition"]
    return f"{registered['family']}:{registered['revision']}"


def run_to_end(daemon: Daemon, revision: str) -> dict[str, Any]:
    (task,) = daemon.api("POST", "/v1/tasks", json={"taskDefinition": revision})["tasks"]

    def stopped() -> dict[str, Any] | None:
        found: dict[str, Any] = daemon.api("GET", f"/v1/tasks/{task['taskId']}")["task"]
        return found if found["lastStatus"] == "STOPPED" else None

    return wait_until(stopped, timeout=TIMEOUT, what=f"task {task['taskId']} to stop")


def report(engine: DockerEngine, task_id: str) -> dict[str, Any]:
    (container,) = engine.list({"dockyard.task": task_id})
    output = b"".join(engine.logs(container.id)).decode(errors="replace")
    line = next(x for x in output.splitlines() if "REPORT " in x)
    return dict(json.loads(line.split("REPORT ", 1)[1]))


def test_a_task_sees_its_secret_and_nothing_else_shows_it(
    daemon: Daemon,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    value = f"v-{unique_name('secret')}-{tmp_path.name}"
    name = f"{unique_name('app')}/db-password"
    value_file = tmp_path / "value"
    value_file.write_text(value)
    put = daemon.cli("secret", "put", name, "--value-file", str(value_file))
    assert put.returncode == 0, put.stderr
    listed = daemon.cli("secret", "list")
    assert name in listed.stdout
    secrets = [{"name": "DB_PASSWORD", "valueFrom": f"arn:aws:ssm:us-east-1:1:parameter/{name}"}]
    revision = register(
        daemon, definition(unique_name("sec"), base_image, container={"secrets": secrets})
    )

    task = run_to_end(daemon, revision)
    assert task["containers"][0]["exitCode"] == 0, task
    seen = report(engine, task["taskId"])
    assert seen["secret_sha256"] == hashlib.sha256(value.encode()).hexdigest()
    assert not seen["has_uri"] and not seen["has_token"]  # no role: no credentials

    shown = json.dumps(
        [
            task,
            daemon.api("GET", "/v1/tasks"),
            daemon.api("GET", "/v1/events"),
            daemon.api("GET", "/v1/secrets"),
            daemon.api("GET", f"/v1/secrets/{name}"),
            daemon.api("GET", f"/v1/task-definitions/{revision}"),
        ]
    )
    assert value not in shown
    assert value not in put.stdout + listed.stdout
    assert value not in daemon.log_tail(100000)
    assert value.encode() not in (daemon.state_dir / "dockyard.db").read_bytes()

    deleted = daemon.cli("secret", "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    failed = run_to_end(daemon, revision)
    assert failed["stopCode"] == "TaskFailedToStart"
    assert failed["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth"
    )


def test_a_task_with_a_role_gets_its_credentials_and_only_with_its_token(
    daemon: Daemon,
    engine: DockerEngine,
    base_image: str,
    unique_name: Callable[..., str],
) -> None:
    revision = register(daemon, definition(unique_name("role"), base_image, taskRoleArn=ROLE))
    task = run_to_end(daemon, revision)
    assert task["containers"][0]["exitCode"] == 0, task
    seen = report(engine, task["taskId"])

    keys = daemon.api("GET", "/v1/aws/credentials")["AccessKeys"]
    (role_key,) = [k for k in keys if k.get("RoleArn") == ROLE]
    assert seen["own"] == [200, role_key["AccessKeyId"], ROLE, True]
    assert seen["wrong"] == 401
    described = json.dumps(daemon.api("GET", f"/v1/tasks/{task['taskId']}"))
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in described
