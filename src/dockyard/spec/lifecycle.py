"""An ECR lifecycle policy: the JSON users keep in ``policy.json``, validated by ECR's rules.

The grammar is ECR's own (its API carries the policy as text, ``lifecyclePolicyText``)::

    {"rules": [{"rulePriority": 1, "description": "...",
                "selection": {"tagStatus": "tagged" | "untagged" | "any",
                              "tagPatternList": ["prod*"] | "tagPrefixList": ["prod"],
                              "countType": "imageCountMoreThan" | "sinceImagePushed",
                              "countUnit": "days", "countNumber": 14},
                "action": {"type": "expire"}}]}

Rules checked, each from the Amazon ECR User Guide ("Lifecycle policy properties",
"Lifecycle policy evaluation rules"):

* ``rulePriority`` is a positive whole number, unique in the policy; a rule with
  ``tagStatus`` ``any`` must have the highest;
* ``tagStatus`` ``tagged`` needs ``tagPatternList`` or ``tagPrefixList``, not both;
  either list only goes with ``tagged``; a pattern holds at most four ``*`` wildcards;
* ``countUnit`` (``days``) is required with ``sinceImagePushed`` and refused with
  ``imageCountMoreThan``; ``countNumber`` is at least 1;
* only one rule may select untagged images, and no two rules may select the same tag
  list (the lower one could never act: every image it selects is claimed by the other);
* the text is 100-30720 characters (botocore's ``LifecyclePolicyText``).

ECR's newer archive features (``storageClass`` archive, ``countType`` sinceImagePulled or
sinceImageTransitioned, ``action.type`` transition) are refused with a hint: a local
registry has no archive storage class. ``storageClass`` ``standard`` is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.base import SpecModel, validate_document
from dockyard.spec.errors import SpecValueError
from dockyard.spec.fields import Int, count_between, in_range, one_of_values
from dockyard.spec.repository import WILDCARD, wildcard_match

MAX_WILDCARDS = 4
NO_ARCHIVE = "a local registry has no archive storage class"


class TagStatus(StrEnum):
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    ANY = "any"


class CountType(StrEnum):
    IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
    SINCE_IMAGE_PUSHED = "sinceImagePushed"


class ActionType(StrEnum):
    EXPIRE = "expire"


def _word(allowed: tuple[str, ...], what: str, unsupported: Mapping[str, str]) -> BeforeValidator:
    """A check that a string is one of ``allowed``; ``unsupported`` values get their own hint."""
    check = one_of_values(allowed, what=what)

    def validate(value: object) -> object:
        if not isinstance(value, str):
            return value  # pydantic reports the wrong type
        if value in unsupported:
            raise SpecValueError(f"{what} {value} is not supported", hint=unsupported[value])
        return check(value)

    return BeforeValidator(validate)


def _non_empty_item(noun: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value:
            raise SpecValueError(f"an empty {noun} is not allowed", hint=f"write the {noun}")
        return value

    return AfterValidator(check)


def _pattern(value: str) -> str:
    count = value.count(WILDCARD)
    if count > MAX_WILDCARDS:
        raise SpecValueError(
            f'tag pattern "{value}" has {count} wildcards; ECR allows at most {MAX_WILDCARDS}',
            hint="merge neighbouring wildcards, or match a shorter part of the tag",
        )
    return value


Prefix = Annotated[str, _non_empty_item("tag prefix")]
Pattern = Annotated[str, _non_empty_item("tag pattern"), AfterValidator(_pattern)]


class _PolicyModel(SpecModel):
    """Part of the policy document: camelCase names, no botocore shape (it is JSON text)."""

    model_config = ConfigDict(alias_generator=to_camel)


class Selection(_PolicyModel):
    """Which images a rule looks at, and when it expires them."""

    tag_status: Annotated[TagStatus, _word(tuple(TagStatus), "tagStatus", {})]
    tag_prefix_list: Annotated[tuple[Prefix, ...], count_between(1, None, "tag prefix")] | None = (
        None
    )
    tag_pattern_list: (
        Annotated[tuple[Pattern, ...], count_between(1, None, "tag pattern")] | None
    ) = None
    storage_class: (
        Annotated[
            str,
            _word(("standard",), "storageClass", {"archive": f"remove it: {NO_ARCHIVE}"}),
        ]
        | None
    ) = None
    count_type: Annotated[
        CountType,
        _word(
            tuple(CountType),
            "countType",
            {
                "sinceImagePulled": "use sinceImagePushed: sinceImagePulled only archives "
                f"images, and {NO_ARCHIVE}",
                "sinceImageTransitioned": f"use sinceImagePushed: {NO_ARCHIVE}",
            },
        ),
    ]
    count_unit: Annotated[str, _word(("days",), "countUnit", {})] | None = None
    count_number: Annotated[Int, in_range(1, None)]

    def selects(self, tags: Sequence[str]) -> bool:
        """Whether an image with ``tags`` meets this selection's tagging requirements.

        ECR: every filter of the list must match at least one of the image's tags
        (``["alpha*", "beta*"]`` selects an image tagged alpha-2 and beta-2 only).
        """
        if self.tag_status is TagStatus.ANY:
            return True
        if self.tag_status is TagStatus.UNTAGGED:
            return not tags
        if not tags:
            return False
        return all(any(_filter_match(f, tag) for tag in tags) for f in self._filters())

    def _filters(self) -> tuple[tuple[bool, str], ...]:
        if self.tag_pattern_list is not None:
            return tuple((True, pattern) for pattern in self.tag_pattern_list)
        return tuple((False, prefix) for prefix in self.tag_prefix_list or ())

    @model_validator(mode="after")
    def _ecr_rules(self) -> Selection:
        _check_tag_lists(self)
        _check_count_unit(self)
        return self


def _filter_match(item: tuple[bool, str], tag: str) -> bool:
    is_pattern, text = item
    return wildcard_match(text, tag) if is_pattern else tag.startswith(text)


def _check_tag_lists(selection: Selection) -> None:
    prefixes, patterns = selection.tag_prefix_list, selection.tag_pattern_list
    status = selection.tag_status
    if status is TagStatus.TAGGED:
        if prefixes is None and patterns is None:
            raise SpecValueError(
                'is required when tagStatus is "tagged" (or tagPrefixList)',
                hint='add e.g. "tagPatternList": ["prod*"] to say which tags the rule selects',
                at=("tagPatternList",),
            )
        if prefixes is not None and patterns is not None:
            raise SpecValueError(
                "a rule takes tagPatternList or tagPrefixList, not both",
                hint="keep one list (a prefix p is the pattern p*)",
                at=("tagPrefixList",),
            )
        return
    for name, value in (("tagPrefixList", prefixes), ("tagPatternList", patterns)):
        if value is not None:
            raise SpecValueError(
                f'only applies when tagStatus is "tagged" (this rule has "{status}")',
                hint=f'remove {name}, or set tagStatus to "tagged"',
                at=(name,),
            )


def _check_count_unit(selection: Selection) -> None:
    pushed = selection.count_type is CountType.SINCE_IMAGE_PUSHED
    if pushed and selection.count_unit is None:
        raise SpecValueError(
            "is required when countType is sinceImagePushed",
            hint='add "countUnit": "days"',
            at=("countUnit",),
        )
    if not pushed and selection.count_unit is not None:
        raise SpecValueError(
            f"only applies when countType is sinceImagePushed (this rule has "
            f"{selection.count_type})",
            hint="remove countUnit: imageCountMoreThan counts images, not days",
            at=("countUnit",),
        )


def _no_target_storage_class(value: str) -> str:
    raise SpecValueError(
        "only applies to transition actions",
        hint=f"remove targetStorageClass: {NO_ARCHIVE}",
    )


class Action(_PolicyModel):
    """What happens to the images a rule selects: ``expire`` (deleted)."""

    type: Annotated[
        ActionType,
        _word(
            tuple(ActionType),
            "action type",
            {"transition": f"use expire: {NO_ARCHIVE}"},
        ),
    ]
    target_storage_class: Annotated[str, AfterValidator(_no_target_storage_class)] | None = None


class LifecycleRule(_PolicyModel):
    """One rule: its priority (lower acts first), the images it selects, what it does."""

    rule_priority: Annotated[Int, in_range(1, None)]
    description: str | None = None
    selection: Selection
    action: Action


class LifecyclePolicy(_PolicyModel):
    """A whole policy: ``{"rules": [...]}``, at least one rule."""

    rules: Annotated[tuple[LifecycleRule, ...], count_between(1, None, "rule")]

    @property
    def ordered_rules(self) -> tuple[LifecycleRule, ...]:
        """The rules in the order ECR applies them: lowest ``rulePriority`` first."""
        return tuple(sorted(self.rules, key=lambda rule: rule.rule_priority))

    @model_validator(mode="after")
    def _policy_rules(self) -> LifecyclePolicy:
        _check_unique_priorities(self.rules)
        _check_any_is_last(self.rules)
        _check_distinct_selections(self.rules)
        return self


def _check_unique_priorities(rules: Sequence[LifecycleRule]) -> None:
    seen: dict[int, int] = {}
    for index, rule in enumerate(rules):
        first = seen.setdefault(rule.rule_priority, index)
        if first != index:
            raise SpecValueError(
                f"rulePriority {rule.rule_priority} is already used by rules[{first}]",
                hint="give every rule its own rulePriority (they need not be consecutive)",
                at=("rules", index, "rulePriority"),
            )


def _check_any_is_last(rules: Sequence[LifecycleRule]) -> None:
    highest = max(rule.rule_priority for rule in rules)
    for index, rule in enumerate(rules):
        if rule.selection.tag_status is TagStatus.ANY and rule.rule_priority != highest:
            raise SpecValueError(
                f'a rule with tagStatus "any" must have the highest rulePriority '
                f"(this one has {rule.rule_priority}, another rule has {highest})",
                hint=f"give it a rulePriority above {highest}, e.g. {highest + 1}",
                at=("rules", index, "rulePriority"),
            )


def _check_distinct_selections(rules: Sequence[LifecycleRule]) -> None:
    untagged: int | None = None
    lists: dict[frozenset[str], int] = {}
    for index, rule in enumerate(rules):
        selection = rule.selection
        if selection.tag_status is TagStatus.UNTAGGED:
            if untagged is not None:
                raise SpecValueError(
                    f"only one rule may select untagged images; rules[{untagged}] already does",
                    hint="merge the two rules, or remove one",
                    at=("rules", index, "selection", "tagStatus"),
                )
            untagged = index
        if selection.tag_status is not TagStatus.TAGGED:
            continue
        name = "tagPatternList" if selection.tag_pattern_list is not None else "tagPrefixList"
        first = lists.setdefault(_as_patterns(selection), index)
        if first != index:
            raise SpecValueError(
                f"rules[{first}] already selects the same tags; this rule would never "
                "expire an image",
                hint="merge the two rules, or select other tags",
                at=("rules", index, "selection", name),
            )


def _as_patterns(selection: Selection) -> frozenset[str]:
    """A tagged selection's filters as patterns (the prefix ``p`` selects what ``p*`` does)."""
    if selection.tag_pattern_list is not None:
        return frozenset(selection.tag_pattern_list)
    return frozenset(f"{prefix}{WILDCARD}" for prefix in selection.tag_prefix_list or ())


