"""ECR lifecycle policies: ECR's grammar and rules, errors at the JSON path with the fix."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.spec.lifecycle import (
    CountType,
    TagStatus,
    parse_lifecycle_policy,
    parse_lifecycle_policy_text,
)

pytestmark = pytest.mark.unit

Doc = dict[str, Any]


def rule(priority: int, **selection: Any) -> Doc:
    return {
        "rulePriority": priority,
        "description": f"rule {priority}",
        "selection": selection,
        "action": {"type": "expire"},
    }


def base() -> Doc:
    return {
        "rules": [
            rule(
                1,
                tagStatus="tagged",
                tagPatternList=["prod*"],
                countType="imageCountMoreThan",
                countNumber=5,
            ),
            rule(
                2,
                tagStatus="untagged",
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=14,
            ),
            rule(9, tagStatus="any", countType="imageCountMoreThan", countNumber=100),
        ]
    }


def with_(change: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(base())
    change(doc)
    return doc


def refused(doc: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_lifecycle_policy(doc)
    return caught.value


def test_a_policy_in_ecrs_grammar_is_read() -> None:
    policy = parse_lifecycle_policy(base())
    first = policy.rules[0]
    assert first.rule_priority == 1
    assert first.description == "rule 1"
    assert first.selection.tag_status is TagStatus.TAGGED
    assert first.selection.tag_pattern_list == ("prod*",)
    assert first.selection.count_type is CountType.IMAGE_COUNT_MORE_THAN
    assert policy.rules[1].selection.count_unit == "days"


def test_the_policy_round_trips_unchanged() -> None:
    assert parse_lifecycle_policy(base()).to_aws() == base()


def test_rules_are_applied_lowest_priority_first_whatever_their_order() -> None:
    doc = with_(lambda d: d["rules"].reverse())
    priorities = [r.rule_priority for r in parse_lifecycle_policy(doc).ordered_rules]
    assert priorities == [1, 2, 9]


@pytest.mark.parametrize(
    "example",
    [
        # the examples of the Amazon ECR User Guide, "Examples of lifecycle policies"
        rule(
            1,
            tagStatus="tagged",
            tagPatternList=["prod*"],
            countType="sinceImagePushed",
            countUnit="days",
            countNumber=14,
        ),
        rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1),
        rule(
            1,
            tagStatus="tagged",
            tagPrefixList=["prod"],
            countType="imageCountMoreThan",
            countNumber=1,
        ),
        rule(
            1,
            tagStatus="tagged",
            tagPatternList=["*test*1*2*3", "test*1*2*3*"],
            countType="imageCountMoreThan",
            countNumber=1,
        ),
        rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=1),
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "any",
                "storageClass": "standard",
                "countType": "imageCountMoreThan",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
    ],
)
def test_ecrs_documented_examples_are_valid(example: Doc) -> None:
    assert len(parse_lifecycle_policy({"rules": [example]}).rules) == 1


def test_the_policy_file_text_is_read() -> None:
    text = json.dumps(base(), indent=2)
    assert parse_lifecycle_policy_text(text).to_aws() == base()


@pytest.mark.parametrize(
    ("change", "field", "hint_part"),
    [
        (
            lambda d: d["rules"][1]["selection"].pop("countUnit"),
            "rules[1].selection.countUnit",
            '"countUnit": "days"',
        ),
        (
            lambda d: d["rules"][0]["selection"].update(countUnit="days"),
            "rules[0].selection.countUnit",
            "remove countUnit",
        ),
        (
            lambda d: d["rules"][1]["selection"].update(countUnit="hours"),
            "rules[1].selection.countUnit",
            "days",
        ),
        (
            lambda d: d["rules"][0]["selection"].pop("tagPatternList"),
            "rules[0].selection.tagPatternList",
            "tagPatternList",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagPrefixList=["prod"]),
            "rules[0].selection.tagPrefixList",
            "keep one list",
        ),
        (
            lambda d: d["rules"][1]["selection"].update(tagPrefixList=["prod"]),
            "rules[1].selection.tagPrefixList",
            'set tagStatus to "tagged"',
        ),
        (
            lambda d: d["rules"][2]["selection"].update(tagPatternList=["*"]),
            "rules[2].selection.tagPatternList",
            "remove tagPatternList",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(countNumber=0),
            "rules[0].selection.countNumber",
            "1 or more",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(countNumber="5"),
            "rules[0].selection.countNumber",
            "without quotes",
        ),
        (
            lambda d: d["rules"][0].update(rulePriority=0),
            "rules[0].rulePriority",
            "1 or more",
        ),
        (
            lambda d: d["rules"][1].update(rulePriority=1),
            "rules[1].rulePriority",
            "its own rulePriority",
        ),
        (
            lambda d: d["rules"][0].update(rulePriority=10),
            "rules[2].rulePriority",
            "above 10",
        ),
        (
            lambda d: d["rules"][0]["action"].update(type="delete"),
            "rules[0].action.type",
            "expire",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagStatus="TAGGED"),
            "rules[0].selection.tagStatus",
            'did you mean "tagged"?',
        ),
        (
            lambda d: d["rules"][0]["selection"].update(countType="imageCountMoreThen"),
            "rules[0].selection.countType",
            'did you mean "imageCountMoreThan"?',
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagPatternList=["*a*b*c*d*e"]),
            "rules[0].selection.tagPatternList[0]",
            "wildcards",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagPatternList=[]),
            "rules[0].selection.tagPatternList",
            "add a tag pattern",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagPatternList=["prod*", ""]),
            "rules[0].selection.tagPatternList[1]",
            "write the tag pattern",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(tagPrefixLst=["x"]),
            "rules[0].selection.tagPrefixLst",
            'did you mean "tagPrefixList"?',
        ),
        (
            lambda d: d["rules"][0].pop("action"),
            "rules[0].action",
            'add "action"',
        ),
        (lambda d: d.update(rules=[]), "rules", "add a rule"),
    ],
)
def test_broken_rules_name_the_json_path_and_the_fix(
    change: Callable[[Doc], object], field: str, hint_part: str
) -> None:
    error = refused(with_(change))
    assert error.field == field
    assert error.hint is not None and hint_part in error.hint


def test_wildcards_up_to_four_per_pattern_are_allowed() -> None:
    doc = with_(lambda d: d["rules"][0]["selection"].update(tagPatternList=["*a*b*c*"]))
    assert parse_lifecycle_policy(doc).rules[0].selection.tag_pattern_list == ("*a*b*c*",)


def test_only_one_rule_may_select_untagged_images() -> None:
    extra = rule(3, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)
    error = refused(with_(lambda d: d["rules"].append(extra)))
    assert error.field == "rules[3].selection.tagStatus"
    assert "rules[1] already does" in error.message


def test_two_rules_with_the_same_tag_list_are_refused() -> None:
    twin = rule(
        3,
        tagStatus="tagged",
        tagPatternList=["prod*"],
        countType="sinceImagePushed",
        countUnit="days",
        countNumber=1,
    )
    error = refused(with_(lambda d: d["rules"].append(twin)))
    assert error.field == "rules[3].selection.tagPatternList"
    assert "never expire" in error.message


def test_a_prefix_list_selecting_the_same_tags_as_a_pattern_list_is_a_twin() -> None:
    twin = rule(
        3, tagStatus="tagged", tagPrefixList=["prod"], countType="imageCountMoreThan", countNumber=1
    )
    error = refused(with_(lambda d: d["rules"].append(twin)))
    assert error.field == "rules[3].selection.tagPrefixList"
    assert "rules[0] already selects the same tags" in error.message


def test_rules_over_different_tags_may_coexist() -> None:
    other = rule(
        3,
        tagStatus="tagged",
        tagPatternList=["prod*", "stable"],
        countType="imageCountMoreThan",
        countNumber=1,
    )
    assert len(parse_lifecycle_policy(with_(lambda d: d["rules"].append(other))).rules) == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d["rules"][0]["selection"].update(countType="sinceImagePulled"),
            "rules[0].selection.countType",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(countType="sinceImageTransitioned"),
            "rules[0].selection.countType",
        ),
        (
            lambda d: d["rules"][0]["selection"].update(storageClass="archive"),
            "rules[0].selection.storageClass",
        ),
        (
            lambda d: d["rules"][0]["action"].update(type="transition"),
            "rules[0].action.type",
        ),
        (
            lambda d: d["rules"][0]["action"].update(targetStorageClass="archive"),
            "rules[0].action.targetStorageClass",
        ),
    ],
)
def test_ecrs_archive_features_are_refused_with_the_reason(
    change: Callable[[Doc], object], field: str
) -> None:
    error = refused(with_(change))
    assert error.field == field
    assert error.hint is not None and "no archive storage class" in error.hint


def test_a_policy_must_be_an_object() -> None:
    assert "must be a JSON object" in refused([1, 2]).message


def test_policy_text_that_is_not_json_says_where() -> None:
    text = json.dumps(base())[:-1] + " " * 10
    with pytest.raises(SpecError) as caught:
        parse_lifecycle_policy_text(text)
    assert caught.value.field == "lifecyclePolicyText"
    assert "line 1" in caught.value.message


def test_policy_text_length_is_ecrs() -> None:
    with pytest.raises(SpecError, match="at least 100"):
        parse_lifecycle_policy_text('{"rules": []}')
    padded = json.dumps({"rules": base()["rules"], "pad": "x" * 31_000})
    with pytest.raises(SpecError, match="at most 30720"):
        parse_lifecycle_policy_text(padded)


def test_errors_in_the_policy_text_point_into_the_document() -> None:
    text = json.dumps(with_(lambda d: d["rules"][1]["selection"].pop("countUnit")))
    with pytest.raises(SpecError) as caught:
        parse_lifecycle_policy_text(text)
    assert caught.value.field == "rules[1].selection.countUnit"
