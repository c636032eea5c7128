"""SageMaker's ARNs read back: ``arn:aws:sagemaker:REGION:ACCOUNT:KIND/NAME``.

Clients hand back the ARNs Dockyard wrote (AddTags' ``ResourceArn``, a versioned
package's ``…:model-package/GROUP/3``), in the region they signed for or in
Dockyard's own ``local``; the region never selects a different state, so only the
account, the kind and the name matter here. botocore's model has checked the shape
(``arn:aws[a-z-]*:sagemaker:…``) before anything reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

_PARTS = 6  # arn, partition, service, region, account, resource


@dataclass(frozen=True)
class ResourceArn:
    """``kind`` (``model``, ``model-package``…) and ``name``, the rest of the resource
    part (``churn/3`` for a package version)."""

    account: str
    kind: str
    name: str


def parse_arn(text: str) -> ResourceArn | None:
    """The parts of a SageMaker ARN; None for text that is not one."""
    parts = text.split(":", _PARTS - 1)
    if len(parts) != _PARTS or parts[0] != "arn" or parts[2] != "sagemaker":
        return None
    kind, slash, name = parts[5].partition("/")
    if not slash or not kind or not name:
        return None
    return ResourceArn(account=parts[4], kind=kind, name=name)


def is_arn(text: str) -> bool:
    return text.startswith("arn:")
