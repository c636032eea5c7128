"""Code-only rebuilds and image sizes, for Dockyard and for a plain ``docker build``.

The rebuild benchmark changes one thing, ``inference.py`` (a comment with a counter
appended), and rebuilds. Dockyard goes through its API (``POST /v1/builds``: read the
directory, assemble a context, run the engine's builder, inspect the result); the peer
is docker-py's legacy builder on a hand-written Dockerfile with the same layers
(``COPY model/``, ``ENV``, ``COPY code/`` on the same framework image), on the same
engine. Both counts of cached steps come from the same reading of the builder's output
(:func:`dockyard.package.buildlog.summarize_build_log`).

The size benchmark reads the engine's own figures (image inspect ``Size``) and, as a
comparison, builds a single-stage image of exactly the same content (same wheels,
same runtime, same model and code, compiled in place), to show what the multi-stage
layout does and does not buy.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from dockyard.adapters.artifacts.tarball import extract_model_tarball
from dockyard.adapters.baseimage import BASE_REF
from dockyard.adapters.pip import host_platform, resolve_site
from dockyard.cli.client import ApiClient
from dockyard.package.buildlog import summarize_build_log
from dockyard.package.frameworks import get_framework
from dockyard.server.framework_images import runtime_sources
from dockyard.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "iris"


def train_model_tarball(work: Path) -> Path:
    """``model.tar.gz`` holding ``model.joblib``, trained on the host the way the
    example's ``train.py`` trains in its container (same data, split and estimator)."""
    data = np.loadtxt(EXAMPLE / "data" / "train" / "iris.csv", delimiter=",")
    labels, features = data[:, 0].astype(int), data[:, 1:]
    x_train, _, y_train, _ = train_test_split(
        features, labels, test_size=0.2, random_state=0, stratify=labels
    )
    model = LogisticRegression(C=1.0, max_iter=200).fit(x_train, y_train)
    work.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    tarball = work / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = len(buffer.getvalue())
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(buffer.getvalue()))
    return tarball


def serve_copy(dest: Path) -> Path:
    """A private copy of the example's serve directory (we edit its inference.py)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(EXAMPLE / "serve", dest)
    return dest


def api_build(client: ApiClient, model_dir: Path, tag: str, model_data: Path) -> dict[str, Any]:
    """One ``POST /v1/builds``, timed from the call to the streamed result."""
    body = {
        "ModelDir": str(model_dir),
        "Tag": tag,
        "Framework": "sklearn",
        "ModelData": str(model_data),
    }
    steps: list[str] = []
    result: dict[str, Any] = {}
    t0 = time.monotonic()
    for item in client.stream("POST", "/v1/builds", json=body):
        line = str(item.get("progress", ""))
        if line.startswith("Step "):
            steps.append(line)
        if "result" in item:
            result = item["result"]
    wall = time.monotonic() - t0
    return {
        "wall_s": round(wall, 4),
        "server_s": result.get("Seconds"),
        "steps_cached": result.get("StepsCached"),
        "steps_total": result.get("StepsTotal"),
        "image": result.get("Image"),
        "framework_image": result.get("FrameworkImage"),
        "size_bytes": result.get("SizeBytes"),
        "steps": steps,
    }


def touch_code(path: Path, label: str) -> None:
    """The code-only change: a comment line, so behaviour stays the same."""
    with path.open("a") as handle:
        handle.write(f"# bench change {label}\n")


PEER_DOCKERFILE = """\
FROM {framework_image}
COPY model/ /opt/ml/model/
ENV SAGEMAKER_PROGRAM=inference.py SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code
COPY code/ /opt/ml/code/
"""


def peer_context(work: Path, model_data: Path, framework_image: str) -> Path:
    """The hand-written equivalent: a context with model/, code/ and a 2-layer Dockerfile."""
    ctx = work / "peer-context"
    shutil.rmtree(ctx, ignore_errors=True)
    (ctx / "code").mkdir(parents=True)
    extract_model_tarball(model_data, ctx / "model", field="model_data")
    shutil.copyfile(EXAMPLE / "serve" / "inference.py", ctx / "code" / "inference.py")
    (ctx / "Dockerfile").write_text(PEER_DOCKERFILE.format(framework_image=framework_image))
    return ctx


def docker_build(engine_url: str, ctx: Path, tag: str) -> dict[str, Any]:
    """docker-py's legacy builder on ``ctx``; wall time and cached steps."""
    client = docker.APIClient(base_url=engine_url, version="auto", timeout=600)
    try:
        output: list[str] = []
        t0 = time.monotonic()
        for item in client.build(path=str(ctx), tag=tag, rm=True, forcerm=True, decode=True):
            if "error" in item:
                raise RuntimeError(f"docker build of {tag} failed: {item['error']}")
            output.append(str(item.get("stream", "")))
        wall = time.monotonic() - t0
        size = int(client.inspect_image(tag).get("Size") or 0)
    finally:
        client.close()
    steps = summarize_build_log(output)
    return {
        "wall_s": round(wall, 4),
        "steps_cached": len(steps.cached) if steps else None,
        "steps_total": steps.total if steps else None,
        "size_bytes": size,
    }


