"""``make bench-transform``: a batch transform job's throughput next to the same model's
saturated endpoint, in one run.

Usage (from the repository root, after ``dockyard setup``)::

    .venv/bin/python bench/transform.py                  # ~2 min on 2 cores
    .venv/bin/python bench/transform.py --rows 500000    # a quicker look

The model is the serving benchmark's iris LogisticRegression on the pre-built
scikit-learn image (:mod:`bench.serving.model`). A private daemon (its own state
directory, on the installation's engine) runs, in turn:

1. **endpoint**: one replica behind the load balancer; a load generator in its own
   process posts the *same* mini-batches the transform job sends (as many CSV rows as
   fit in MaxPayloadInMB) for ``--duration`` seconds at each concurrency in ``--c``;
   the best rows/s is the endpoint's saturated rate. The endpoint is deleted before
   the next step, so the two never share the CPU.
2. **transform**: one replica, MaxConcurrentTransforms ``--concurrent``,
   MaxPayloadInMB ``--payload-mb``, over ``--rows`` rows in ``--files`` files; rows/s
   from the moment the driver starts sending (its parameters appear in the job's
   description) to the moment the last file is complete. The replica's start is
   reported apart.

The result is the ratio transform / endpoint (goal >= 0.8), written to
``bench/results/transform.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "integration")]

from dockyard_daemon import Daemon, free_port, wait_until  # noqa: E402

from bench.serving.model import train  # noqa: E402
from dockyard.adapters.engine import connect  # noqa: E402
from dockyard.settings import Settings  # noqa: E402

RESULTS = REPO / "bench" / "results" / "transform.json"
MB = 1024 * 1024


def rows(count: int, seed: int = 0) -> list[bytes]:
    """Iris-like rows, one decimal each (16 bytes with the newline)."""
    pick = random.Random(seed)
    return [
        f"{pick.uniform(4, 8):.1f},{pick.uniform(2, 4.5):.1f},"
        f"{pick.uniform(1, 7):.1f},{pick.uniform(0.1, 2.5):.1f}".encode()
        for _ in range(count)
    ]


def mini_batch(payload_mb: int) -> tuple[bytes, int]:
    """One request as the transform job packs it: as many rows as fit in the payload."""
    body, count, size = [], 0, 0
    for row in rows(200_000, seed=1):
        if size + len(row) + 1 > payload_mb * MB:
            break
        body.append(row + b"\n")
        size += len(row) + 1
        count += 1
    return b"".join(body), count


def _load(url: str, body: bytes, concurrency: int, duration: float, out: Any) -> None:
    """The load generator (its own process): requests answered 2xx, errors."""
    done, errors = [0], [0]
    stop = time.monotonic() + duration

    def worker() -> None:
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                try:
                    answer = http.post(
                        url,
                        content=body,
                        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                    )
                except httpx.HTTPError:
                    errors[0] += 1
                    continue
                if answer.is_success:
                    done[0] += 1
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((done[0], errors[0], time.monotonic() - started))


def deploy_endpoint(daemon: Daemon, model_tar: Path, image: str) -> str:
    """One replica of the model behind the load balancer; its URL."""
    name = "bench-transform-ep"
    daemon.api(
        "POST",
        "/v1/endpoints",
        json={"EndpointName": name, "Image": image, "ModelDataUrl": str(model_tar)},
    )
    wait_until(
        lambda: daemon.api("GET", f"/v1/endpoints/{name}")["EndpointStatus"] == "InService",
        timeout=300,
        what="the endpoint to be InService",
        interval=0.2,
    )
    return str(daemon.api("GET", f"/v1/endpoints/{name}")["Url"])


def endpoint_rate(
    url: str, body: bytes, per_request: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The best rows/s over the concurrency levels (the saturated rate)."""
    runs = []
    context = multiprocessing.get_context("spawn")
    for concurrency in args.c:
        queue: Any = context.Queue()
        process = context.Process(target=_load, args=(url, body, concurrency, args.duration, queue))
        process.start()
        done, errors, seconds = queue.get()
        process.join()
        runs.append(
            {
                "concurrency": concurrency,
                "requests": done,
                "errors": errors,
                "seconds": round(seconds, 2),
                "rows_per_s": round(done * per_request / seconds),
            }
        )
        print(f"  endpoint c={concurrency}: {runs[-1]['rows_per_s']:,} rows/s, {errors} errors")
    best = max(runs, key=lambda r: r["rows_per_s"])
    return {"runs": runs, "rows_per_s": best["rows_per_s"]}


