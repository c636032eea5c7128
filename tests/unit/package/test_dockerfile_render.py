"""Rendered Dockerfiles: multi-stage, non-root, exec-form entry, no CA bundle, layer order."""

from __future__ import annotations

import json
import re

import pytest

from dockyard.package.dockerfile import (
    ENTRYPOINT,
    render_framework_dockerfile,
    render_model_dockerfile,
)
from dockyard.package.frameworks import SKLEARN
from dockyard.package.plan import ModelDir, decide_plan

pytestmark = pytest.mark.unit

FORBIDDEN = ("ca-certificates", "/etc/ssl", "SSL_CERT", "PIP_CERT", "pip install", ".cache/pip")


def framework_text() -> str:
    return render_framework_dockerfile(SKLEARN, "dockyard/base:py3.11", build_digest="abc123")


def instructions(text: str) -> list[str]:
    """Logical instructions (continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")
    ]


def final_stage(text: str) -> list[str]:
    lines = instructions(text)
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


def model_text(*files: str, **kwargs: object) -> str:
    return render_model_dockerfile(decide_plan(ModelDir(files=files, **kwargs)))  # type: ignore[arg-type]


# --- framework image ----------------------------------------------------------------


def test_framework_image_is_multi_stage_from_the_base():
    froms = [line for line in instructions(framework_text()) if line.startswith("FROM ")]

    assert froms == [
        "FROM dockyard/base:py3.11 AS deps",
        "FROM dockyard/base:py3.11 AS runtime",
        "FROM dockyard/base:py3.11",
    ]


def test_framework_entrypoint_is_exec_form_python_module():
    entry = [line for line in instructions(framework_text()) if line.startswith("ENTRYPOINT")]

    assert entry == [f"ENTRYPOINT {json.dumps(list(ENTRYPOINT))}"]
    assert json.loads(entry[0].split(" ", 1)[1]) == ["python3", "-m", "dockyard.runtime"]


def test_framework_image_runs_as_the_non_root_model_user():
    users = [line for line in final_stage(framework_text()) if line.startswith("USER ")]

    assert users == ["USER model"]
    assert "--uid 1000" in framework_text()


def test_framework_image_never_mentions_a_ca_bundle_or_pip():
    text = framework_text()

    assert not [word for word in FORBIDDEN if word in text]


def test_dependencies_are_byte_compiled_in_a_build_stage_not_at_runtime():
    lines = instructions(framework_text())
    compile_steps = [line for line in lines if "compileall" in line]

    assert len(compile_steps) == 2
    assert all("unchecked-hash" in line for line in compile_steps)
    assert not any("compileall" in line for line in final_stage(framework_text()))
    assert "PYTHONDONTWRITEBYTECODE=1" in framework_text()


def test_runtime_source_is_the_last_layer_of_the_framework_image():
    layers = [
        line for line in final_stage(framework_text()) if line.split()[0] in ("COPY", "RUN", "ADD")
    ]

    assert layers[-1].startswith("COPY --from=runtime")
    assert layers[-2].startswith("COPY --from=deps")


def test_framework_image_carries_labels_port_and_workdir():
    text = framework_text()

    for label in (
        'dockyard.version="0.1.0"',
        'dockyard.framework="sklearn"',
        'dockyard.build-digest="abc123"',
        'com.amazonaws.sagemaker.capabilities.accept-bind-to-port="true"',
        'com.amazonaws.sagemaker.capabilities.multi-models="true"',
    ):
        assert label in text
    assert "EXPOSE 8080" in instructions(text)
    assert "WORKDIR /opt/ml" in instructions(text)


# --- model image --------------------------------------------------------------------


def test_model_image_builds_on_the_framework_image_only():
    lines = instructions(model_text("model.joblib"))

    assert [line for line in lines if line.startswith("FROM")] == [f"FROM {SKLEARN.image_ref()}"]
    assert "COPY model/ /opt/ml/model/" in lines
    assert not any("code" in line for line in lines)


def test_model_image_layers_go_from_dependencies_to_model_to_code():
    text = model_text(
        "model.joblib",
        "inference.py",
        "requirements.txt",
        texts={"requirements.txt": "six\n"},
    )
    final = final_stage(text)
    order = [
        next(i for i, line in enumerate(final) if marker in line)
        for marker in ("user-site", "/opt/ml/model/", "SAGEMAKER_PROGRAM", "/opt/ml/code/")
    ]

    assert order == sorted(order)
    assert final[-1] == "COPY code/ /opt/ml/code/"


def test_extra_requirements_are_compiled_in_a_build_stage():
    text = model_text("model.joblib", "requirements.txt", texts={"requirements.txt": "six\n"})
    lines = instructions(text)

    assert f"FROM {SKLEARN.image_ref()} AS user-deps" in lines
    assert any("compileall" in line and "/opt/dockyard/user-site" in line for line in lines)
    assert "ENV PYTHONPATH=/opt/dockyard/site:/opt/dockyard/user-site" in final_stage(text)


def test_model_image_final_stage_keeps_the_non_root_user():
    text = model_text("model.joblib", "requirements.txt", texts={"requirements.txt": "six\n"})

    assert not [line for line in final_stage(text) if line.startswith("USER")]
    assert not [word for word in FORBIDDEN if word in text]


def test_code_packed_in_the_tarball_points_sagemaker_at_opt_ml_model_code():
    text = model_text("model.tar.gz", archive_members=("model.joblib", "code/inference.py"))

    assert (
        "ENV SAGEMAKER_PROGRAM=inference.py SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code"
        in instructions(text)
    )
    assert "COPY code/ /opt/ml/code/" not in text


def test_rendering_a_byoc_plan_as_a_model_image_is_a_programming_error():
    plan = decide_plan(ModelDir(files=("Dockerfile",), texts={"Dockerfile": "FROM alpine\n"}))

    with pytest.raises(ValueError):
        render_model_dockerfile(plan)


def test_each_framework_image_names_its_framework_for_the_default_handlers():
    from dockyard.package.frameworks import FRAMEWORKS  # noqa: PLC0415

    for framework in FRAMEWORKS.values():
        text = render_framework_dockerfile(framework, "base", build_digest="d")
        env = next(line for line in final_stage(text) if line.startswith("ENV "))
        assert f"DOCKYARD_FRAMEWORK={framework.name}" in env


def test_what_a_framework_prunes_is_removed_before_compiling_in_the_build_stage():
    from dockyard.package.frameworks import PYTORCH  # noqa: PLC0415

    lines = instructions(render_framework_dockerfile(PYTORCH, "base", build_digest="d"))
    prune = next(line for line in lines if line.startswith("RUN rm -rf"))
    assert "/opt/dockyard/site/torch/include" in prune
    assert prune.index("rm -rf") < prune.index("compileall")
    assert lines.index(prune) < lines.index(final_stage("\n".join(lines))[0])
    assert not any(line.startswith("RUN rm -rf") for line in instructions(framework_text()))
