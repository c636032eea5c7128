"""Batch transform jobs on real containers, through the CLI and a real daemon.

The model is a small HTTP server image (built from the offline base image): each CSV
line ``i,x`` of a request becomes ``i:<2x>``; a line holding ``fail`` makes the whole
request answer 500; ``/execution-parameters`` asks for MultiRecord batches of at most
1 MB, two in flight. ``DELAY`` slows every request down, so that a job is still
running when a test kills its daemon or its container. Every output is checked line
by line against its input: a record written twice, lost or out of order fails it.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dockyard_daemon import Daemon, wait_until

from dockyard.adapters.engine import DockerEngine

pytestmark = pytest.mark.integration

TIMEOUT = 240.0

MODEL = """
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("DELAY", "0"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms stall

    def _answer(self, status, body, kind="text/csv"):
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            self._answer(200, b"")
        elif self.path == "/execution-parameters":
            body = {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                    "MaxPayloadInMB": 1}
            self._answer(200, json.dumps(body).encode(), "application/json")
        else:
            self._answer(404, b"not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        time.sleep(DELAY)
        lines = body.decode().splitlines()
        if any("fail" in line for line in lines):
            self._answer(500, b"cannot score a record that says fail")
            return
        out = []
        for line in lines:
            key, value = line.split(",")
            out.append(f"{key}:{2 * int(value)}")
        self._answer(200, ("\\n".join(out) + "\\n").encode())

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def model_image(script_image: Callable[..., str]) -> str:
    """The model server as an inference image: started as ``IMAGE serve``, like SageMaker's."""
    return script_image("transform-model", MODEL, inference=True)


def write_csv(
    path: Path, first: int, count: int, fail_at: frozenset[int] = frozenset()
) -> list[str]:
    """Lines ``i,i*3`` (those at the records in ``fail_at`` say fail); the outputs expected."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "fail,0" if index in fail_at else f"{first + index},{(first + index) * 3}"
        for index in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return [f"{first + i}:{(first + i) * 6}" for i in range(count)]


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def transform(daemon: Daemon, name: str, image: str, source: Path, out: Path, *extra: str) -> Any:
    return daemon.cli(
        "transform", name, "--model", image, "--input", str(source), "--output", str(out),
        "--content-type", "text/csv", "--split-type", "Line", "--assemble-with", "Line",
        *extra,
    )  # fmt: skip


def describe(daemon: Daemon, name: str) -> dict[str, Any]:
    return dict(daemon.api("GET", f"/v1/transform-jobs/{name}"))


def ended(daemon: Daemon, name: str) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (job := describe(daemon, name))["TransformJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and job
        ),
        timeout=TIMEOUT,
        what=f"transform job {name} to end",
        interval=0.2,
    )


def test_a_job_transforms_every_file_in_order_with_the_containers_parameters(
    daemon: Daemon, model_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    name = unique_name("tf")
    source, out = tmp_path / "in", tmp_path / "out"
    first = write_csv(source / "a.csv", 0, 3000)
    second = write_csv(source / "part" / "b.csv", 5000, 40)

    shown = ok(transform(daemon, name, model_image, source, out, "--instance-count", "2"))

    assert "Completed" in shown
    assert (out / "a.csv.out").read_text().splitlines() == first
    assert (out / "part" / "b.csv.out").read_text().splitlines() == second
    job = describe(daemon, name)
    assert job["TransformJobStatus"] == "Completed"
    assert job["TransformResources"]["InstanceCount"] == 2
    assert job["TransformEndTime"] >= job["TransformStartTime"]
    parameters = job["Progress"]["Parameters"]  # nothing in the request: the container's
    assert parameters["MaxPayloadInMB"] == "1"
    assert parameters["MaxConcurrentTransforms"] == "2"
    assert parameters["MaxPayloadInMBSource"] == "container"
    listed = ok(daemon.cli("transform-jobs"))
    assert name in listed and "Completed" in listed


def test_a_failing_record_fails_its_file_and_the_job_and_the_others_complete(
    daemon: Daemon, model_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    name = unique_name("tf")
    source, out = tmp_path / "in", tmp_path / "out"
    good = write_csv(source / "a.csv", 0, 20)
    write_csv(source / "b.csv", 100, 3000, fail_at=frozenset({1233, 2500}))
    also_good = write_csv(source / "c.csv", 200, 20)

    result = transform(daemon, name, model_image, source, out, "--max-payload-mb", "1")

    assert result.returncode == 1
    job = describe(daemon, name)
    assert job["TransformJobStatus"] == "Failed"
    assert "b.csv: record 1234 (line 1234)" in job["FailureReason"]  # the first of the two
    assert "500" in job["FailureReason"]
    assert (out / "a.csv.out").read_text().splitlines() == good
    assert (out / "c.csv.out").read_text().splitlines() == also_good
    assert not (out / "b.csv.out").exists()


def test_a_job_whose_replica_is_killed_completes_with_every_record_once(
    daemon: Daemon,
    engine: DockerEngine,
    model_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    name = unique_name("tf")
    source, out = tmp_path / "in", tmp_path / "out"
    expected = write_csv(source / "a.csv", 0, 400)
    started = transform(
        daemon, name, model_image, source, out,
        "--strategy", "SingleRecord", "--max-concurrent", "1", "--env", "DELAY=0.02",
        "--no-wait",
    )  # fmt: skip
    ok(started)
    wait_until(
        lambda: describe(daemon, name)["Progress"]["RecordsDone"] >= 60,
        timeout=TIMEOUT,
        what="a checkpoint of 60 records",
    )
    replicas = engine.list({"dockyard.transform-job": name})
    assert len(replicas) == 1
    engine.kill(replicas[0].id)

    job = ended(daemon, name)

    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert (out / "a.csv.out").read_text().splitlines() == expected
    events = daemon.api("GET", "/v1/events", params={"kind": "transform_job", "name": name})
    assert any("replacing it" in e["Message"] for e in events["Events"])


def test_a_job_whose_daemon_is_killed_completes_after_a_restart_with_every_record_once(
    daemon: Daemon, model_image: str, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    name = unique_name("tf")
    source, out = tmp_path / "in", tmp_path / "out"
    first = write_csv(source / "a.csv", 0, 300)
    second = write_csv(source / "b.csv", 1000, 100)
    ok(
        transform(
            daemon, name, model_image, source, out,
            "--strategy", "SingleRecord", "--max-concurrent", "1", "--env", "DELAY=0.02",
            "--no-wait",
        )
    )  # fmt: skip
    wait_until(
        lambda: describe(daemon, name)["Progress"]["RecordsDone"] >= 60,
        timeout=TIMEOUT,
        what="a checkpoint of 60 records",
    )
    assert daemon.process is not None
    os.kill(daemon.process.pid, signal.SIGKILL)
    daemon.process.wait()
    daemon.process = None
    assert not (out / "a.csv.out").exists()  # the job was mid-way

    daemon.start()
    job = ended(daemon, name)

    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert (out / "a.csv.out").read_text().splitlines() == first
    assert (out / "b.csv.out").read_text().splitlines() == second


def test_a_job_from_a_create_transform_job_file_stops_on_request(
    daemon: Daemon,
    engine: DockerEngine,
    model_image: str,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    name = unique_name("tf")
    source, out = tmp_path / "in", tmp_path / "out"
    write_csv(source / "a.csv", 0, 2000)
    request = {
        "TransformJobName": name,
        "ModelName": name,
        "Container": {"Image": model_image, "Environment": {"DELAY": "0.02"}},
        "BatchStrategy": "SingleRecord",
        "MaxConcurrentTransforms": 1,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": out.as_uri(), "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "local", "InstanceCount": 1},
    }
    document = tmp_path / "job.json"
    document.write_text(json.dumps(request))
    ok(daemon.cli("transform", name, "--from-json", str(document), "--no-wait"))
    wait_until(
        lambda: describe(daemon, name)["Progress"]["RecordsDone"] > 0,
        timeout=TIMEOUT,
        what="the first records",
    )

    ok(daemon.cli("stop-transform-job", name))
    job = ended(daemon, name)

    assert job["TransformJobStatus"] == "Stopped"
    assert not (out / "a.csv.out").exists()
    wait_until(
        lambda: not engine.list({"dockyard.transform-job": name}),
        timeout=TIMEOUT,
        what="the replica to be removed",
    )
