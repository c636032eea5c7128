"""SageMaker's model registry as stored: model package groups and model packages.

A group is a name that hands out version numbers; a versioned package is one version
of it (``GROUP/N``), an unversioned package stands alone under its own name. Both
kinds share one collection, keyed so that they never collide (a name has no ``/``),
and a version's owner is its group, so the versions of a group are one owner query.

The group keeps the last version it handed out: a deleted version's number is never
given again, as on AWS, so ``GROUP/3`` always means the same model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dockyard.spec.model_package import package_key


@dataclass(frozen=True)
class ModelPackageGroupRecord:
    """CreateModelPackageGroup's group; ``last_version`` 0 until its first package."""

    KIND: ClassVar[str] = "model_package_group"

    name: str
    created_at: float
    description: str | None = None
    last_version: int = 0

    @property
    def key(self) -> str:
        return self.name

    @property
    def owner(self) -> None:
        return None


@dataclass(frozen=True)
class ModelPackageRecord:
    """One model package: versioned (``group`` and ``version`` set) or not.

    ``request`` holds CreateModelPackage's members as given, less those the record
    keeps itself (names, tags, the client token): the inference specification,
    description, metadata… DescribeModelPackage answers them back as they came.
    ``approval_status`` applies to versioned packages only (None otherwise).
    """

    KIND: ClassVar[str] = "model_package"

    name: str  # ModelPackageName: the package's own name, or its group's for a version
    created_at: float
    last_modified_at: float
    request: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None
    version: int | None = None
    approval_status: str | None = None
    approval_description: str | None = None
    #: CreateModelPackage's ClientToken: the same request sent again gets this package
    client_token: str | None = None

    @property
    def key(self) -> str:
        """``NAME`` for an unversioned package, ``GROUP/N`` for a version."""
        return package_key(self.name, self.version)

    @property
    def owner(self) -> str | None:
        return self.group

    @property
    def versioned(self) -> bool:
        return self.version is not None
