"""The SageMaker Python SDK (2.x) trains, deploys and predicts through Dockyard.

The SDK is large (pandas, numpy…) and not one of Dockyard's dependencies, so the flow
(:mod:`sdk_flow`) runs in whichever Python has it: ``DOCKYARD_SAGEMAKER_SDK_PYTHON``
(e.g. a virtual environment made with ``python -m venv /tmp/sdk && /tmp/sdk/bin/pip
install 'sagemaker<3'``), else this Python when it can import ``sagemaker``. Its
clients reach the daemon through ``AWS_ENDPOINT_URL`` and a key from ``dockyard
credentials create``; nothing in the SDK is patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_aws_front import EXAMPLE, REGION, AwsDaemon
from test_s3_front import daemon, keys  # noqa: F401  (the module's daemon and key)

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def sdk_python() -> str | None:
    """A Python that imports the SageMaker SDK 2.x, if there is one."""
    candidates = [os.environ.get("DOCKYARD_SAGEMAKER_SDK_PYTHON", ""), sys.executable]
    for python in filter(None, candidates):
        probe = subprocess.run(
            [python, "-c", "import sagemaker.sklearn"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return python
    return None


SDK = sdk_python()


@pytest.mark.skipif(
    SDK is None,
    reason="the SageMaker Python SDK 2.x is not installed: set DOCKYARD_SAGEMAKER_SDK_PYTHON "
    "to a Python that has it (pip install 'sagemaker<3')",
)
def test_sklearn_estimator_fits_deploys_and_predicts(
    daemon: AwsDaemon,  # noqa: F811
    keys: dict[str, str],  # noqa: F811
    framework_image: str,  # dockyard/sklearn:latest, which stands in for AWS's image
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "sagemaker-config.yaml"  # what ~/.config/sagemaker/config.yaml holds
    config.write_text(
        'SchemaVersion: "1.0"\n'
        "SageMaker:\n  PythonSDK:\n    Modules:\n      Session:\n"
        "        DefaultS3Bucket: sdk-artifacts\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOCKYARD_"))}
    env.update(
        AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=daemon.aws_url,
        PYTHONPATH="",
        SAGEMAKER_USER_CONFIG_OVERRIDE=str(config),
    )
    name = unique_name("sdk")
    done = subprocess.run(
        [
            str(SDK),
            str(HERE / "sdk_flow.py"),
            str(HERE / "sdk_code"),
            str(EXAMPLE / "data" / "train"),
            "sdk-artifacts",
            name,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, (done.stdout[-2000:], done.stderr[-3000:])
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert "error" not in result, (result, done.stderr[-3000:])
    assert result["steps"] == [
        "session",
        "default_bucket",
        "upload_data",
        "fit",
        "deploy",
        "predict",
        "delete_endpoint",
    ]
    assert "train accuracy:" in done.stdout  # the script's output, as fit() streamed it
    assert str(result["model_data"]).startswith("s3://sdk-artifacts/")
    assert result["predictions"] == [0, 2]
