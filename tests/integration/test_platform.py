"""The whole platform end to end: a real daemon, real containers, HAProxy in front.

Every test drives ``dockyard server`` through its API (or the CLI) the way a user
does: train in the sklearn framework image, package the model with ``/v1/builds``,
deploy replicas behind the load balancer, predict, break things, restart. One
daemon serves the module, one trained model and one 2-replica endpoint serve the
tests that need them; tests that change the endpoint leave it as they found it.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from dockyard_daemon import Daemon, free_port, holds_for, wait_until

from dockyard.adapters.artifacts.local import LocalArtifactStore, parse_uri
from dockyard.adapters.engine import DockerEngine
from dockyard.server.training import network_of

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
FINAL = ("Completed", "Failed", "Stopped")
JOB_TIMEOUT = 180.0
ENDPOINT_TIMEOUT = 180.0

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.7, 1.5], [7.7, 3.0, 6.1, 2.3]]
IRIS_SPECIES = ["setosa", "versicolor", "virginica"]
IRIS_CSV = "".join(",".join(str(v) for v in row) + "\n" for row in IRIS_ROWS)

HOSTS_SCRIPT = """
    import json, os, socket, time
    from pathlib import Path

    me = os.environ["SM_CURRENT_HOST"]
    hosts = json.loads(os.environ["SM_HOSTS"])

    def resolve(name):
        deadline = time.monotonic() + 120
        while True:
            try:
                return socket.gethostbyname(name)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    addresses = {host: resolve(host) for host in hosts}
    for host, address in addresses.items():
        print(f"{me} resolved {host} -> {address}", flush=True)
    Path(os.environ["SM_MODEL_DIR"], f"hosts-{me}.json").write_text(json.dumps(addresses))

    # meet by name: the hosts reach each other there, not only resolve
    if me == hosts[0]:
        with socket.create_server(("0.0.0.0", 7777)) as server:
            server.settimeout(120)
            for _ in hosts[1:]:
                peer, _ = server.accept()
                with peer:
                    print(f"{me} met {peer.recv(64).decode()}", flush=True)
                    peer.sendall(me.encode())
    else:
        deadline = time.monotonic() + 120
        while True:
            try:
                peer = socket.create_connection((hosts[0], 7777), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with peer:
            peer.sendall(me.encode())
            print(f"{me} met {peer.recv(64).decode()}", flush=True)
"""

EARLY_EXIT_SCRIPT = """
    import os, socket, time
    from pathlib import Path

    me = os.environ["SM_CURRENT_HOST"]
    if me == "algo-2":
        raise SystemExit(0)  # done at once: its container stops

    # the test drops /tmp/go once algo-2's container has exited
    deadline = time.monotonic() + 120
    while not Path("/tmp/go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never told that algo-2 had left")
        time.sleep(0.1)
    address = socket.gethostbyname("algo-2")
    print(f"{socket.gethostname()} resolved algo-2 -> {address} after it left", flush=True)
"""

FAILING_SCRIPT = """
    raise RuntimeError("the sky is falling: bad learning rate")
"""

SLEEPING_SCRIPT = """
    import signal, sys, time

    def on_term(signum, frame):
        print("caught SIGTERM, saving and leaving", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    print("sleeping", flush=True)
    time.sleep(600)
"""


# -- helpers ------------------------------------------------------------------------------


def training_request(
    name: str,
    image: str,
    code_dir: Path,
    entry_point: str,
    *,
    hosts: int = 1,
    max_runtime: int = 600,
    channels: dict[str, str] | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CreateTrainingJob request in script mode (what the SageMaker SDK sends)."""
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": entry_point,
            "sagemaker_submit_directory": code_dir.as_uri(),
            **(hyperparameters or {}),
        },
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in (channels or {}).items()
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://dockyard/training-jobs"},
        "ResourceConfig": {"InstanceCount": hosts, "InstanceType": "local", "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if not channels:
        del request["InputDataConfig"]  # the SDK sends no member rather than an empty list
    return request


def wait_for_job(daemon: Daemon, name: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = daemon.api("GET", f"/v1/training-jobs/{name}")
        return job if job["TrainingJobStatus"] in FINAL else None

    return wait_until(ended, timeout=JOB_TIMEOUT, what=f"training job {name} to end", interval=0.2)


def job_logs(daemon: Daemon, name: str) -> dict[str, list[str]]:
    """Each host's log lines."""
    lines: dict[str, list[str]] = {}
    for item in daemon.client.stream("GET", f"/v1/training-jobs/{name}/logs"):
        if "line" in item:
            lines.setdefault(item["host"], []).append(item["line"])
    return lines


def model_tarball(daemon: Daemon, job: dict[str, Any]) -> Path:
    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    return LocalArtifactStore(daemon.settings.artifacts_dir).local_path(parse_uri(uri))


def write_script(directory: Path, name: str, source: str) -> Path:
    """A script in its own code directory, readable by the images' non-root user."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    script = directory / name
    script.write_text(textwrap.dedent(source))
    script.chmod(0o644)
    return directory


def wait_in_service(daemon: Daemon, name: str, replicas: int) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
        assert endpoint["EndpointStatus"] != "Failed", endpoint.get("FailureReason")
        healthy = [r for r in endpoint["Replicas"] if r["Health"] == "healthy"]
        in_service = endpoint["EndpointStatus"] == "InService"
        return endpoint if in_service and len(healthy) == replicas else None

    return wait_until(ready, timeout=ENDPOINT_TIMEOUT, what=f"{name} InService with {replicas}")


def wait_gone(daemon: Daemon, name: str) -> None:
    wait_until(
        lambda: daemon.raw("GET", f"/v1/endpoints/{name}").status_code == 404,
        timeout=ENDPOINT_TIMEOUT,
        what=f"{name} to be deleted",
    )


def delete_endpoint(daemon: Daemon, name: str) -> None:
    daemon.api("DELETE", f"/v1/endpoints/{name}")
    wait_gone(daemon, name)


def healthy_tasks(endpoint: dict[str, Any]) -> set[str]:
    return {r["TaskId"] for r in endpoint["Replicas"] if r["Health"] == "healthy"}


def predict_csv(url: str, client: httpx.Client | None = None) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(
        url,
        content=IRIS_CSV,
        headers={"content-type": "text/csv", "accept": "application/json"},
        timeout=30,
    )


def no_change(snapshot: Callable[[], Any]) -> Callable[[], None]:
    """Remember ``snapshot()`` now; the returned check asserts it is still the same."""
    before = snapshot()

    def check() -> None:
        assert snapshot() == before

    return check


# -- module fixtures ----------------------------------------------------------------------

#: the iris example prints five cross-validation accuracies, then the test accuracy
IRIS_METRICS = [
    {"Name": "validation:accuracy", "Regex": "validation accuracy: ([0-9.]+)"},
    {"Name": "test:accuracy", "Regex": "test accuracy: ([0-9.]+)"},
]


@pytest.fixture(scope="module")
def code_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("code")
    root.chmod(0o755)
    return {
        "hosts": write_script(root / "hosts", "hosts.py", HOSTS_SCRIPT),
        "early": write_script(root / "early", "early.py", EARLY_EXIT_SCRIPT),
        "failing": write_script(root / "failing", "fail.py", FAILING_SCRIPT),
        "sleeping": write_script(root / "sleeping", "sleep.py", SLEEPING_SCRIPT),
    }


@pytest.fixture(scope="module")
def trained_job(
    daemon: Daemon, framework_image: str, unique_name: Callable[..., str]
) -> dict[str, Any]:
    """The iris example trained once in the framework image (script mode)."""
    name = unique_name("iris")
    request = training_request(
        name,
        framework_image,
        EXAMPLE / "code",
        "train.py",
        channels={"train": (EXAMPLE / "data" / "train").as_uri()},
        hyperparameters={"C": "1.0", "max-iter": "200"},
    )
    request["AlgorithmSpecification"]["MetricDefinitions"] = IRIS_METRICS
    daemon.api("POST", "/v1/training-jobs", json=request)
    return wait_for_job(daemon, name)


@pytest.fixture(scope="module")
def iris_image(
    daemon: Daemon,
    engine: DockerEngine,
    trained_job: dict[str, Any],
    unique_name: Callable[..., str],
) -> Iterator[str]:
    """examples/iris/serve + the trained model, built through ``POST /v1/builds``."""
    assert trained_job["TrainingJobStatus"] == "Completed", trained_job.get("FailureReason")
    result = daemon.stream_result(
        "POST",
        "/v1/builds",
        json={
            "ModelDir": str(EXAMPLE / "serve"),
            "Tag": f"{unique_name('iris-image')}:1",
            "Framework": "sklearn",
            "ModelData": trained_job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    yield str(result["Image"])
    # the endpoints using it are gone first (fixture order); its layers go with it
    with docker.APIClient(base_url=engine.base_url, version="auto") as api:
        api.remove_image(result["Image"], force=True)


@pytest.fixture(scope="module")
def iris_endpoint(
    daemon: Daemon, iris_image: str, unique_name: Callable[..., str]
) -> Iterator[dict[str, Any]]:
    """The iris image deployed with 2 replicas, InService (deleted at the end)."""
    name = unique_name("iris-ep")
    daemon.api(
        "POST",
        "/v1/endpoints",
        json={"EndpointName": name, "Image": iris_image, "InstanceCount": 2},
    )
    yield wait_in_service(daemon, name, replicas=2)
    delete_endpoint(daemon, name)


# -- training -----------------------------------------------------------------------------


def test_metric_definitions_read_the_job_s_output_into_series_and_final_values(
    daemon: Daemon, trained_job: dict[str, Any]
) -> None:
    final = {m["MetricName"]: m["Value"] for m in trained_job["FinalMetricDataList"]}
    assert set(final) == {"validation:accuracy", "test:accuracy"}
    assert 0.5 < final["test:accuracy"] <= 1.0
    name = trained_job["TrainingJobName"]
    series = daemon.api("GET", f"/v1/training-jobs/{name}/metrics")["Metrics"]
    by_name = {s["MetricName"]: s for s in series}
    assert len(by_name["validation:accuracy"]["Values"]) == 5
    assert by_name["validation:accuracy"]["Host"] == "algo-1"
    times = by_name["validation:accuracy"]["Timestamps"]
    assert times == sorted(times)
    assert trained_job["CreationTime"] - 5 <= times[0] <= trained_job["TrainingEndTime"] + 5


def test_training_job_completes_and_stores_model_tarball(
    daemon: Daemon, trained_job: dict[str, Any]
) -> None:
    assert trained_job["TrainingJobStatus"] == "Completed", trained_job.get("FailureReason")
    assert trained_job["SecondaryStatus"] == "Completed"
    tarball = model_tarball(daemon, trained_job)
    with tarfile.open(tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]
    assert "model.joblib" in names


def test_two_host_training_job_hosts_resolve_each_other_by_name(
    daemon: Daemon,
    engine: DockerEngine,
    framework_image: str,
    code_dirs: dict[str, Path],
    unique_name: Callable[..., str],
) -> None:
    name = unique_name("hosts")
    request = training_request(name, framework_image, code_dirs["hosts"], "hosts.py", hosts=2)
    daemon.api("POST", "/v1/training-jobs", json=request)
    job = wait_for_job(daemon, name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    with tarfile.open(model_tarball(daemon, job)) as archive:
        seen = {
            host: json.loads(archive.extractfile(f"hosts-{host}.json").read())  # type: ignore[union-attr]
            for host in ("algo-1", "algo-2")
        }
    # each host resolved both names, to the same two distinct addresses
    assert seen["algo-1"] == seen["algo-2"]
    assert len(set(seen["algo-1"].values())) == 2
    logs = job_logs(daemon, name)
    for host, other in (("algo-1", "algo-2"), ("algo-2", "algo-1")):
        assert f"{host} resolved {other} -> {seen[host][other]}" in logs[host]
        assert f"{host} met {other}" in logs[host]
    # the job's containers and private network are gone once it ended
    assert engine.list({"dockyard.training-job": name}) == []
    assert not any(network_of(name) in line for line in _networks(engine))


def test_a_host_that_exits_first_still_resolves_for_its_peer_until_the_job_ends(
    daemon: Daemon,
    engine: DockerEngine,
    framework_image: str,
    code_dirs: dict[str, Path],
    unique_name: Callable[..., str],
) -> None:
    name = unique_name("early")
    request = training_request(name, framework_image, code_dirs["early"], "early.py", hosts=2)
    daemon.api("POST", "/v1/training-jobs", json=request)
    job_labels = {"dockyard.training-job": name}

    def host(which: str, container: str) -> Any:
        labels = {**job_labels, "dockyard.host": which, "dockyard.container": container}
        found = engine.list(labels)
        return found[0] if found else None

    gone = wait_until(
        lambda: (c := host("algo-2", "training")) is not None and c.status == "exited" and c,
        timeout=JOB_TIMEOUT,
        what="algo-2's container to exit",
    )
    assert gone.exit_code == 0
    holder = host("algo-2", "~netns")  # what keeps its name on the job's network
    assert holder is not None and holder.running
    algo_1 = wait_until(
        lambda: (c := host("algo-1", "training")) is not None and c.running and c,
        timeout=JOB_TIMEOUT,
        what="algo-1 to run",
    )
    engine.put_archive(algo_1.id, "/tmp", _tar({"go": b""}))
    job = wait_for_job(daemon, name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    (line,) = [x for x in job_logs(daemon, name)["algo-1"] if "after it left" in x]
    assert line.startswith("algo-1 resolved algo-2 -> ")  # its hostname is its name, too
    # the hosts' containers, the holders of their names and the network are gone
    assert engine.list(job_labels) == []
    assert network_of(name) not in _networks(engine)


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file_name, data in files.items():
            info = tarfile.TarInfo(file_name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _networks(engine: DockerEngine) -> list[str]:
    with docker.APIClient(base_url=engine.base_url, version="auto") as api:
        return [network["Name"] for network in api.networks()]


def test_failing_training_script_fails_the_job_with_the_exception_as_reason(
    daemon: Daemon,
    framework_image: str,
    code_dirs: dict[str, Path],
    unique_name: Callable[..., str],
) -> None:
    name = unique_name("fails")
    result = daemon.cli(
        "train",
        name,
        "--framework",
        "sklearn",
        "--source-dir",
        str(code_dirs["failing"]),
        "--entry-point",
        "fail.py",
    )

    assert result.returncode != 0, result.stdout
    # after the streamed logs, the verdict line carries the reason
    _, verdict = result.stdout.split(f"{name}: Failed", 1)
    assert "RuntimeError: the sky is falling: bad learning rate" in verdict
    job = daemon.api("GET", f"/v1/training-jobs/{name}")
    assert job["TrainingJobStatus"] == "Failed"
    assert "RuntimeError: the sky is falling: bad learning rate" in job["FailureReason"]
    described = daemon.cli("training-job", name)
    _, reason = described.stdout.split("FailureReason:", 1)
    assert "RuntimeError: the sky is falling: bad learning rate" in reason


def test_training_job_over_max_runtime_is_stopped_with_sigterm(
    daemon: Daemon,
    framework_image: str,
    code_dirs: dict[str, Path],
    unique_name: Callable[..., str],
) -> None:
    name = unique_name("slow")
    request = training_request(
        name, framework_image, code_dirs["sleeping"], "sleep.py", max_runtime=3
    )
    daemon.api("POST", "/v1/training-jobs", json=request)
    job = wait_for_job(daemon, name)

    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
    # the script's own SIGTERM handler ran: the signal reached it, no SIGKILL was needed
    assert "caught SIGTERM, saving and leaving" in job_logs(daemon, name)["algo-1"]


# -- endpoints ----------------------------------------------------------------------------


@pytest.mark.podman
def test_built_image_deployed_with_two_replicas_predicts_through_the_load_balancer(
    daemon: Daemon, iris_endpoint: dict[str, Any]
) -> None:
    url = iris_endpoint["Url"]
    assert url.startswith(f"http://127.0.0.1:{daemon.lb_port}/endpoints/")
    assert len(healthy_tasks(iris_endpoint)) == 2

    as_json = predict_csv(url)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json() == {"predictions": IRIS_SPECIES}

    from_json = httpx.post(
        url,
        content=json.dumps(IRIS_ROWS),
        headers={"content-type": "application/json", "accept": "text/csv"},
        timeout=30,
    )
    assert from_json.status_code == 200, from_json.text
    assert from_json.text.split() == IRIS_SPECIES


def test_replicas_are_reached_on_their_container_address_with_no_port_published(
    daemon: Daemon, engine: DockerEngine, iris_endpoint: dict[str, Any]
) -> None:
    """On an engine this host routes to, nothing sits between HAProxy and a replica."""
    if not engine.routes_to_containers:
        pytest.skip(f"{engine!r} is reached through published ports (DOCKYARD_DATA_PATH)")
    for task_id in healthy_tasks(iris_endpoint):
        (container,) = engine.list({"dockyard.task": task_id})
        assert container.host_ports == {}, container
        assert container.ip_address is not None
        direct = httpx.get(f"http://{container.ip_address}:8080/ping", timeout=10)
        assert direct.status_code == 200
    addresses = [r["Address"] for r in iris_endpoint["Replicas"]]
    assert addresses and not any(a.startswith("127.0.0.1:") for a in addresses), addresses
    assert predict_csv(iris_endpoint["Url"]).status_code == 200


def test_an_endpoint_s_traffic_and_replica_usage_are_measured(
    daemon: Daemon, iris_endpoint: dict[str, Any]
) -> None:
    name, url = iris_endpoint["EndpointName"], iris_endpoint["Url"]
    replicas = healthy_tasks(iris_endpoint)
    with httpx.Client() as client:
        for _ in range(30):
            assert predict_csv(url, client).status_code == 200

    def measured() -> dict[str, Any] | None:
        # requests keep coming while the series fill: the collector's first reading of
        # a counter is its baseline, so requests sent only before it show as no rate
        with httpx.Client() as client:
            for _ in range(5):
                assert predict_csv(url, client).status_code == 200
        usage: dict[str, Any] = daemon.api("GET", f"/v1/metrics/{name}", params={"since": 0})
        found = {(s["Source"], s["MetricName"]) for s in usage["Series"]}
        wanted = {("lb", "requests_per_s"), ("lb", "p99_ms")}
        wanted |= {(task, "cpu_percent") for task in replicas}
        wanted |= {(task, "memory_mib") for task in replicas}
        rates = [
            v for s in usage["Series"] if s["MetricName"] == "requests_per_s" for v in s["Values"]
        ]
        return usage if wanted <= found and max(rates, default=0) > 0 else None

    usage = wait_until(measured, timeout=60, what="traffic and usage series")
    memory = [s["Values"][-1] for s in usage["Series"] if s["MetricName"] == "memory_mib"]
    assert all(mib > 1 for mib in memory)
    scraped = daemon.raw("GET", "/metrics")
    assert scraped.status_code == 200
    assert f'dockyard_route_requests_total{{route="{name}"}}' in scraped.text
    shown = daemon.cli("metrics", name)
    assert shown.returncode == 0, shown.stderr
    assert "req/s" in shown.stdout and "cpu %" in shown.stdout


def test_killed_replica_is_replaced_and_costs_at_most_the_request_it_held(
    daemon: Daemon, engine: DockerEngine, iris_endpoint: dict[str, Any]
) -> None:
    name, url = iris_endpoint["EndpointName"], iris_endpoint["Url"]
    before = healthy_tasks(wait_in_service(daemon, name, replicas=2))
    victim = sorted(before)[0]
    statuses: list[int | str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                try:
                    statuses.append(predict_csv(url, client).status_code)
                except httpx.HTTPError as error:
                    statuses.append(repr(error))

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(statuses) >= 5, timeout=30, what="traffic before the kill")
        for container in engine.list({"dockyard.task": victim}):
            engine.kill(container.id)

        def replaced() -> dict[str, Any] | None:
            endpoint: dict[str, Any] = daemon.api("GET", f"/v1/endpoints/{name}")
            healthy = healthy_tasks(endpoint)
            return endpoint if len(healthy) == 2 and victim not in healthy else None

        wait_until(replaced, timeout=ENDPOINT_TIMEOUT, what="a replacement replica")
        served = len(statuses)
        wait_until(lambda: len(statuses) >= served + 20, timeout=60, what="traffic after")
    finally:
        stop.set()
        thread.join(timeout=60)

    # A request the killed replica had already received dies with it: the load balancer
    # re-sends only requests no replica received (one that crashed its replica must not
    # crash the next). Besides the one request in flight, one more may have been written
    # to a kept-alive connection to the replica in the instant it died: HAProxy cannot
    # tell that one from a request that crashed its replica, so it closes the client's
    # connection for the client to decide, as with any reused connection.
    failures = [status for status in statuses if status != 200]
    assert len(failures) <= 2, f"{len(failures)} of {len(statuses)} requests failed: {failures}"
    assert all(f == 502 or "disconnected" in str(f) for f in failures), failures
    shown = daemon.cli("endpoint", name)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("healthy") == 2, shown.stdout


def test_a_stopped_replicas_output_outlives_its_container(
    daemon: Daemon, engine: DockerEngine, iris_endpoint: dict[str, Any]
) -> None:
    name = iris_endpoint["EndpointName"]
    victim = sorted(healthy_tasks(wait_in_service(daemon, name, replicas=2)))[0]
    for container in engine.list({"dockyard.task": victim}):
        engine.kill(container.id)

    def kept() -> dict[str, Any] | None:
        replicas = daemon.api("GET", f"/v1/endpoints/{name}/logs")["Replicas"]
        return next((r for r in replicas if r["Stopped"] and victim.startswith(r["Replica"])), None)

    stopped = wait_until(kept, timeout=ENDPOINT_TIMEOUT, what="the stopped replica's output")
    assert not engine.list({"dockyard.task": victim})  # the container itself is gone
    assert any("model server listening" in line for line in stopped["Lines"])
    wait_in_service(daemon, name, replicas=2)


def _build_versioned(
    daemon: Daemon, tmp: Path, tag: str, version: str, model_data: str
) -> dict[str, Any]:
    """The iris serve dir whose answers carry ``version``, built as ``tag``."""
    serve = tmp / "serve"
    serve.mkdir(exist_ok=True)
    (serve / "inference.py").write_text(
        "import json\n"
        "def output_fn(prediction, accept):\n"
        f"    return json.dumps({{'version': {version!r}, 'n': len(prediction)}})\n"
    )
    return daemon.stream_result(
        "POST",
        "/v1/builds",
        json={"ModelDir": str(serve), "Tag": tag, "Framework": "sklearn", "ModelData": model_data},
    )


def test_redeploying_a_rebuilt_tag_rolls_the_replicas_without_failed_requests(
    daemon: Daemon,
    engine: DockerEngine,
    trained_job: dict[str, Any],
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    model = trained_job["ModelArtifacts"]["S3ModelArtifacts"]
    tag, name = f"{unique_name('roll')}:latest", unique_name("roll-ep")
    first = _build_versioned(daemon, tmp_path, tag, "v1", model)
    deploy = {"EndpointName": name, "Image": tag, "InstanceCount": 2}
    daemon.api("POST", "/v1/endpoints", json=deploy)
    try:
        old = healthy_tasks(wait_in_service(daemon, name, replicas=2))
        url = daemon.api("GET", f"/v1/endpoints/{name}")["Url"]
        assert predict_csv(url).json()["version"] == "v1"
        second = _build_versioned(daemon, tmp_path, tag, "v2", model)
        assert second["ImageId"] != first["ImageId"]
        answers: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client() as client:
                while not stop.is_set():
                    try:
                        response = predict_csv(url, client)
                        ok = response.status_code == 200
                        answers.append(response.json()["version"] if ok else response.text)
                    except httpx.HTTPError as error:
                        answers.append(repr(error))

        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(answers) >= 5, timeout=30, what="traffic before the update")
            daemon.api("POST", "/v1/endpoints", json=deploy)

            def rolled() -> bool:
                endpoint = daemon.api("GET", f"/v1/endpoints/{name}")
                healthy = healthy_tasks(endpoint)
                done = len(healthy) == 2 and not healthy & old
                return done and endpoint["EndpointStatus"] == "InService"

            wait_until(rolled, timeout=ENDPOINT_TIMEOUT, what="the replicas to roll to v2")
            served = len(answers)
            wait_until(lambda: len(answers) >= served + 20, timeout=60, what="traffic after")
        finally:
            stop.set()
            thread.join(timeout=30)
        assert set(answers) <= {"v1", "v2"}, [a for a in answers if a not in ("v1", "v2")][:5]
        assert answers[-1] == "v2"
        wait_until(  # the old replicas stop (SIGTERM, drain) and are removed
            lambda: len(engine.list({"dockyard.endpoint": name})) == 2,
            timeout=ENDPOINT_TIMEOUT,
            what="the old replicas to be removed",
        )
    finally:
        delete_endpoint(daemon, name)
        with docker.APIClient(base_url=engine.base_url, version="auto") as api:
            api.remove_image(tag, force=True)


def test_daemon_restart_readopts_the_same_replicas(
    daemon: Daemon, engine: DockerEngine, iris_endpoint: dict[str, Any]
) -> None:
    name = iris_endpoint["EndpointName"]
    wait_in_service(daemon, name, replicas=2)

    def replicas() -> list[str]:
        return sorted(c.id for c in engine.list({"dockyard.endpoint": name}))

    before = replicas()
    assert len(before) == 2

    status = daemon.restart()

    assert status == 0, daemon.log_tail()  # a clean stop on SIGTERM
    endpoint = wait_in_service(daemon, name, replicas=2)
    assert replicas() == before
    # a few passes of the new daemon's loop: it must adopt them, not start its own
    holds_for(
        lambda: replicas() == before,
        seconds=3 * daemon.settings.reconcile_interval,
        what="the same two replica containers",
    )
    answer = predict_csv(endpoint["Url"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": IRIS_SPECIES}


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/csv", b"5.1,3.5,abc,0.2\n", 400),
        ("application/json", b"[[5.1, 3.5, 1.4", 400),
        ("application/x-unknown", b"5.1,3.5,1.4,0.2", 415),
        ("text/csv", b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16), 413),
    ],
    ids=["malformed-csv", "malformed-json", "unsupported-type", "7mb-body"],
)
def test_bad_invocation_gets_a_client_error_and_the_endpoint_keeps_serving(
    iris_endpoint: dict[str, Any], content_type: str, body: bytes, status: int
) -> None:
    url = iris_endpoint["Url"]
    answer = httpx.post(url, content=body, headers={"content-type": content_type}, timeout=60)

    assert answer.status_code == status, answer.text
    assert answer.json()["message"]
    after = predict_csv(url)
    assert after.status_code == 200, after.text


def test_the_sklearn_image_reads_and_refuses_requests_as_the_aws_container(
    iris_endpoint: dict[str, Any],
) -> None:
    url = iris_endpoint["Url"]
    csv = {"content-type": "text/csv", "accept": "application/json"}
    quoted = '"5.1","3.5","1.4","0.2"\n6.7,3.1,"4.7",1.5\n7.7,3.0,6.1,2.3\n'
    answer = httpx.post(url, content=quoted, headers=csv, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": IRIS_SPECIES}

    # one CSV line decodes flat, and scikit-learn refuses it: a 500, as on AWS
    one_line = httpx.post(url, content="5.1,3.5,1.4,0.2\n", headers=csv, timeout=30)
    assert one_line.status_code == 500, one_line.text
    assert one_line.json()["error"] == "ModelError"
    assert "Expected 2D array, got 1D array" in one_line.json()["error-message"]
    one_row = httpx.post(url, json=IRIS_ROWS[:1], timeout=30)
    assert one_row.json() == {"predictions": IRIS_SPECIES[:1]}

    refused = httpx.post(url, content=b"x", headers={"content-type": "image/png"}, timeout=30)
    assert refused.status_code == 415
    assert refused.headers["content-type"] == "application/json"
    body = refused.json()
    assert body.keys() == {"error", "error-message", "message", "stack-trace"}
    assert body["error"] == "UnsupportedFormatError"
    assert "image/png" in body["error-message"]


# -- the API's gatekeeping ----------------------------------------------------------------


def _state(daemon: Daemon, engine: DockerEngine) -> tuple[Any, ...]:
    """Everything a request could have created: records, containers, files, routes."""
    jobs = daemon.api("GET", "/v1/training-jobs")["TrainingJobSummaries"]
    endpoints = daemon.api("GET", "/v1/endpoints")["Endpoints"]
    routes = daemon.state_dir / "lb" / "routes.map"
    return (
        sorted(j["TrainingJobName"] for j in jobs),
        sorted(e["EndpointName"] for e in endpoints),
        daemon.containers(engine),
        sorted(p.name for p in (daemon.state_dir / "jobs").glob("*")),
        sorted(p.name for p in (daemon.state_dir / "models").glob("*")),
        routes.read_text() if routes.exists() else "",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["HyperParameters"].update(C=1.0), "HyperParameters"),
        (
            lambda r: r["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(
                S3Uri="file:///nowhere/at/all"
            ),
            "InputDataConfig",
        ),
        (lambda r: r.update(TrainingJobName="bad_name!"), "TrainingJobName"),
    ],
    ids=["non-string-hyperparameter", "missing-channel-path", "bad-job-name"],
)
def test_invalid_training_request_is_rejected_and_creates_nothing(
    daemon: Daemon,
    engine: DockerEngine,
    framework_image: str,
    unique_name: Callable[..., str],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    request = training_request(
        unique_name("invalid"),
        framework_image,
        EXAMPLE / "code",
        "train.py",
        channels={"train": (EXAMPLE / "data" / "train").as_uri()},
    )
    change(request)
    unchanged = no_change(lambda: _state(daemon, engine))

    answer = daemon.raw("POST", "/v1/training-jobs", json=request)

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["field"].startswith(field), body
    assert body["hint"], body
    unchanged()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r.update(Image="nobody/nothing:1"), "Image"),
        (lambda r: r.update(InstanceCount=0), "InstanceCount"),
        (lambda r: r.update(EndpointName="bad_name!"), "EndpointName"),
        (lambda r: r.update(InstanceCount="two"), "InstanceCount"),
    ],
    ids=["unknown-image", "zero-replicas", "bad-name", "non-integer-replicas"],
)
def test_invalid_deploy_request_is_rejected_and_creates_nothing(
    daemon: Daemon,
    engine: DockerEngine,
    framework_image: str,
    unique_name: Callable[..., str],
    change: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    request = {"EndpointName": unique_name("invalid"), "Image": framework_image, "InstanceCount": 1}
    change(request)
    unchanged = no_change(lambda: _state(daemon, engine))

    answer = daemon.raw("POST", "/v1/endpoints", json=request)

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert field in body["field"], body
    assert body["hint"], body
    unchanged()


def test_request_body_that_is_not_json_is_rejected_naming_json(
    daemon: Daemon, engine: DockerEngine
) -> None:
    unchanged = no_change(lambda: _state(daemon, engine))

    answer = daemon.raw(
        "POST",
        "/v1/endpoints",
        content=b"{EndpointName: x",
        headers={"content-type": "application/json"},
    )

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert "not valid JSON" in body["message"]
    assert "field" not in body
    assert body["hint"]
    unchanged()


def test_api_over_tcp_demands_the_token(
    engine: DockerEngine,
    framework_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    unique_name: Callable[..., str],
) -> None:
    address = f"127.0.0.1:{free_port()}"
    remote = Daemon(
        tmp_path_factory.mktemp("tcp") / "state",
        engine.base_url,
        lb_port=free_port(),
        tcp=address,
    )
    try:
        remote.start()
        token = (remote.state_dir / "run" / "api-token").read_text().strip()
        name = unique_name("tcp")
        deploy = {"EndpointName": name, "Image": framework_image, "InstanceCount": 1}
        with httpx.Client(base_url=f"http://{address}", timeout=30) as http:
            refused = [
                http.post("/v1/endpoints", json=deploy),
                http.post("/v1/endpoints", json=deploy, headers={"authorization": "Bearer nope"}),
                http.post("/v1/endpoints", json=deploy, headers={"authorization": token}),
            ]
            assert [r.status_code for r in refused] == [401, 401, 401]
            assert all(r.json()["hint"] for r in refused)
            assert remote.api("GET", "/v1/endpoints")["Endpoints"] == []
            assert remote.containers(engine) == []

            with_token = {"authorization": f"Bearer {token}"}
            health = http.get("/v1/health", headers=with_token)
            assert health.status_code == 200
            assert health.json()["StateDir"] == str(remote.state_dir)
            created = http.post("/v1/endpoints", json=deploy, headers=with_token)
            assert created.status_code == 201, created.text
            assert [e["EndpointName"] for e in remote.api("GET", "/v1/endpoints")["Endpoints"]] == [
                name
            ]
    finally:
        remote.cleanup(engine)


def test_deleted_endpoint_loses_its_containers_and_route(
    daemon: Daemon, engine: DockerEngine, iris_image: str, unique_name: Callable[..., str]
) -> None:
    name = unique_name("gone")
    daemon.api(
        "POST",
        "/v1/endpoints",
        json={"EndpointName": name, "Image": iris_image, "InstanceCount": 1},
    )
    url = wait_in_service(daemon, name, replicas=1)["Url"]
    assert predict_csv(url).status_code == 200
    assert len(daemon.containers(engine, {"dockyard.endpoint": name})) == 1

    answer = daemon.raw("DELETE", f"/v1/endpoints/{name}")
    assert answer.status_code == 202, answer.text

    wait_gone(daemon, name)
    assert daemon.containers(engine, {"dockyard.endpoint": name}) == []
    assert engine.list({"dockyard.endpoint": name}) == []
    gone = predict_csv(url)
    assert gone.status_code == 404
    assert name in gone.text
