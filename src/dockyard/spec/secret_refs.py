"""Secret names, and what a container's ``secrets[].valueFrom`` refers to.

Task definitions written for ECS name their secrets by Secrets Manager or SSM
Parameter Store ARN; Dockyard keeps one local store of secrets, so every form maps to
a local secret name and a file moves between ECS and Dockyard unchanged:

* ``NAME`` (or ``/NAME``, SSM's way of writing a parameter path) → ``NAME``;
* ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`` → ``NAME``; ECS's optional
  ``:JSON-KEY:VERSION-STAGE:VERSION-ID`` tail picks one key of a JSON secret (the
  version parts have no local meaning: a local secret has one version);
* ``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`` → ``NAME``.

Secrets Manager appends ``-`` and six random characters to a secret's ARN; a name
that ends so is also tried without that suffix (:attr:`SecretRef.candidates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import SpecError

#: Secrets Manager's name rule: 1-512 of letters, digits and ``/_+=.@-``
_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_ARN_SUFFIX = re.compile(r"^(?P<base>.+)-[A-Za-z0-9]{6}$")
_SECRETS_MANAGER = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[^:]*:[^:]*:secret:(?P<name>[^:]+)"
    r"(?::(?P<json_key>[^:]*)(?::[^:]*(?::[^:]*)?)?)?$"
)
_SSM = re.compile(r"^arn:aws[a-z-]*:ssm:[^:]*:[^:]*:parameter(?P<name>/.+)$")


@dataclass(frozen=True)
class SecretRef:
    """One ``valueFrom``: the local secret it names, and a JSON key to pick from it."""

    name: str
    json_key: str | None = None
    #: the name without a Secrets Manager ARN's random suffix, tried second
    unsuffixed: str | None = None

    @property
    def candidates(self) -> tuple[str, ...]:
        """Local names to look up, in order."""
        return (self.name,) if self.unsuffixed is None else (self.name, self.unsuffixed)


def check_secret_name(name: str) -> str:
    """``name`` if it is a valid local secret name (leading ``/`` dropped), else SpecError."""
    stripped = name.lstrip("/")
    if not _NAME.fullmatch(stripped):
        raise SpecError(
            f"invalid secret name {name!r}",
            field="Name",
            hint="use 1-512 letters, digits and / _ + = . @ - (e.g. prod/db-password)",
        )
    return stripped


def parse_value_from(value_from: str) -> SecretRef:
    """The local secret a ``valueFrom`` names; SpecError for an ARN of another kind."""
    if found := _SECRETS_MANAGER.match(value_from):
        name = found["name"]
        suffixed = _ARN_SUFFIX.match(name)
        return SecretRef(
            check_secret_name(name),
            json_key=found["json_key"] or None,
            unsuffixed=suffixed["base"] if suffixed else None,
        )
    if found := _SSM.match(value_from):
        return SecretRef(check_secret_name(found["name"]))
    if value_from.startswith("arn:"):
        raise SpecError(
            f"valueFrom {value_from!r} is neither a Secrets Manager secret nor an SSM "
            "parameter ARN",
            field="valueFrom",
            hint="write a local secret's name, or arn:aws:secretsmanager:REGION:ACCOUNT:"
            "secret:NAME, or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME",
        )
    return SecretRef(check_secret_name(value_from))


def secret_arn(name: str, region: str = "us-east-1", account: str = "000000000000") -> str:
    """The Secrets Manager-style ARN Dockyard shows for a local secret."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"
