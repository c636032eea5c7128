"""AWS's prebuilt SageMaker framework images, run as Dockyard's own framework images.

Code written for SageMaker names AWS's images: the SageMaker SDK's
``SKLearn(framework_version="1.2-1")`` sends
``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3``.
Those images cannot be pulled here, and Dockyard's framework images implement the same
contracts (the training toolkit's environment and script mode, the serving routes and
handler functions), so a request naming one runs on Dockyard's image of that
framework instead: ``dockyard/sklearn:latest``, built by ``dockyard setup``. The
framework's version is Dockyard's (see ``dockyard/package/frameworks.py``), not the
tag's; the job's or endpoint's events say which image ran, and the request keeps the
URI it was given (DescribeTrainingJob shows it unchanged).

A URI that only looks like AWS's (another repository, or a private account's image
pushed to Dockyard's registry under that name) is left alone: only the framework
repositories below are stood in for, and only when no image of that name is here.
"""

from __future__ import annotations

import re

from dockyard.errors import SpecError
from dockyard.package.frameworks import get_framework
from dockyard.ports.engine import Engine

#: AWS's framework repositories → Dockyard's framework of the same contract
REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
}
_AWS_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+|@sha256:[0-9a-f]{64})?$"
)


def aws_framework(image: str) -> str | None:
    """Dockyard's framework for an AWS framework image URI; None for any other image."""
    match = _AWS_IMAGE.match(image)
    return REPOSITORIES.get(match["repository"]) if match else None


def stand_in(engine: Engine, image: str, field: str) -> str | None:
    """The image that runs for ``image``: Dockyard's framework image when ``image`` is
    one of AWS's framework images and not on this machine; None otherwise (run
    ``image`` itself). A SpecError naming ``field`` when Dockyard's image of that
    framework has not been built yet."""
    framework = aws_framework(image)
    if framework is None or engine.image(image) is not None:
        return None
    local = f"{get_framework(framework).repository}:latest"
    if engine.image(local) is None:
        raise SpecError(
            f"{image} is AWS's {framework} framework image, which runs here as "
            f"Dockyard's {local}, and that image is not built yet",
            field=field,
            hint=f"build it once with `dockyard setup --framework {framework}`",
        )
    return local


def stand_in_note(image: str, local: str) -> str:
    """The event that says which image ran for an AWS framework image."""
    framework = get_framework(aws_framework(image) or "")
    return (
        f"{image} is AWS's {framework.name} framework image: it runs as {local} "
        f"({framework.name} {framework.version})"
    )
