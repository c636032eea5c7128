"""Cold build time and size of each framework image, scikit-learn's as the yardstick.

For each framework (``--frameworks``, default ``sklearn,xgboost,pytorch``), in the same
run on the installation's engine:

* **resolve**: the framework's pinned wheels installed for the image's Python into a
  fresh, empty wheel cache (pip's own download cache stays warm, as on any machine that
  built once), exactly as ``dockyard build`` resolves them;
* **build**: the framework image's Dockerfile and context, built by the engine's classic
  builder with no layer cache, under a throw-away tag (the real image is untouched);
* **size**: the image's size as the engine reports it, ``du`` of its site-packages, the
  three largest packages in it, and every GPU library found (``nvidia*``/``triton``
  packages, ``libcuda*``/``libcudnn*``/``libnccl*``/``libcublas*`` files): none is the
  expected answer.

Ratios to scikit-learn's image are the figures to compare between runs (the machine is
shared). Usage: ``.venv/bin/python bench/framework_images.py [--frameworks
xgboost,pytorch]``; results in ``bench/results/framework-images.json``. Runs a few
minutes (torch's wheel alone is 190 MB); leaves nothing behind but the results file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors

from dockyard.adapters.baseimage import ensure_base_image
from dockyard.adapters.buildcontext import finish_context, place_file, place_tree
from dockyard.adapters.engine import connect
from dockyard.adapters.pip import host_platform, resolve_site
from dockyard.package.dockerfile import CONTEXT_RUNTIME, CONTEXT_SITE, SITE_DIR
from dockyard.package.dockerfile import render_framework_dockerfile as render
from dockyard.package.frameworks import get_framework
from dockyard.server.framework_images import runtime_sources
from dockyard.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "framework-images.json"
_STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12})\s*$")
_PROBE = f"""
du -sk {SITE_DIR} | cut -f1
du -sk {SITE_DIR}/* | sort -n | tail -3 | sed 's|{SITE_DIR}/||'
ls {SITE_DIR} | grep -iE '^(nvidia|triton)' || true
find / -xdev \\( -name 'libcuda*' -o -name 'libcudnn*' -o -name 'libnccl*' \\
  -o -name 'libcublas*' \\) 2>/dev/null || true
"""


def measure(name: str, base: str, client: docker.APIClient) -> dict[str, Any]:
    """Resolve, build without cache, inspect; the throw-away image is removed after."""
    settings = get_settings()
    framework = get_framework(name)
    with tempfile.TemporaryDirectory(prefix="dy-bench-fw-", dir=settings.cache_dir) as tmp:
        scratch = Path(tmp)
        fresh = settings.model_copy(update={"state_dir": scratch / "state"})
        started = time.perf_counter()
        site = resolve_site(framework.all_requirements, fresh, what=name, target=host_platform())
        resolve_s = time.perf_counter() - started
        ctx = scratch / "context"
        place_tree(site, ctx / CONTEXT_SITE)
        for rel, path in runtime_sources():
            place_file(path, ctx / CONTEXT_RUNTIME / rel)
        (ctx / "Dockerfile").write_text(render(framework, base, build_digest="bench"))
        finish_context(ctx)
        tag = f"dockyard-bench/{name}:nocache"
        steps: list[str] = []
        started = time.perf_counter()
        for chunk in client.build(path=str(ctx), tag=tag, nocache=True, rm=True, decode=True):
            if "error" in chunk:
                raise SystemExit(f"building {name} failed: {chunk['error']}")
            for line in str(chunk.get("stream", "")).splitlines():
                if found := _STEP_ID.match(line):
                    steps.append(found.group(1))
        build_s = time.perf_counter() - started
    try:
        size = int(client.inspect_image(tag)["Size"])
        probe = _run(client, tag)
    finally:
        _remove(client, tag, list(reversed(steps)))
    lines = probe.splitlines()
    site_kb, largest, gpu = int(lines[0]), lines[1:4], [line for line in lines[4:] if line]
    return {
        "framework": name,
        "version": framework.version,
        "resolve_s": round(resolve_s, 1),
        "build_s": round(build_s, 1),
        "total_s": round(resolve_s + build_s, 1),
        "image_mb": round(size / 1e6),
        "site_packages_mb": round(site_kb / 1024),
        "largest_mb": {n: round(int(kb) / 1024) for kb, n in (r.split() for r in largest)},
        "gpu_libraries": gpu,
    }


def _run(client: docker.APIClient, image: str) -> str:
    container = client.create_container(image, entrypoint=["sh", "-c", _PROBE])
    try:
        client.start(container)
        client.wait(container, timeout=120)
        return str(client.logs(container, stderr=False).decode())
    finally:
        client.remove_container(container, force=True)


def _remove(client: docker.APIClient, tag: str, steps: list[str]) -> None:
    """The bench image, then the build's untagged intermediate images nothing else uses
    (a step that reused an image, such as ``FROM``, names a tagged one: kept)."""
    with contextlib.suppress(docker.errors.APIError):
        client.remove_image(tag)
    for image in steps:
        with contextlib.suppress(docker.errors.APIError):
            if not client.inspect_image(image).get("RepoTags"):
                client.remove_image(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="sklearn,xgboost,pytorch")
    args = parser.parse_args()
    settings = get_settings()
    engine = connect(settings)
    base = ensure_base_image(engine, settings)
    client = docker.APIClient(base_url=engine.base_url, version="auto", timeout=600)
    rows = []
    for name in args.frameworks.split(","):
        row = measure(name.strip(), base, client)
        print(json.dumps(row), flush=True)
        rows.append(row)
    yardstick = next((r for r in rows if r["framework"] == "sklearn"), None)
    if yardstick:
        for row in rows:
            row["total_vs_sklearn"] = round(row["total_s"] / yardstick["total_s"], 2)
            row["image_vs_sklearn"] = round(row["image_mb"] / yardstick["image_mb"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": len(os.sched_getaffinity(0)), "arch": platform.machine()},
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results in {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
