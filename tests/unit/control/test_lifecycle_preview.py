"""Which images a lifecycle policy expires: ECR's documented examples and its rules."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.control.lifecycle import (
    ImageAction,
    RegistryImage,
    describe_selection,
    preview_lifecycle,
)
from dockyard.spec.lifecycle import LifecyclePolicy, parse_lifecycle_policy

pytestmark = pytest.mark.unit

DAY = 86_400.0
NOW = 1_000 * DAY


def image(name: str, *tags: str, days_ago: float, size: int = 0) -> RegistryImage:
    return RegistryImage(f"sha256:{name}", tags, NOW - days_ago * DAY, size)


def policy(*rules: dict[str, Any]) -> LifecyclePolicy:
    return parse_lifecycle_policy({"rules": list(rules)})


def count_rule(priority: int, keep: int, status: str = "tagged", **tags: Any) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "selection": {
            "tagStatus": status,
            **tags,
            "countType": "imageCountMoreThan",
            "countNumber": keep,
        },
        "action": {"type": "expire"},
    }


def age_rule(priority: int, days: int, status: str = "tagged", **tags: Any) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "selection": {
            "tagStatus": status,
            **tags,
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": days,
        },
        "action": {"type": "expire"},
    }


def expired(pol: LifecyclePolicy, images: list[RegistryImage]) -> set[str]:
    preview = preview_lifecycle(pol, images, NOW)
    return {digest.removeprefix("sha256:") for digest in preview.expiring_digests}


# The repository of ECR's "Filtering on multiple rules" examples A and B.
BETA_PROD = [
    image("A", "beta-1", "prod-1", days_ago=10),
    image("B", "beta-2", "prod-2", days_ago=9),
    image("C", "beta-3", days_ago=8),
]


def test_ecr_example_a_a_rule_cannot_expire_what_a_higher_rule_matched() -> None:
    pol = policy(
        count_rule(1, 1, tagPatternList=["prod*"]), count_rule(2, 1, tagPatternList=["beta*"])
    )
    assert expired(pol, BETA_PROD) == {"A"}


def test_ecr_example_b_reordered_rules_expire_more() -> None:
    pol = policy(
        count_rule(1, 1, tagPatternList=["beta*"]), count_rule(2, 1, tagPatternList=["prod*"])
    )
    assert expired(pol, BETA_PROD) == {"A", "B"}


def test_ecr_example_a_with_prefix_lists_gives_the_same_result() -> None:
    pol = policy(count_rule(1, 1, tagPrefixList=["prod"]), count_rule(2, 1, tagPrefixList=["beta"]))
    assert expired(pol, BETA_PROD) == {"A"}


def test_ecr_multiple_patterns_in_one_rule_must_all_match() -> None:
    images = [
        image("A", "alpha-1", days_ago=12),
        image("B", "beta-1", days_ago=11),
        image("C", "alpha-2", "beta-2", days_ago=10),
        image("D", "alpha-3", days_ago=4),
        image("E", "beta-3", days_ago=3),
        image("F", "alpha-4", "beta-4", days_ago=2),
    ]
    pol = policy(age_rule(1, 5, tagPatternList=["alpha*", "beta*"]))
    assert expired(pol, images) == {"C"}


def test_ecr_tags_are_not_exclusive() -> None:
    images = [
        image("A", "alpha-1", "beta-1", "gamma-1", days_ago=10),
        image("B", "alpha-2", "beta-2", days_ago=9),
        image("C", "alpha-3", "beta-3", "gamma-2", days_ago=8),
    ]
    pol = policy(count_rule(1, 1, tagPatternList=["alpha*", "beta*"]))
    assert expired(pol, images) == {"A", "B"}


def test_ecr_all_images_keep_one() -> None:
    images = [
        image("A", "alpha-1", days_ago=4),
        image("B", "beta-1", days_ago=3),
        image("C", days_ago=2),
        image("D", "alpha-2", days_ago=1),
    ]
    assert expired(policy(count_rule(1, 1, status="any")), images) == {"A", "B", "C"}


def test_ecr_all_rule_types_combined() -> None:
    images = [
        image("A", "alpha-1", "beta-1", days_ago=4),
        image("B", days_ago=3),
        image("C", "alpha-2", days_ago=2),
        image("D", "git-hash", days_ago=1.01),
        image("E", days_ago=1.0),
    ]
    pol = policy(
        count_rule(1, 1, tagPatternList=["alpha*"]),
        age_rule(2, 1, status="untagged"),
        count_rule(3, 1, status="any"),
    )
    preview = preview_lifecycle(pol, images, NOW)
    assert expired(pol, images) == {"A", "B", "D"}
    assert preview.decision("sha256:D").rule_priority == 3
    assert preview.decision("sha256:C").rule_priority == 1  # kept: rule 1 claimed it
    assert preview.decision("sha256:E").rule_priority == 2  # kept: pushed exactly one day ago


def test_count_rule_keeps_the_newest_n_and_expires_the_rest() -> None:
    images = [image(str(n), f"v{n}", days_ago=n) for n in range(6)]
    preview = preview_lifecycle(policy(count_rule(1, 2, tagPatternList=["v*"])), images, NOW)
    assert [d.image.digest for d in preview.decisions if not d.expired] == ["sha256:0", "sha256:1"]
    assert len(preview.expiring) == 4


def test_age_rule_expires_only_images_older_than_the_limit() -> None:
    images = [image("old", days_ago=14.01), image("edge", days_ago=14), image("new", days_ago=1)]
    assert expired(policy(age_rule(1, 14, status="untagged")), images) == {"old"}


def test_untagged_rules_never_touch_tagged_images() -> None:
    images = [image("t", "v1", days_ago=100), image("u", days_ago=100)]
    assert expired(policy(age_rule(1, 1, status="untagged")), images) == {"u"}


def test_prefix_matches_any_of_the_images_tags() -> None:
    images = [image("x", "latest", "release-1", days_ago=50), image("y", "latest", days_ago=50)]
    assert expired(policy(age_rule(1, 1, tagPrefixList=["release"])), images) == {"x"}


def test_every_prefix_of_the_list_must_match_some_tag() -> None:
    images = [image("both", "a-1", "b-1", days_ago=9), image("one", "a-2", days_ago=9)]
    assert expired(policy(age_rule(1, 1, tagPrefixList=["a", "b"])), images) == {"both"}


def test_images_no_rule_selects_are_kept_without_a_rule() -> None:
    preview = preview_lifecycle(
        policy(age_rule(1, 1, tagPatternList=["prod*"])),
        [image("dev", "dev-1", days_ago=30)],
        NOW,
    )
    (decision,) = preview.decisions
    assert decision.action is ImageAction.KEEP
    assert decision.rule_priority is None
    assert decision.reason == "no rule selects it"


def test_a_kept_image_is_protected_from_lower_rules() -> None:
    images = [image("p", "prod-1", days_ago=400)]
    pol = policy(count_rule(1, 10, tagPatternList=["prod*"]), age_rule(2, 30, status="any"))
    decision = preview_lifecycle(pol, images, NOW).decisions[0]
    assert decision.action is ImageAction.KEEP
    assert decision.rule_priority == 1


def test_lower_rules_still_count_images_claimed_by_higher_rules() -> None:
    # rule 2 ranks all three images: "new" (claimed by rule 1) is its newest, so "mid"
    # is number two and expires even though rule 2 could not expire "new" itself
    images = [
        image("old", "b-1", days_ago=3),
        image("mid", "b-2", days_ago=2),
        image("new", "a-1", "b-3", days_ago=1),
    ]
    pol = policy(count_rule(1, 5, tagPatternList=["a*"]), count_rule(2, 1, tagPatternList=["b*"]))
    assert expired(pol, images) == {"old", "mid"}


def test_rule_priority_not_list_order_decides() -> None:
    rules = [count_rule(7, 1, tagPatternList=["beta*"]), count_rule(3, 1, tagPatternList=["prod*"])]
    assert expired(policy(*rules), BETA_PROD) == {"A"}  # prod* (priority 3) acts first


def test_reasons_say_what_the_rule_saw() -> None:
    images = [image("a", "v1", days_ago=3), image("b", "v2", days_ago=2)]
    preview = preview_lifecycle(policy(count_rule(1, 1, tagPatternList=["v*"])), images, NOW)
    assert preview.decision("sha256:b").reason == (
        "newest #1 of images tagged v*; the rule keeps the newest 1"
    )
    assert preview.decision("sha256:a").reason == (
        "newest #2 of images tagged v*; the rule keeps the newest 1"
    )
    aged = preview_lifecycle(
        policy(age_rule(1, 1, status="untagged")), [image("u", days_ago=2.5)], NOW
    )
    assert aged.decisions[0].reason == "untagged images: pushed 2 days 12 h ago, more than 1 day"


def test_an_image_pushed_after_now_is_not_old() -> None:
    future = RegistryImage("sha256:f", (), NOW + DAY)
    preview = preview_lifecycle(policy(age_rule(1, 1, status="untagged")), [future], NOW)
    assert not preview.decisions[0].expired
    assert "after now" in preview.decisions[0].reason


def test_decisions_are_listed_newest_first() -> None:
    images = [image("a", days_ago=5), image("c", days_ago=1), image("b", days_ago=3)]
    preview = preview_lifecycle(policy(count_rule(1, 1, status="any")), images, NOW)
    assert [d.image.digest for d in preview.decisions] == ["sha256:c", "sha256:b", "sha256:a"]


def test_preview_totals_and_the_ecr_result_shape() -> None:
    images = [image("a", "v1", days_ago=5, size=100), image("b", "v2", days_ago=1, size=50)]
    preview = preview_lifecycle(policy(count_rule(1, 1, tagPatternList=["v*"])), images, NOW)
    assert preview.expiring_bytes == 100
    assert preview.aws_results() == [
        {
            "imageTags": ["v1"],
            "imageDigest": "sha256:a",
            "imagePushedAt": NOW - 5 * DAY,
            "action": {"type": "EXPIRE"},
            "appliedRulePriority": 1,
        }
    ]


def test_an_unknown_digest_is_a_key_error() -> None:
    preview = preview_lifecycle(policy(count_rule(1, 1, status="any")), [], NOW)
    assert preview.decisions == ()
    with pytest.raises(KeyError):
        preview.decision("sha256:nope")


def test_a_digest_listed_twice_is_refused() -> None:
    twice = [image("a", days_ago=1), image("a", "v1", days_ago=2)]
    with pytest.raises(ValueError, match="listed twice"):
        preview_lifecycle(policy(count_rule(1, 1, status="any")), twice, NOW)


@pytest.mark.parametrize(
    ("selection", "words"),
    [
        ({"tagStatus": "any"}, "images"),
        ({"tagStatus": "untagged"}, "untagged images"),
        ({"tagStatus": "tagged", "tagPatternList": ["a*", "b"]}, "images tagged a* and b"),
        ({"tagStatus": "tagged", "tagPrefixList": ["rel"]}, "images tagged rel*"),
    ],
)
def test_selections_are_described_in_words(selection: dict[str, Any], words: str) -> None:
    rule = count_rule(1, 1, **selection)
    assert describe_selection(policy(rule).rules[0].selection) == words
