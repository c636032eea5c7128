"""Push and pull of one image through Dockyard's registry, next to ``skopeo copy``.

Both tools move the same local image (by default the quickstart's ``dockyard-iris``)
in the same run, alternating, ``--rounds`` times:

* **into the registry**: ``dockyard push REPO:TAG --source IMAGE`` (the engine pushes,
  with a push credential the daemon issues) against ``skopeo copy docker-daemon:IMAGE
  docker://…`` with the credential of ``POST /v1/registry/login``. Each push goes to a
  repository of its own, so every layer is uploaded (none is already linked there);
* **out of the registry**: ``dockyard pull REPO:TAG`` (the engine pulls; its layers are
  already local, so this is what a deploy of a pushed image costs) against ``skopeo
  copy docker://… dir:`` (every layer downloaded).

It uses the installation's daemon (started if needed) and leaves no repository behind.

Usage: ``.venv/bin/python bench/registry_transfer.py [--image dockyard-iris:latest]
[--rounds 3]``; results in ``bench/results/registry-transfer.json``.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.adapters.engine import connect
from dockyard.cli.client import ApiClient
from dockyard.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "registry-transfer.json"
DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def timed(command: list[str]) -> float:
    """Seconds ``command`` took; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}… failed:\n{done.stderr or done.stdout}")
    return seconds


def credentials(client: ApiClient) -> tuple[str, str]:
    """``(user:password, registry host)`` as ECR's GetAuthorizationToken gives them."""
    data = client.request("POST", "/v1/registry/login")["authorizationData"][0]
    secret = base64.b64decode(data["authorizationToken"]).decode()
    return secret, str(data["proxyEndpoint"]).removeprefix("http://")


def one_round(client: ApiClient, image: str, engine_url: str, index: int) -> dict[str, float]:
    stamp = f"{int(time.time())}-{index}"
    repos = {"dockyard": f"bench/transfer-d-{stamp}", "skopeo": f"bench/transfer-s-{stamp}"}
    for repository in repos.values():
        client.request("POST", "/v1/repositories", json={"repositoryName": repository})
    secret, host = credentials(client)
    figures: dict[str, float] = {}
    try:
        figures["push_dockyard_s"] = timed(
            [DOCKYARD, "push", f"{repos['dockyard']}:v1", "--source", image]
        )
        figures["push_skopeo_s"] = timed(
            [
                "skopeo", "copy", "--quiet", "--src-daemon-host", engine_url,
                "--dest-creds", secret, "--dest-tls-verify=false",
                f"docker-daemon:{image}", f"docker://{host}/{repos['skopeo']}:v1",
            ]
        )  # fmt: skip
        figures["pull_dockyard_s"] = timed([DOCKYARD, "pull", f"{repos['dockyard']}:v1"])
        with tempfile.TemporaryDirectory() as out:
            figures["pull_skopeo_s"] = timed(
                [
                    "skopeo", "copy", "--quiet", "--src-creds", secret,
                    "--src-tls-verify=false", f"docker://{host}/{repos['skopeo']}:v1",
                    f"dir:{out}/image",
                ]
            )  # fmt: skip
    finally:
        for repository in repos.values():
            client.request(
                "DELETE", "/v1/repositories", params={"repository": repository, "force": "true"}
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--image", default="dockyard-iris:latest")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (`dockyard setup` installs it)")
    settings = get_settings()
    client = ApiClient(settings)
    client.ensure_daemon()
    engine_url = _engine_url()
    rounds = [one_round(client, args.image, engine_url, i) for i in range(args.rounds)]
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    result: dict[str, Any] = {
        "benchmark": "registry-transfer",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {platform.machine()}",
        "image": args.image,
        "rounds": rounds,
        "median": medians,
        "ratios": {
            "push_dockyard_over_skopeo": medians["push_dockyard_s"] / medians["push_skopeo_s"],
            "pull_dockyard_over_skopeo": medians["pull_dockyard_s"] / medians["pull_skopeo_s"],
        },
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'operation':<22}{'dockyard s':>12}{'skopeo s':>12}")
    for what in ("push", "pull"):
        mine, theirs = medians[f"{what}_dockyard_s"], medians[f"{what}_skopeo_s"]
        print(f"{what:<22}{mine:>12.2f}{theirs:>12.2f}")
    print(f"results in {RESULTS.relative_to(REPO_ROOT)}")


def _engine_url() -> str:
    """Where the engine answers (skopeo reads the image straight from it)."""
    engine = connect(get_settings(), start=False)
    try:
        return engine.base_url
    finally:
        engine.close()


if __name__ == "__main__":
    main()
