"""``make bench-multi-model``: a multi-model endpoint's cold loads, hot rate and many models.

Three measurements in one run, on the benchmark's own daemon and HAProxy (the serving
benchmark's stack: state under ``--state-dir``, the engine ``dockyard setup`` prepared),
endpoints deployed with the CLI as a user deploys them:

1. **cold load** -- a multi-model endpoint (1 replica) gets its first request for each
   of ``--cold`` small scikit-learn models (iris LogisticRegression, ~1 KB joblib): the
   client-side latency of that request (fetch from the mounted prefix, extract, load,
   predict, through HAProxy), next to the second, hot request for the same model.
   Goal: under 200 ms.
2. **hot rate** -- ``wrk`` (c=``--connections``, ``--seconds``) on one loaded model of
   that endpoint, and in the same run on single-model endpoints of the same model with
   the default 2 workers and with 1 worker (a multi-model replica runs one worker, so
   the 1-worker endpoint isolates the cost of the multi-model path from the worker
   count).
3. **many models** -- a second multi-model endpoint (2 replicas, the route hashing on
   the target model) and ``--models`` models under its prefix, each padded to
   ``--pad-kb`` so that a budget of ``--budget-mb`` per replica holds only some of them;
   ``--requests`` requests with target models drawn from a Zipf law (exponent
   ``--zipf``), ``--workers`` client threads. Reports errors (the goal: none), the
   rate, latency percentiles and the loads and unloads the replicas logged.

Usage (repository root, after ``dockyard setup``)::

    .venv/bin/python bench/multi_model.py                  # ~3 min on 2 cores
    .venv/bin/python bench/multi_model.py --models 200 --requests 1000   # quicker

Results: ``bench/results/multi-model.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx
import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.serving import dockyard_side  # noqa: E402
from bench.serving.load import STATIC_LUA, LoadError, Request, _wrk, combine  # noqa: E402

RESULTS = REPO / "bench" / "results" / "multi-model.json"
ROW = "[[5.1, 3.5, 1.4, 0.2]]"  # one sample as a one-row matrix
TARGET_HEADER = "X-Amzn-SageMaker-Target-Model"


def make_models(prefix: Path, count: int, pad_bytes: int, scratch: Path) -> list[str]:
    """``count`` archives ``mNNNN/model.tar.gz`` under ``prefix``; their target names."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    joblib.dump(model, scratch / "model.joblib")
    (scratch / "pad.bin").write_bytes(b"\0" * pad_bytes)
    targets = []
    for index in range(count):
        target = f"m{index:04d}/model.tar.gz"
        archive = prefix / target
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(scratch / "model.joblib", "model.joblib")
            if pad_bytes:
                tar.add(scratch / "pad.bin", "pad.bin")
        targets.append(target)
    for path in [prefix, *prefix.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return targets


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cold_loads(url: str, targets: list[str]) -> dict[str, Any]:
    """First (cold) and second (hot) request per model, in ms, on one connection."""
    cold, hot = [], []
    with httpx.Client(timeout=60, trust_env=False) as client:
        for target in targets:
            for series in (cold, hot):
                headers = {"Content-Type": "application/json", TARGET_HEADER: target}
                started = time.perf_counter()
                response = client.post(url, content=ROW, headers=headers)
                series.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{target}: {response.status_code} {response.text}")
    return {
        "models": len(targets),
        "cold_ms": {"median": statistics.median(cold), "p90": percentile(cold, 0.9),
                    "max": max(cold)},
        "hot_ms": {"median": statistics.median(hot), "max": max(hot)},
    }  # fmt: skip


def hot_rate(url: str, connections: int, seconds: float, target: str | None) -> dict[str, Any]:
    lua = STATIC_LUA
    if target is not None:
        lua += f'wrk.headers["{TARGET_HEADER}"] = {json.dumps(target)}\n'
    request = Request("", "application/json", ROW)
    figures = combine(_wrk(url, request, lua, min(connections, 2), connections, seconds), None)
    return {"rps": figures.rps, "p50_ms": figures.p50_corrected_ms, "errors": figures.errors}


def zipf_run(
    url: str, targets: list[str], requests: int, exponent: float, workers: int
) -> dict[str, Any]:
    """``requests`` invocations, target models Zipf-distributed; statuses and latencies."""
    rng = np.random.default_rng(7)
    order = rng.permutation(len(targets))  # the popular models are spread over the names
    ranks = rng.zipf(exponent, size=requests * 4)
    ranks = ranks[ranks <= len(targets)][:requests] - 1
    chosen = [targets[order[rank]] for rank in ranks]

    def send(batch: list[str]) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(timeout=60, trust_env=False) as client:
            for target in batch:
                headers = {"Content-Type": "application/json", TARGET_HEADER: target}
                started = time.perf_counter()
                status = client.post(url, content=ROW, headers=headers).status_code
                out.append((status, (time.perf_counter() - started) * 1000))
        return out

    batches = [chosen[i::workers] for i in range(workers)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = [item for part in pool.map(send, batches) for item in part]
    seconds = time.perf_counter() - started
    latencies = [ms for _, ms in results]
    return {
        "requests": len(results),
        "distinct_models": len(set(chosen)),
        "errors": sum(1 for status, _ in results if status != 200),
        "rps": len(results) / seconds,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "seconds": seconds,
    }


def replica_loads(engine_url: str, endpoint: str) -> dict[str, int]:
    """Loads and unloads each replica of ``endpoint`` logged."""
    client = docker.DockerClient(base_url=engine_url)
    counts = {"loads": 0, "unloads": 0, "replicas": 0}
    for container in dockyard_side.replica_containers(client, endpoint):
        text = container.logs().decode(errors="replace")
        counts["loads"] += text.count(" loaded from ")
        counts["unloads"] += text.count(" unloaded (")
        counts["replicas"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/dockyard-bench-mme"))
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--pad-kb", type=int, default=16)
    parser.add_argument("--budget-mb", type=float, default=2.0)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--zipf", type=float, default=1.2)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-mme-"))
    work.chmod(0o755)
    log = work / "deploy.log"
    (work / "scratch-a").mkdir()
    (work / "scratch-b").mkdir()
    small = make_models(work / "small", max(args.cold, 1), 0, work / "scratch-a")
    many = make_models(work / "many", args.models, args.pad_kb * 1024, work / "scratch-b")
    single = work / "small" / small[0]
    stack = dockyard_side.open_stack(args.state_dir, None)
    deployed = []
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": len(__import__("os").sched_getaffinity(0)),
                    "python": platform.python_version()},
        "settings": vars(args) | {"state_dir": str(args.state_dir)},
    }  # fmt: skip
    try:
        plans = {
            "mme": ["--framework", "sklearn", "--multi-model", "--model-prefix",
                    str(work / "small"), "--model-memory-mb", "64"],
            "single2": ["--framework", "sklearn", "--model-data", str(single)],
            "single1": ["--framework", "sklearn", "--model-data", str(single),
                        "--env", "SAGEMAKER_MODEL_SERVER_WORKERS=1"],
            "many": ["--framework", "sklearn", "--multi-model", "--model-prefix",
                     str(work / "many"), "--model-memory-mb", f"{args.budget_mb:g}"],
        }  # fmt: skip
        urls = {}
        for key, flags in plans.items():
            name = f"bench-{key}"
            if key == "many":
                flags = [*flags, "--replicas", "2"]
            started = time.perf_counter()
            endpoint = dockyard_side.deploy(stack, name, flags, log)
            deployed.append(name)
            if endpoint.url is None:
                raise SystemExit(f"deploy {name} failed: {endpoint.error} (see {log})")
            urls[key] = endpoint.url
            print(f"deployed {name} in {time.perf_counter() - started:.1f} s", flush=True)
        results["cold_load"] = cold_loads(urls["mme"], small)
        print("cold load:", json.dumps(results["cold_load"]), flush=True)
        rates = {}
        for key, target in (("single2", None), ("mme", small[0]), ("single1", None)):
            rates[key] = hot_rate(urls[key], args.connections, args.seconds, target)
            print(f"hot rate {key}:", json.dumps(rates[key]), flush=True)
        results["hot_rate"] = rates
        results["many_models"] = zipf_run(
            urls["many"], many, args.requests, args.zipf, args.workers
        ) | {"models": args.models, **replica_loads(stack.settings.engine_url, "bench-many")}
        print("many models:", json.dumps(results["many_models"]), flush=True)
    except LoadError as exc:
        raise SystemExit(f"wrk failed: {exc}") from None
    finally:
        for name in deployed:
            dockyard_side.delete(stack, name)
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
