"""ECS services under faults, on real containers, one daemon for the module.

A small HTTP server image answers ``/ping`` and ``/invocations`` on 8080 with its
``COLOR`` and an id it draws at start (so a client sees which task answered, and when
a new one does). ``/invocations?crash=1`` makes it die on the spot (``os._exit``), the
way a model server dies of one poisonous request; ``FLOOD=1`` makes it write to
stdout as fast as it can. Each test prints its figure (``FIGURE name: value``); the
assertions are about correctness only, never about time.

* one of 3 tasks killed under steady load: no request fails but the ones the killed
  task was answering (at most one per client thread; it died holding them), and a
  replacement serves;
* a request that crashes its task fails alone (502): the load balancer re-sends only
  requests no task received, so the other tasks survive and no other request fails;
* the daemon killed with SIGKILL in the middle of a rolling deployment and started
  again: the deployment finishes, no task is lost or started twice;
* an endpoint updated to a model that exits at start keeps its old replicas serving
  (no request fails), goes RollingBack and is InService again with a FailureReason;
  a request that crashes one of its replicas fails alone there too;
* a task flooding stdout and one that runs out of memory leave the daemon's API
  responsive and a neighbour service serving without a failure; the OOM task stops
  with ECS's OutOfMemoryError reason.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockyard_daemon import Daemon, holds_for, wait_until
from load import Load

from dockyard.adapters.engine import DockerEngine
from dockyard.control.task_state import OOM_REASON

pytestmark = pytest.mark.integration

TIMEOUT = 120.0
THREADS = 2  # client threads of the steady load: at most this many requests in flight

SERVER = """
import os, signal, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("EXIT_AT_START"):
    sys.exit(4)
ANSWER = (os.environ.get("COLOR", "none") + " " + uuid.uuid4().hex[:8]).encode()
BURN_S = float(os.environ.get("BURN_MS", "0")) / 1000  # CPU per request (bench/ecs.py)


def burn():
    end = time.thread_time() + BURN_S
    while time.thread_time() < end:
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

    def _answer(self, body):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            self._answer(b"ok")
        else:
            self.send_error(404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if "crash=1" in self.path:
            os._exit(3)
        burn()
        self._answer(ANSWER)

    def log_message(self, *args):
        pass


def flood():
    line = "x" * 200 + "\\n"
    while True:
        sys.stdout.write(line)


if os.environ.get("FLOOD"):
    threading.Thread(target=flood, daemon=True).start()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""

HOG = "x = bytearray(1024 * 1024 * 1024)"  # 1 GiB at once, over the task's memory


@pytest.fixture(scope="module")
def faulty_image(script_image: Callable[[str, str], str]) -> str:
    return script_image("ecs-faulty", SERVER)


@pytest.fixture(scope="module")
def model_image(
    engine: DockerEngine,
    faulty_image: str,
    session_labels: dict[str, str],
    unique_name: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The same server as a SageMaker model image: ``docker run IMAGE serve`` runs it."""
    context = tmp_path_factory.mktemp("model-image")
    (context / "Dockerfile").write_text(
        f'FROM {faulty_image}\nENTRYPOINT ["python3", "/server.py"]\nCMD ["serve"]\n'
    )
    tag = f"dockyard-test/ecs-model:{unique_name('model')}"
    list(engine.build(str(context), tag, labels=session_labels))
    return tag


def figure(name: str, value: object) -> None:
    """A measured figure, in the test's output (``pytest -s``) for the report."""
    print(f"FIGURE {name}: {value}")


def task_definition(
    family: str, image: str, color: str, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    environment = [{"name": "COLOR", "value": color}]
    environment += [{"name": k, "value": v} for k, v in (env or {}).items()]
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "web",
                "image": image,
                "portMappings": [{"containerPort": 8080}],
                "environment": environment,
                "stopTimeout": 5,
            }
        ],
    }


def register(daemon: Daemon, document: dict[str, Any]) -> str:
    registered = daemon.api("POST", "/v1/task-definitions", json=document)["taskDefinition"]
    return f"{registered['family']}:{registered['revision']}"


def create_service(daemon: Daemon, name: str, revision: str, count: int) -> str:
    """A service of ``count`` tasks behind the load balancer; returns its URL."""
    request = {
        "serviceName": name,
        "taskDefinition": revision,
        "desiredCount": count,
        "loadBalancers": [{"targetGroupArn": name, "containerName": "web", "containerPort": 8080}],
    }
    return str(daemon.api("POST", "/v1/services", json=request)["url"])


