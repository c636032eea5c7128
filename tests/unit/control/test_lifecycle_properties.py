"""Properties of lifecycle previews over many random policies and repositories (seeded)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dockyard.control.lifecycle import LifecyclePreview, RegistryImage, preview_lifecycle
from dockyard.spec.lifecycle import CountType, LifecyclePolicy, parse_lifecycle_policy

pytestmark = pytest.mark.unit

SEEDS = range(300)
DAY = 86_400.0
NOW = 500 * DAY
TAG_WORDS = ["prod", "beta", "dev", "v1", "v2", "release", "latest"]
FILTERS = ["prod*", "beta*", "v*", "*e*", "dev", "release-*", "latest", "*1"]


def random_rule(rng: random.Random, priority: int, status: str, used: set[str]) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status}
    if status == "tagged":
        while True:
            chosen = sorted(rng.sample(FILTERS, rng.randint(1, 2)))
            key = "|".join(chosen)
            if key not in used:
                used.add(key)
                break
        selection["tagPatternList"] = chosen
    if rng.random() < 0.5:
        selection.update(countType="imageCountMoreThan", countNumber=rng.randint(1, 4))
    else:
        selection.update(
            countType="sinceImagePushed", countUnit="days", countNumber=rng.randint(1, 30)
        )
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def random_policy(rng: random.Random) -> LifecyclePolicy:
    priorities = sorted(rng.sample(range(1, 50), rng.randint(1, 5)))
    statuses = ["tagged"] * len(priorities)
    if rng.random() < 0.5:
        statuses[rng.randrange(len(statuses))] = "untagged"
    if rng.random() < 0.4:
        statuses[-1] = "any"
    used: set[str] = set()
    rules = [random_rule(rng, p, s, used) for p, s in zip(priorities, statuses, strict=True)]
    rng.shuffle(rules)
    return parse_lifecycle_policy({"rules": rules})


def random_tag(rng: random.Random) -> str:
    word = rng.choice(TAG_WORDS)
    return word if rng.random() < 0.3 else f"{word}-{rng.randint(1, 9)}"


def random_images(rng: random.Random) -> list[RegistryImage]:
    images = []
    for index in range(rng.randint(0, 14)):
        tags = tuple(sorted({random_tag(rng) for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))}))
        pushed = NOW - rng.choice([rng.uniform(0, 40) * DAY, float(rng.randint(0, 40)) * DAY])
        images.append(RegistryImage(f"sha256:{index:02d}", tags, pushed, rng.randint(1, 1000)))
    return images


def situation(seed: int) -> tuple[LifecyclePolicy, list[RegistryImage], LifecyclePreview]:
    rng = random.Random(seed)
    pol, images = random_policy(rng), random_images(rng)
    return pol, images, preview_lifecycle(pol, images, NOW)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_image_gets_exactly_one_decision(seed: int) -> None:
    _, images, preview = situation(seed)
    digests = [d.image.digest for d in preview.decisions]
    assert sorted(digests) == sorted(i.digest for i in images)
    assert len(set(digests)) == len(digests)  # never decided (or expired) twice


@pytest.mark.parametrize("seed", SEEDS)
def test_the_result_does_not_depend_on_the_order_images_are_listed(seed: int) -> None:
    pol, images, preview = situation(seed)
    shuffled = list(images)
    random.Random(seed + 1).shuffle(shuffled)
    assert preview_lifecycle(pol, shuffled, NOW) == preview
    assert preview_lifecycle(pol, list(reversed(images)), NOW) == preview


@pytest.mark.parametrize("seed", SEEDS)
def test_the_deciding_rule_is_the_first_rule_that_selects_the_image(seed: int) -> None:
    pol, _, preview = situation(seed)
    for decision in preview.decisions:
        selecting = [r for r in pol.ordered_rules if r.selection.selects(decision.image.tags)]
        expected = selecting[0].rule_priority if selecting else None
        assert decision.rule_priority == expected
        if decision.expired:
            assert decision.rule_priority is not None


@pytest.mark.parametrize("seed", SEEDS)
def test_an_expired_image_breaks_its_rules_limit(seed: int) -> None:
    pol, images, preview = situation(seed)
    rules = {r.rule_priority: r for r in pol.rules}
    for decision in preview.expiring:
        assert decision.rule_priority is not None
        selection = rules[decision.rule_priority].selection
        if selection.count_type is CountType.SINCE_IMAGE_PUSHED:
            assert NOW - decision.image.pushed_at > selection.count_number * DAY
        else:
            newer = [
                i
                for i in images
                if selection.selects(i.tags)
                and (i.pushed_at, _neg(i.digest))
                > (decision.image.pushed_at, _neg(decision.image.digest))
            ]
            assert len(newer) >= selection.count_number


@pytest.mark.parametrize("seed", SEEDS)
def test_a_count_rule_alone_keeps_exactly_its_newest_images(seed: int) -> None:
    rng = random.Random(seed)
    images = random_images(rng)
    keep = rng.randint(1, 5)
    pol = parse_lifecycle_policy(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    preview = preview_lifecycle(pol, images, NOW)
    kept = [d.image for d in preview.decisions if not d.expired]
    assert len(kept) == min(keep, len(images))
    oldest_kept = min((i.pushed_at for i in kept), default=NOW)
    assert all(d.image.pushed_at <= oldest_kept for d in preview.expiring)


@pytest.mark.parametrize("seed", SEEDS)
def test_adding_a_lower_priority_rule_never_saves_an_image(seed: int) -> None:
    pol, images, preview = situation(seed)
    lowest = max(r.rule_priority for r in pol.rules)
    if any(r.selection.tag_status == "any" for r in pol.rules):
        return  # nothing may follow an "any" rule
    extra = {
        "rulePriority": lowest + 1,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
        "action": {"type": "expire"},
    }
    bigger = parse_lifecycle_policy({"rules": [*pol.to_aws()["rules"], extra]})
    assert preview.expiring_digests <= preview_lifecycle(bigger, images, NOW).expiring_digests


def _neg(digest: str) -> tuple[int, ...]:
    """Sort key under which a smaller digest counts as newer (the tie-break of the ranking)."""
    return tuple(-ord(char) for char in digest)