# -- sizes ------------------------------------------------------------------------------


def image_size(engine_url: str, ref: str) -> int | None:
    client = docker.APIClient(base_url=engine_url, version="auto")
    try:
        return int(client.inspect_image(ref).get("Size") or 0)
    except docker.errors.ImageNotFound:
        return None
    finally:
        client.close()


NAIVE_DOCKERFILE = """\
FROM {base}
RUN useradd --uid 1000 --user-group --create-home --no-log-init \\
        --shell /usr/sbin/nologin model \\
 && mkdir -p /opt/ml/model /opt/ml/input /opt/ml/output /opt/ml/checkpoints /opt/ml/code \\
 && chown model:model /opt/ml/model /opt/ml/input /opt/ml/output /opt/ml/checkpoints
ENV PYTHONPATH=/opt/dockyard/site PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY site/ /opt/dockyard/site/
COPY runtime/ /opt/dockyard/site/
RUN python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/dockyard/site
WORKDIR /opt/ml
COPY model/ /opt/ml/model/
ENV SAGEMAKER_PROGRAM=inference.py SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code
COPY code/ /opt/ml/code/
USER model
ENTRYPOINT ["python3", "-m", "dockyard.runtime"]
"""


def naive_context(settings: Settings, work: Path, model_data: Path) -> Path:
    """Single-stage context: the framework's resolved wheels (from the same cache the
    framework image was built from), the runtime source, the model and the code."""
    framework = get_framework("sklearn")
    site = resolve_site(
        framework.all_requirements, settings, what="the sklearn framework", target=host_platform()
    )
    ctx = work / "naive-context"
    shutil.rmtree(ctx, ignore_errors=True)
    _link_tree(site, ctx / "site")
    for rel, path in runtime_sources():
        dest = ctx / "runtime" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    extract_model_tarball(model_data, ctx / "model", field="model_data")
    (ctx / "code").mkdir(parents=True)
    shutil.copyfile(EXAMPLE / "serve" / "inference.py", ctx / "code" / "inference.py")
    (ctx / "Dockerfile").write_text(NAIVE_DOCKERFILE.format(base=BASE_REF))
    return ctx


def _link_tree(source: Path, dest: Path) -> None:
    """Hard links where the file system allows (the context is read, never written)."""

    def link(src: str, dst: str) -> None:
        try:
            Path(dst).hardlink_to(src)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link)


def layer_sizes(engine_url: str, ref: str) -> Iterator[tuple[str, int]]:
    """(instruction, bytes) of each layer of ``ref`` that adds bytes, newest first."""
    client = docker.APIClient(base_url=engine_url, version="auto")
    try:
        for layer in client.history(ref):
            if layer.get("Size"):
                yield str(layer.get("CreatedBy", ""))[:80], int(layer["Size"])
    finally:
        client.close()