def serving(daemon: Daemon, name: str, revision: str, count: int) -> list[dict[str, Any]]:
    """Wait until exactly ``count`` tasks of ``revision`` run healthy and nothing else."""

    seen: list[Any] = [None]

    def steady() -> list[dict[str, Any]] | None:
        seen[0] = described = daemon.api("GET", f"/v1/services/{name}")
        live = [t for t in described["tasks"] if t["lastStatus"] != "STOPPED"]
        healthy = [t for t in live if t["health"] == "healthy" and t["taskDefinition"] == revision]
        return healthy if len(healthy) == count == len(live) else None

    try:
        return wait_until(steady, timeout=TIMEOUT, what=f"{count} healthy tasks of {revision}")
    except AssertionError as error:
        raise AssertionError(f"{error}; last seen:\n{_summary(seen[0])}") from None


def _summary(described: dict[str, Any] | None) -> str:
    """Deployments, tasks and the last events of a described service, for a failure."""
    if described is None:
        return "(nothing)"
    service = described["service"]
    lines = [
        f"deployment {d['taskDefinition']} {d['status']} {d['rolloutState']} "
        f"desired={d['desiredCount']} running={d['runningCount']}"
        for d in service["deployments"]
    ]
    lines += [
        f"task {t['taskId'][:8]} {t['taskDefinition']} {t['lastStatus']} {t['health']}"
        for t in described["tasks"]
    ]
    lines += [e["message"] for e in service["events"][:8]]
    return "\n".join(lines)


