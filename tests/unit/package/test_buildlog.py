"""Which build steps came from the layer cache, read from the builder's output."""

from __future__ import annotations

import pytest

from dockyard.package.buildlog import summarize_build_log

pytestmark = pytest.mark.unit

DOCKER = """\
Step 1/4 : FROM dockyard/sklearn:1
 ---> 1234
Step 2/4 : COPY model/ /opt/ml/model/
 ---> Using cache
 ---> 5678
Step 3/4 : ENV SAGEMAKER_PROGRAM=inference.py
 ---> Using cache
Step 4/4 : COPY code/ /opt/ml/code/
 ---> 9abc
Successfully built 9abc
"""

PODMAN = """\
STEP 1/3: FROM dockyard/sklearn:1
STEP 2/3: COPY model/ /opt/ml/model/
--> Using cache 0f0f
STEP 3/3: COPY code/ /opt/ml/code/
--> 1e1e
"""


def test_docker_output_separates_cached_from_rebuilt_steps():
    steps = summarize_build_log(DOCKER.splitlines(keepends=True))

    assert steps is not None
    assert steps.total == 3
    assert steps.cached == ("COPY model/ /opt/ml/model/", "ENV SAGEMAKER_PROGRAM=inference.py")
    assert steps.layers_rebuilt == ("COPY code/ /opt/ml/code/",)


def test_podman_output_is_read_too():
    steps = summarize_build_log([PODMAN])

    assert steps is not None
    assert steps.layers_rebuilt == ("COPY code/ /opt/ml/code/",)


def test_output_without_steps_gives_no_summary():
    assert summarize_build_log(["hello\n"]) is None
