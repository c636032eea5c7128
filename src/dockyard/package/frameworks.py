"""The frameworks Dockyard builds serving images for, and how their images are named.

A framework is one entry in :data:`FRAMEWORKS`: the pinned pip requirements its image
holds (on top of the runtime's own), the file suffixes that identify a model saved by
it, and the version that goes into the image tag. Adding a framework is adding one
:class:`Framework` value (and, inside images, its default handlers in
``dockyard.runtime.serve.frameworks``); nothing else in the build path knows framework
names.

Versions are pinned exactly so that the image is reproducible and so that a model
pickled on the host with the same version unpickles in the container. Two pins keep
GPU libraries out of the CPU images: XGBoost comes from ``xgboost-cpu`` (the same
``xgboost`` module, without the CUDA kernels and the ``nvidia-nccl-cu12`` dependency of
the plain wheel), and PyTorch from the CPU build (``torch==<version>+cpu``, a local
version only the CPU wheel carries): an unpinned ``torch`` pulls several gigabytes of
CUDA packages, and with the ``+cpu`` pin a missing CPU wheel fails the build instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard import __version__
from dockyard.errors import SpecError

#: The Python the base image runs; wheels are resolved for exactly this version.
PYTHON_VERSION = "3.11"

#: Repository namespace of every image Dockyard makes.
IMAGE_NAMESPACE = "dockyard"

#: The base image Dockyard imports when the configured one is unavailable.
BASE_REPOSITORY = f"{IMAGE_NAMESPACE}/base"

#: What the in-container runtime imports besides the standard library. Kept in step
#: with the ``runtime`` extra in pyproject.toml.
RUNTIME_REQUIREMENTS: tuple[str, ...] = (
    "numpy==2.4.6",
    "uvicorn==0.54.0",
    "httptools==0.9.0",
    "uvloop==0.23.0",
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(requirement: str) -> str:
    """The normalised project name of a requirement line (PEP 503: lower case, ``-``)."""
    match = _NAME.match(requirement)
    if not match:
        raise SpecError(
            f"'{requirement}' is not a pip requirement",
            field="requirements",
            hint="write one package per line, e.g. 'pandas==2.2.3'",
        )
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


@dataclass(frozen=True)
class Framework:
    """One machine-learning framework Dockyard has a serving image for.

    ``version`` is the framework's own version (the image tag starts with it);
    ``requirements`` are exact pins installed into the image next to
    :data:`RUNTIME_REQUIREMENTS`; ``model_suffixes`` recognise a model file saved by
    the framework (``model.joblib`` → sklearn) when no framework is named. ``prune``
    lists paths (shell globs, relative to site-packages) that the wheels ship but no
    model ever imports, left out of the image: C++ headers, test binaries, and sources
    only a newer Python can compile.
    """

    name: str
    version: str
    requirements: tuple[str, ...]
    model_suffixes: tuple[str, ...]
    summary: str = ""
    prune: tuple[str, ...] = ()

    @property
    def repository(self) -> str:
        return f"{IMAGE_NAMESPACE}/{self.name}"

    def image_ref(self, dockyard_version: str = __version__) -> str:
        """``dockyard/<name>:<framework version>-dockyard<dockyard version>``."""
        return f"{self.repository}:{self.version}-dockyard{dockyard_version}"

    @property
    def all_requirements(self) -> tuple[str, ...]:
        """The framework's pins plus the runtime's; the framework's pin wins a tie."""
        pinned = {requirement_name(r) for r in self.requirements}
        extra = tuple(r for r in RUNTIME_REQUIREMENTS if requirement_name(r) not in pinned)
        return self.requirements + extra

    def recognises(self, path: str) -> bool:
        """Whether ``path`` looks like a model file this framework saved."""
        return path.lower().endswith(self.model_suffixes)


SKLEARN = Framework(
    name="sklearn",
    version="1.9.1",
    requirements=(
        "scikit-learn==1.9.1",
        "joblib==1.6.0",
        "numpy==2.4.6",
        "scipy==1.17.1",
        "threadpoolctl==3.8.0",
    ),
    model_suffixes=(".joblib", ".pkl", ".pickle"),
    summary="scikit-learn estimators saved with joblib or pickle",
)

XGBOOST = Framework(
    name="xgboost",
    version="3.2.0",
    requirements=(
        "xgboost-cpu==3.2.0",
        "numpy==2.4.6",
        "scipy==1.17.1",
    ),
    model_suffixes=("xgboost-model", ".ubj", ".bst"),
    summary="XGBoost boosters saved as xgboost-model (pickle, JSON or UBJSON)",
)

PYTORCH = Framework(
    name="pytorch",
    version="2.13.0",
    requirements=(
        "torch==2.13.0+cpu",
        "numpy==2.4.6",
    ),
    model_suffixes=(".pt", ".pth"),
    summary="PyTorch models saved with TorchScript as model.pt (CPU build)",
    prune=(
        "torch/include",  # C++ headers, for compiling extensions (about 60 MB)
        "torch/test",  # C++ test executables (about 80 MB)
        "torch/bin/test_*",
        "torch/bin/*Test",
        "torch/bin/protoc*",
        "torch/testing/_internal/py312_intrinsics.py",  # Python 3.12 syntax
    ),
)

#: Every framework Dockyard can build, by the name users type (``--framework``).
FRAMEWORKS: dict[str, Framework] = {fw.name: fw for fw in (SKLEARN, XGBOOST, PYTORCH)}


def known_names() -> str:
    return ", ".join(sorted(FRAMEWORKS))


def get_framework(name: str, *, field: str = "framework") -> Framework:
    """The framework called ``name``, or a :class:`SpecError` listing the known ones."""
    framework = FRAMEWORKS.get(name.strip().lower())
    if framework is None:
        raise SpecError(
            f"unknown framework '{name}'",
            field=field,
            hint=f"use one of: {known_names()}; or bring your own container (Dockerfile)",
        )
    return framework


def frameworks_for_files(paths: tuple[str, ...]) -> list[Framework]:
    """Frameworks that recognise at least one of ``paths`` as their model file."""
    return [fw for fw in FRAMEWORKS.values() if any(fw.recognises(p) for p in paths)]
