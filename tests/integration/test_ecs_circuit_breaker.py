"""The deployment circuit breaker on real containers, through the CLI and a real daemon.

A service of 2 behind the load balancer, created with ``--circuit-breaker
--rollback``, is updated to a revision whose container exits as it starts, while a
client keeps sending requests. The breaker trips after its threshold of failed
launches (3 for 2 tasks), the deployment ends FAILED, the service is back on the old
revision with its 2 healthy tasks, and not one request failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dockyard_daemon import Daemon, wait_until
from test_ecs_services import TIMEOUT, Client, ok, register, task_definition, web_image

pytestmark = pytest.mark.integration

__all__ = ["web_image"]  # the fixture, shared with the service tests

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."


def test_a_revision_that_exits_at_start_is_rolled_back_without_failed_requests(
    daemon: Daemon, web_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    family = unique_name("cb")
    service = unique_name("cbsvc")
    blue = register(daemon, tmp_path, task_definition(family, web_image, "blue"))
    broken_doc = task_definition(family, web_image, "broken")
    broken_doc["containerDefinitions"][0]["command"] = ["python3", "-c", "raise SystemExit(1)"]
    broken = register(daemon, tmp_path, broken_doc)

    create = ["service", "create", service, "--task-definition", blue, "--desired-count", "2"]
    ok(daemon.cli(*create, "--load-balancer", "web:8080", "--circuit-breaker", "--rollback"))
    url = daemon.api("GET", f"/v1/services/{service}")["url"]

    with Client(url) as client:
        wait_until(lambda: len(client.answers) >= 5, timeout=TIMEOUT, what="first answers")
        update = daemon.cli("service", "update", service, "--task-definition", broken)
        seen = len(client.answers)
        wait_until(
            lambda: len(client.answers) >= seen + 20,
            timeout=TIMEOUT,
            what="answers after the rollback",
        )
    assert update.returncode == 1, f"{update.stdout}\n{update.stderr}"
    assert "failed" in update.stdout
    assert client.failures == []
    assert set(client.answers) == {"blue"}

    described = daemon.api("GET", f"/v1/services/{service}")
    primary, failed = described["service"]["deployments"][:2]
    assert primary["status"] == "PRIMARY"
    assert primary["taskDefinition"].endswith(blue)
    assert primary["rolloutState"] == "COMPLETED"
    assert failed["taskDefinition"].endswith(broken)
    assert failed["rolloutState"] == "FAILED"
    assert failed["rolloutStateReason"] == FAILED_REASON
    assert failed["failedTasks"] >= 3
    assert described["service"]["taskDefinition"].endswith(blue)
    serving = [t for t in described["tasks"] if t["lastStatus"] == "RUNNING"]
    assert [(t["taskDefinition"], t["health"]) for t in serving] == [(blue, "healthy")] * 2
    messages = [e["message"] for e in described["service"]["events"]]
    assert (
        f"(service {service}) (deployment {failed['id']}) deployment failed: "
        "tasks failed to start." in messages
    )
    assert f"(service {service}) rolling back to deployment {primary['id']}." in messages

    shown = ok(daemon.cli("service", "describe", service))
    assert "FAILED" in shown
    ok(daemon.cli("service", "delete", service, "--force"))
