"""The framework registry and image references."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.package.frameworks import (
    RUNTIME_REQUIREMENTS,
    SKLEARN,
    get_framework,
    requirement_name,
)
from dockyard.package.refs import framework_image_ref, parse_image_ref

pytestmark = pytest.mark.unit


def test_framework_image_ref_names_framework_and_dockyard_versions():
    assert SKLEARN.image_ref("0.1.0") == "dockyard/sklearn:1.9.1-dockyard0.1.0"


def test_framework_requirements_include_the_runtime_once():
    names = [requirement_name(r) for r in SKLEARN.all_requirements]

    assert len(names) == len(set(names))
    assert {requirement_name(r) for r in RUNTIME_REQUIREMENTS} <= set(names)
    assert all("==" in r for r in SKLEARN.all_requirements)


def test_requirement_names_are_normalised():
    assert requirement_name("Scikit_Learn==1.0") == "scikit-learn"


def test_unknown_framework_lists_the_known_ones():
    with pytest.raises(SpecError) as raised:
        get_framework("caffe")

    assert raised.value.field == "framework"
    assert "sklearn" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("text", "current", "floating"),
    [
        ("dockyard/sklearn", True, True),
        ("dockyard/sklearn:latest", True, True),
        ("docker.io/dockyard/sklearn", True, True),
        (SKLEARN.image_ref(), True, False),
        ("dockyard/sklearn:0.9-dockyard0.0.1", False, False),
    ],
)
def test_framework_image_references_are_recognised(text: str, current: bool, floating: bool):
    found = framework_image_ref(text)

    assert found is not None
    assert (found.framework, found.current, found.floating) == (SKLEARN, current, floating)


@pytest.mark.parametrize("text", ["python:3.11-slim", "dockyard/base:py3.11", "myorg/sklearn"])
def test_other_images_are_not_framework_images(text: str):
    assert framework_image_ref(text) is None


def test_unknown_dockyard_image_is_an_error():
    with pytest.raises(SpecError):
        framework_image_ref("dockyard/caffe:1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iris", "iris:latest"),
        ("team/iris:2", "team/iris:2"),
        ("localhost:5000/a:b", "localhost:5000/a:b"),
    ],
)
def test_valid_image_refs_get_an_explicit_tag(text: str, expected: str):
    assert parse_image_ref(text).with_default_tag == expected


@pytest.mark.parametrize("text", ["Iris", "iris:", "iris:bad tag", "-x", ""])
def test_invalid_image_refs_name_the_field(text: str):
    with pytest.raises(SpecError) as raised:
        parse_image_ref(text, field="tag")

    assert raised.value.field == "tag"


# --- XGBoost and PyTorch ---------------------------------------------------------------


def test_every_framework_has_default_handlers_in_the_runtime():
    from dockyard.package.frameworks import FRAMEWORKS  # noqa: PLC0415
    from dockyard.runtime.serve.frameworks import KNOWN_FRAMEWORKS  # noqa: PLC0415

    assert set(FRAMEWORKS) == set(KNOWN_FRAMEWORKS)


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("xgboost", "dockyard/xgboost:3.2.0-dockyard0.1.0"),
        ("pytorch", "dockyard/pytorch:2.13.0-dockyard0.1.0"),
    ],
)
def test_xgboost_and_pytorch_images_are_named_like_sklearn_s(name: str, ref: str):
    assert get_framework(name).image_ref("0.1.0") == ref


def test_the_cpu_images_pin_builds_without_gpu_libraries():
    """xgboost-cpu, not xgboost (which needs nvidia-nccl-cu12); torch's +cpu build only."""
    xgboost_pins = {requirement_name(r) for r in get_framework("xgboost").all_requirements}
    assert "xgboost-cpu" in xgboost_pins
    assert "xgboost" not in xgboost_pins
    torch_pins = [r for r in get_framework("pytorch").all_requirements if r.startswith("torch")]
    assert torch_pins == ["torch==2.13.0+cpu"]
    for framework in ("sklearn", "xgboost", "pytorch"):
        assert not any(
            "nvidia" in r or "cuda" in r for r in get_framework(framework).all_requirements
        )


@pytest.mark.parametrize(
    ("path", "name"),
    [("xgboost-model", "xgboost"), ("model.pt", "pytorch"), ("net.pth", "pytorch")],
)
def test_saved_models_name_their_framework(path: str, name: str):
    from dockyard.package.frameworks import frameworks_for_files  # noqa: PLC0415

    assert [fw.name for fw in frameworks_for_files((path,))] == [name]