def parse_lifecycle_policy(doc: Mapping[str, Any]) -> LifecyclePolicy:
    """Validate a lifecycle policy document; raise SpecError naming the JSON path and fix."""
    return validate_document(LifecyclePolicy, doc, what="lifecycle policy")


def parse_lifecycle_policy_text(text: str) -> LifecyclePolicy:
    """Validate ``lifecyclePolicyText`` (the file's contents), length and JSON included."""
    bounds = aws_model.limits("ecr", "LifecyclePolicyText")
    if bounds.max is not None and len(text) > bounds.max:
        raise SpecError(
            f"the policy is {len(text)} characters; ECR allows at most {int(bounds.max)}",
            field="lifecyclePolicyText",
            hint="merge rules or shorten descriptions",
        )
    if bounds.min is not None and len(text) < bounds.min:
        raise SpecError(
            f"the policy is {len(text)} characters; ECR needs at least {int(bounds.min)}",
            field="lifecyclePolicyText",
            hint='write a whole policy: {"rules": [{"rulePriority": 1, "selection": {...}, '
            '"action": {"type": "expire"}}]}',
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"the policy is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            field="lifecyclePolicyText",
            hint="fix the JSON syntax there (a missing comma or quote is the usual cause)",
        ) from None
    return parse_lifecycle_policy(doc)