def write_input(source: Path, args: argparse.Namespace) -> int:
    """The job's input files; how many rows each holds."""
    source.mkdir()
    per_file = args.rows // args.files
    for index in range(args.files):
        (source / f"part-{index}.csv").write_bytes(
            b"\n".join(rows(per_file, seed=10 + index)) + b"\n"
        )
    return per_file


def transform_rate(
    daemon: Daemon,
    model_tar: Path,
    source: Path,
    out: Path,
    per_file: int,
    name: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    created = time.monotonic()
    daemon.api(
        "POST",
        "/v1/transform-jobs",
        json={
            "TransformJobName": name,
            "ModelName": name,
            "Container": {"Image": args.image, "ModelDataUrl": str(model_tar)},
            "MaxConcurrentTransforms": args.concurrent,
            "MaxPayloadInMB": args.payload_mb,
            "BatchStrategy": "MultiRecord",
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": out.as_uri(),
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "local", "InstanceCount": 1},
        },
    )
    sending = finished = None
    while True:
        job = daemon.api("GET", f"/v1/transform-jobs/{name}")
        now = time.monotonic()
        progress = job["Progress"]
        if sending is None and progress["Parameters"]:
            sending = now
        if (
            finished is None
            and progress["Records"]
            and progress["RecordsDone"] == progress["Records"]
        ):
            finished = now
        if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.2)  # a light poll: the daemon serves it from the same CPUs
    if job["TransformJobStatus"] != "Completed":
        raise SystemExit(
            f"the transform job ended {job['TransformJobStatus']}: {job.get('FailureReason')}"
        )
    finished = finished or now
    assert sending is not None
    written = sum(
        len((out / f"part-{i}.csv.out").read_bytes().splitlines()) for i in range(args.files)
    )
    if written != per_file * args.files:
        raise SystemExit(f"{written} output rows for {per_file * args.files} input rows")
    seconds = finished - sending
    result = {
        "rows": per_file * args.files,
        "files": args.files,
        "replica_start_s": round(sending - created, 2),
        "sending_s": round(seconds, 2),
        "rows_per_s": round(per_file * args.files / seconds),
        "parameters": progress["Parameters"],
    }
    print(f"  transform: {result['rows_per_s']:,} rows/s over {seconds:.1f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--payload-mb", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--c", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--image", default="dockyard/sklearn:latest")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    pairs = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-transform-") as tmp:
        work = Path(tmp)
        model = train(work / "model")
        body, per_request = mini_batch(args.payload_mb)
        per_file = write_input(work / "in", args)
        engine = connect(Settings())
        daemon = Daemon(work / "state", engine.base_url, lb_port=free_port())
        daemon.start()
        try:
            print(f"mini-batch: {per_request:,} rows, {len(body):,} bytes")
            url = deploy_endpoint(daemon, model.tarball, args.image)
            for number in range(1, args.rounds + 1):
                print(f"round {number}")
                endpoint = endpoint_rate(url, body, per_request, args)
                transform = transform_rate(
                    daemon,
                    model.tarball,
                    work / "in",
                    work / f"out-{number}",
                    per_file,
                    f"bench-transform-{number}",
                    args,
                )
                ratio = transform["rows_per_s"] / endpoint["rows_per_s"]
                pairs.append({"endpoint": endpoint, "transform": transform, "ratio": ratio})
        finally:
            daemon.cleanup(engine)
            engine.close()
    ratio = statistics.median(p["ratio"] for p in pairs)
    print(f"transform / endpoint, median of {len(pairs)} rounds: {ratio:.2f} (goal >= 0.80)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cores": multiprocessing.cpu_count(),
                },
                "image": args.image,
                "rows": per_file * args.files,
                "mini_batch_rows": per_request,
                "payload_mb": args.payload_mb,
                "max_concurrent_transforms": args.concurrent,
                "endpoint_concurrency": args.c,
                "rounds": pairs,
                "ratio": round(ratio, 3),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