@pytest.fixture
def service(daemon: Daemon, unique_name: Callable[..., str]) -> Iterator[list[str]]:
    """Names of the services a test creates; deleted (forced) afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        daemon.raw("DELETE", f"/v1/services/{name}", params={"force": "true"})


def ids(outcomes: list[Any]) -> set[str]:
    """The ids of the tasks that gave these answers."""
    return {o.body.split()[-1] for o in outcomes}


def test_killing_one_of_three_tasks_under_load_costs_only_what_it_held(
    daemon: Daemon,
    engine: DockerEngine,
    faulty_image: str,
    unique_name: Callable[..., str],
    service: list[str],
) -> None:
    name = unique_name("kill")
    service.append(name)
    revision = register(daemon, task_definition(name, faulty_image, "blue"))
    url = create_service(daemon, name, revision, 3)
    (victim, *_) = serving(daemon, name, revision, 3)

    with Load(url, threads=THREADS) as load:
        load.wait_answers(30, timeout=TIMEOUT, what="answers before the kill")
        before = ids(load.answers)
        killed_at = time.monotonic()
        for container in engine.list({"dockyard.task": victim["taskId"]}):
            engine.kill(container.id)

        def replacement() -> float | None:
            new = [o.at for o in load.answers if o.at > killed_at and ids([o]) - before]
            return min(new) if new else None

        served_at = wait_until(replacement, timeout=TIMEOUT, what="a replacement to serve")
        load.wait_answers(30, timeout=TIMEOUT, what="answers after the replacement")
    serving(daemon, name, revision, 3)

    figure("kill: replacement serving after (s)", round(served_at - killed_at, 2))
    figure("kill: requests", load.count())
    figure("kill: failed requests", len(load.failures))
    # A killed task takes the requests it was answering with it (one per client thread
    # at most): they reached it, so they are not re-sent. Nothing else may fail.
    assert len(load.failures) <= THREADS, load.failures[:5]
    # 502, or the client's connection closed when its request went on a kept-alive one
    assert all(f.status in (0, 502) for f in load.failures), load.failures[:5]
    assert len(before) == 3


def test_a_request_that_crashes_its_task_fails_alone(
    daemon: Daemon, faulty_image: str, unique_name: Callable[..., str], service: list[str]
) -> None:
    name = unique_name("crash")
    service.append(name)
    revision = register(daemon, task_definition(name, faulty_image, "blue"))
    url = create_service(daemon, name, revision, 3)
    tasks = serving(daemon, name, revision, 3)

    with Load(url, threads=THREADS) as load:
        load.wait_answers(30, timeout=TIMEOUT, what="answers before the poisonous request")
        crashed = httpx.post(f"{url}?crash=1", content=b"x", timeout=30)
        load.wait_answers(30, timeout=TIMEOUT, what="answers after it")

    figure("crash: poisonous request answered", crashed.status_code)
    figure("crash: other requests", load.count())
    figure("crash: other failed requests", len(load.failures))
    assert crashed.status_code == 502
    # Only what the crashed task itself held may fail with it: a client request it was
    # answering at that instant (one per client thread at most; with 3 tasks and 2
    # threads the balancer usually sends the poisonous request to the idle one).
    assert len(load.failures) <= THREADS, load.failures

    original = {t["taskId"] for t in tasks}

    def crashed_one_gone() -> list[dict[str, Any]] | None:
        # the crashed task may already be replaced and forgotten when first looked at:
        # what must hold is that exactly two of the three original tasks still run
        described: list[dict[str, Any]] = daemon.api("GET", f"/v1/services/{name}")["tasks"]
        running = {t["taskId"] for t in described if t["lastStatus"] == "RUNNING"}
        return described if len(original & running) == 2 else None

    described = wait_until(crashed_one_gone, timeout=TIMEOUT, what="the crashed task gone")
    dead = [t for t in described if t["taskId"] in original and t["lastStatus"] == "STOPPED"]
    assert all(t["containers"][0]["exitCode"] == 3 for t in dead), dead


def test_a_daemon_killed_mid_deployment_finishes_it_without_losing_or_doubling_tasks(
    daemon: Daemon,
    engine: DockerEngine,
    faulty_image: str,
    unique_name: Callable[..., str],
    service: list[str],
) -> None:
    name = unique_name("sigkill")
    service.append(name)
    blue = register(daemon, task_definition(name, faulty_image, "blue"))
    green = register(daemon, task_definition(name, faulty_image, "green"))
    create_service(daemon, name, blue, 2)
    serving(daemon, name, blue, 2)

    daemon.api("POST", f"/v1/services/{name}", json={"taskDefinition": green})

    def green_started() -> bool:
        tasks = daemon.api("GET", f"/v1/services/{name}")["tasks"]
        return any(t["taskDefinition"] == green for t in tasks)

    wait_until(green_started, timeout=TIMEOUT, what="the first task of the new revision")
    daemon.kill()
    killed_at = time.monotonic()
    daemon.start()

    tasks = serving(daemon, name, green, 2)
    figure("sigkill: deployment finished after restart (s)", round(time.monotonic() - killed_at, 2))
    described = daemon.api("GET", f"/v1/services/{name}")
    assert [d["rolloutState"] for d in described["service"]["deployments"]] == ["COMPLETED"]

    def containers_settled() -> bool:
        running = [c for c in engine.list({"dockyard.service": name}) if c.running]
        return len(running) == 2

    wait_until(containers_settled, timeout=TIMEOUT, what="the old tasks' containers to go")
    running = [c for c in engine.list({"dockyard.service": name}) if c.running]
    assert sorted(c.labels["dockyard.task"] for c in running) == sorted(t["taskId"] for t in tasks)
    holds_for(  # nothing more starts: no task was started twice
        lambda: len([c for c in engine.list({"dockyard.service": name}) if c.running]) == 2,
        seconds=3,
        what="two containers for two tasks",
    )


@pytest.mark.slow
def test_a_failed_endpoint_update_keeps_the_old_replicas_serving_and_a_crash_costs_one(
    daemon: Daemon, model_image: str, unique_name: Callable[..., str]
) -> None:
    name = unique_name("ep")
    deploy = {
        "EndpointName": name,
        "Image": model_image,
        "InstanceCount": 2,
        "ContainerStartupHealthCheckTimeoutInSeconds": 60,  # SageMaker's least
    }
    daemon.api("POST", "/v1/endpoints", json={**deploy, "Environment": {"COLOR": "old"}})

    def status(wanted: str) -> dict[str, Any] | None:
        endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
        return endpoint if endpoint["EndpointStatus"] == wanted else None

    first = wait_until(lambda: status("InService"), timeout=TIMEOUT, what="InService")
    old_replicas = {r["TaskId"] for r in first["Replicas"]}
    try:
        with Load(first["Url"], threads=THREADS) as load:
            load.wait_answers(20, timeout=TIMEOUT, what="answers before the update")
            broken = {"COLOR": "new", "EXIT_AT_START": "1"}
            daemon.api("POST", "/v1/endpoints", json={**deploy, "Environment": broken})
            started = time.monotonic()
            wait_until(lambda: status("Updating"), timeout=TIMEOUT, what="Updating")
            back = wait_until(
                lambda: status("InService"), timeout=TIMEOUT, what="InService after the rollback"
            )
            load.wait_answers(20, timeout=TIMEOUT, what="answers after the rollback")
        figure("endpoint update: back InService after (s)", round(time.monotonic() - started, 1))
        figure("endpoint update: requests", load.count())
        figure("endpoint update: failed requests", len(load.failures))
        assert load.failures == []
        assert {o.body.split()[0] for o in load.answers} == {"old"}
        assert "did not pass the ping health check" in back["FailureReason"]
        healthy = {r["TaskId"] for r in back["Replicas"] if r["Health"] == "healthy"}
        assert healthy == old_replicas
        events = daemon.api("GET", "/v1/events", params={"kind": "endpoint", "name": name})
        assert "RollingBack" in json.dumps(events)

        # the load balancer's rule holds for endpoints too: a poisonous request fails alone
        with Load(back["Url"], threads=THREADS) as load:
            load.wait_answers(20, timeout=TIMEOUT, what="answers before the poisonous request")
            crashed = httpx.post(f"{back['Url']}?crash=1", content=b"x", timeout=30)
            load.wait_answers(20, timeout=TIMEOUT, what="answers after it")
        figure("endpoint crash: poisonous request answered", crashed.status_code)
        figure("endpoint crash: other failed requests", len(load.failures))
        assert crashed.status_code == 502
        assert len(load.failures) <= THREADS, load.failures  # what the dead replica held

        def replaced() -> set[str] | None:
            replicas = daemon.api("GET", f"/v1/endpoints/{name}")["Replicas"]
            now = {r["TaskId"] for r in replicas if r["Health"] == "healthy"}
            return now if len(now) == 2 and now != healthy else None

        survivors = wait_until(replaced, timeout=TIMEOUT, what="the crashed replica replaced")
        assert len(survivors & healthy) == 1, "the poisonous request reached both replicas"
    finally:
        daemon.api("DELETE", f"/v1/endpoints/{name}")


def _ping_ms(daemon: Daemon) -> float:
    started = time.perf_counter()
    assert daemon.client.alive()
    return (time.perf_counter() - started) * 1000


def test_a_flooding_task_and_an_oom_task_do_not_hurt_the_daemon_or_a_neighbour(
    daemon: Daemon,
    base_image: str,
    faulty_image: str,
    unique_name: Callable[..., str],
    service: list[str],
) -> None:
    name = unique_name("nbr")
    service.append(name)
    revision = register(daemon, task_definition(name, faulty_image, "blue"))
    url = create_service(daemon, name, revision, 2)
    serving(daemon, name, revision, 2)
    quiet = [_ping_ms(daemon) for _ in range(20)]

    flood = register(daemon, task_definition(unique_name("flood"), faulty_image, "x"))
    flood_doc = daemon.api("GET", f"/v1/task-definitions/{flood}")["taskDefinition"]
    hog = register(
        daemon,
        {
            "family": unique_name("hog"),
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {"name": "hog", "image": base_image, "command": ["python3", "-c", HOG]}
            ],
        },
    )
    with Load(url, threads=THREADS) as load:
        load.wait_answers(20, timeout=TIMEOUT, what="the neighbour's first answers")
        flooder = daemon.api(
            "POST",
            "/v1/tasks",
            json={
                "taskDefinition": flood,
                "overrides": {
                    "containerOverrides": [
                        {"name": "web", "environment": [{"name": "FLOOD", "value": "1"}]}
                    ]
                },
            },
        )["tasks"][0]
        hogger = daemon.api("POST", "/v1/tasks", json={"taskDefinition": hog})["tasks"][0]

        def task(task_id: str) -> dict[str, Any]:
            return dict(daemon.api("GET", f"/v1/tasks/{task_id}")["task"])

        wait_until(
            lambda: task(flooder["taskId"])["lastStatus"] == "RUNNING",
            timeout=TIMEOUT,
            what="the flooding task to run",
        )
        flooding = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            flooding.append(_ping_ms(daemon))
            time.sleep(0.1)
        oom = wait_until(
            lambda: (t := task(hogger["taskId"]))["lastStatus"] == "STOPPED" and t,
            timeout=TIMEOUT,
            what="the OOM task to stop",
        )
        load.wait_answers(20, timeout=TIMEOUT, what="the neighbour's answers after")
        daemon.api("POST", f"/v1/tasks/{flooder['taskId']}/stop", json={})

    figure("flood: daemon ping median quiet (ms)", round(statistics.median(quiet), 1))
    figure("flood: daemon ping median flooding (ms)", round(statistics.median(flooding), 1))
    figure("flood: daemon ping max flooding (ms)", round(max(flooding), 1))
    figure("flood: neighbour requests", load.count())
    figure("flood: neighbour failed requests", len(load.failures))
    assert flood_doc["family"] in flood
    assert load.failures == []
    assert oom["stopCode"] == "EssentialContainerExited"
    assert oom["containers"][0]["reason"] == OOM_REASON
    assert daemon.process is not None and daemon.process.poll() is None
    assert Path(daemon.log_path).exists()


def _web(image: str, **more: Any) -> dict[str, Any]:
    return {"name": "web", "image": image, "portMappings": [{"containerPort": 8080}], **more}


BAD_TASK_DEFINITIONS: list[tuple[str, Callable[[str], dict[str, Any]], str]] = [
    ("wrong type", lambda i: {"containerDefinitions": [_web(i, memory="lots")]}, "memory"),
    ("unknown field", lambda i: {"containerDefinitions": [_web(i, colour="blue")]}, "colour"),
    (
        "bad fargate cpu/memory pair",
        lambda i: {
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "1024",
            "memory": "512",
            "containerDefinitions": [_web(i)],
        },
        "memory",
    ),
    (
        "dependsOn cycle",
        lambda i: {
            "containerDefinitions": [
                _web(i, dependsOn=[{"containerName": "side", "condition": "START"}]),
                {
                    "name": "side",
                    "image": i,
                    "dependsOn": [{"containerName": "web", "condition": "START"}],
                },
            ]
        },
        "dependsOn",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"),
    [pytest.param(make, field, id=case) for case, make, field in BAD_TASK_DEFINITIONS],
)
def test_an_invalid_task_definition_is_refused_naming_the_field_and_registers_nothing(
    daemon: Daemon,
    faulty_image: str,
    unique_name: Callable[..., str],
    change: Callable[[str], dict[str, Any]],
    field: str,
) -> None:
    family = unique_name("bad")
    answer = daemon.raw(
        "POST", "/v1/task-definitions", json={"family": family, **change(faulty_image)}
    )

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert field in f"{body.get('field')} {body.get('message')}", body
    assert body.get("hint") or body.get("message"), body
    assert daemon.raw("GET", f"/v1/task-definitions/{family}").status_code == 404


BAD_SERVICE_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong type", {"desiredCount": "two"}, "desiredCount"),
    ("unknown field", {"desiredCont": 2}, "desiredCont"),
    ("unknown revision", {"taskDefinition": "FAMILY:99"}, "taskDefinition"),
    ("unknown family", {"taskDefinition": "no-such-family-anywhere:1"}, "taskDefinition"),
    (
        "load balancer on a port the container does not map",
        {"loadBalancers": [{"targetGroupArn": "x", "containerName": "web", "containerPort": 9}]},
        "loadBalancers",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"),
    [pytest.param(change, field, id=case) for case, change, field in BAD_SERVICE_REQUESTS],
)
def test_an_invalid_service_request_is_refused_naming_the_field_and_creates_nothing(
    daemon: Daemon,
    engine: DockerEngine,
    faulty_image: str,
    unique_name: Callable[..., str],
    change: dict[str, Any],
    field: str,
) -> None:
    family = unique_name("svcbad")
    revision = register(daemon, task_definition(family, faulty_image, "blue"))
    name = unique_name("svcbad")
    request = {
        "serviceName": name,
        "taskDefinition": revision,
        "desiredCount": 1,
        **{
            k: (v.replace("FAMILY", family) if isinstance(v, str) else v) for k, v in change.items()
        },
    }

    def names() -> set[str]:
        return {s["serviceName"] for s in daemon.api("GET", "/v1/services")["services"]}

    before = names()

    answer = daemon.raw("POST", "/v1/services", json=request)

    assert answer.status_code in (400, 404), answer.text
    body = answer.json()
    assert field in f"{body.get('field')} {body.get('message')}", body
    assert daemon.raw("GET", f"/v1/services/{name}").status_code == 404
    assert names() <= before  # nothing new (a service an earlier test deleted may go)
    assert engine.list({"dockyard.service": name}) == []
