"""The base every user-facing model shares: AWS names, known fields only, located errors.

Users write AWS's own JSON (camelCase for ECS, PascalCase for SageMaker); Python code
reads snake_case attributes. Each model names the botocore shape it mirrors
(``aws_shape``), which decides what an unknown key means:

* a key AWS does not know either (``containerPrt``) is an error, with a did-you-mean
  hint over the real names;
* a key AWS knows but Dockyard does not model (``dockerLabels``, ``Tags``) is kept as
  written, so a document moves to AWS and back unchanged; :meth:`SpecModel.unmodelled_fields`
  lists them so the server can say they are not acted on locally;
* a key that only appears in AWS's *output* (``revision`` in a described task
  definition) is an error whose hint says to drop it.

Models are frozen: a validated spec is a value, never edited in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel, to_pascal

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.errors import PathItem, SpecValueError, did_you_mean, format_path, spec_error

AWS_NAMES = "aws_names"  # validation-context flag: accept only the names AWS uses
_MAX_LISTED_FIELDS = 12

M = TypeVar("M", bound="SpecModel")


class SpecModel(BaseModel):
    """Base of every model a user declares.

    Subclasses set ``aws_service`` and ``aws_shape`` (the botocore structure they mirror;
    ``None`` for Dockyard-only objects) and may set ``output_only`` (names AWS returns
    but refuses as input) and ``dockyard_only`` (declared fields AWS does not have; they
    must be removed before a document is sent to AWS).
    """

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    aws_service: ClassVar[aws_model.Service] = "ecs"
    aws_shape: ClassVar[str | None] = None
    output_only: ClassVar[frozenset[str]] = frozenset()
    dockyard_only: ClassVar[frozenset[str]] = frozenset()  # documented local extensions

    @classmethod
    def _declared_names(cls, *, python_names: bool) -> set[str]:
        names: set[str] = set()
        for name, info in cls.model_fields.items():
            names.add(info.alias or name)
            if python_names:
                names.add(name)
        return names

    @classmethod
    def _aws_names(cls) -> frozenset[str]:
        if cls.aws_shape is None:
            return frozenset()
        return frozenset(aws_model.members(cls.aws_service, cls.aws_shape))

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data  # pydantic reports "must be an object"
        aws_only = bool(info.context and info.context.get(AWS_NAMES))
        declared = cls._declared_names(python_names=not aws_only)
        allowed = declared | cls._aws_names()
        for key in data:
            if not isinstance(key, str) or key not in allowed:
                raise cls._unknown_field(str(key), declared | cls._aws_names())
        return data

    @classmethod
    def _unknown_field(cls, key: str, allowed: set[str] | frozenset[str]) -> SpecValueError:
        what = cls.aws_shape or cls.__name__
        if key in cls.output_only:
            return SpecValueError(
                f'"{key}" is set by AWS in its responses and cannot be given here',
                hint="remove it (a described resource carries such fields; a request does not)",
                at=(key,),
            )
        guess = did_you_mean(key, allowed)
        if guess is not None:
            hint = f'did you mean "{guess}"?'
        else:
            names = sorted(cls._declared_names(python_names=False))
            listed = ", ".join(names[:_MAX_LISTED_FIELDS])
            more = ", ..." if len(names) > _MAX_LISTED_FIELDS else ""
            hint = f"remove it; {what} fields include {listed}{more}"
        return SpecValueError(f'unknown field "{key}" in {what}', hint=hint, at=(key,))

    def aws_field(self, name: str) -> Any:
        """The AWS member ``name`` as written, when Dockyard keeps it unmodelled (else None).

        Rules about members the models do not declare (``privileged``, ``links``) read
        them here; the document was type-checked against botocore's shape before.
        """
        return (self.model_extra or {}).get(name)

    def unmodelled_fields(self, prefix: tuple[PathItem, ...] = ()) -> list[str]:
        """JSON paths of AWS fields that were kept as written but are not acted on locally."""
        found = [format_path((*prefix, key)) for key in (self.model_extra or {})]
        for name, value in self:
            if name in (self.model_extra or {}):
                continue
            alias = type(self).model_fields[name].alias or name
            found.extend(_unmodelled_in(value, (*prefix, alias)))
        return found

    def to_aws(self) -> dict[str, Any]:
        """The document in AWS's names, without unset optional fields (as AWS echoes it)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _unmodelled_in(value: Any, prefix: tuple[PathItem, ...]) -> list[str]:
    if isinstance(value, SpecModel):
        return value.unmodelled_fields(prefix)
    if isinstance(value, tuple | list):
        found: list[str] = []
        for index, item in enumerate(value):
            found.extend(_unmodelled_in(item, (*prefix, index)))
        return found
    return []


class EcsModel(SpecModel):
    """An ECS object: camelCase names, as in task definition JSON."""

    model_config = ConfigDict(alias_generator=to_camel)
    aws_service: ClassVar[aws_model.Service] = "ecs"


class SageMakerModel(SpecModel):
    """A SageMaker object: PascalCase names, as in the SageMaker API."""

    model_config = ConfigDict(alias_generator=to_pascal)
    aws_service: ClassVar[aws_model.Service] = "sagemaker"


def validate_document(model: type[M], doc: Any, *, what: str) -> M:
    """Validate a user's document (AWS names only) into ``model``, or raise :class:`SpecError`.

    This is the one entry point for user input: it refuses snake_case spellings that
    AWS would refuse, and turns every failure into a located, hinted ``SpecError``.
    """
    if not isinstance(doc, Mapping):
        raise SpecError(
            f"a {what} must be a JSON object, not {type(doc).__name__}",
            hint=f"write the {what} as {{...}}",
        )
    try:
        return model.model_validate(doc, by_name=False, context={AWS_NAMES: True})
    except ValidationError as exc:
        raise spec_error(exc) from None
