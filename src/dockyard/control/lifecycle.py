"""Which images a lifecycle policy expires, and which rule decided (pure).

:func:`preview_lifecycle` is both the dry run (ECR's ``StartLifecyclePolicyPreview``:
a table of every image with its verdict) and the plan the registry loop executes.
The semantics are ECR's, from the Amazon ECR User Guide, "Lifecycle policy evaluation
rules" and the worked examples in "Examples of lifecycle policies"
(docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html and
lifecycle_policy_examples.html):

* "All rules are evaluated at the same time, regardless of rule priority. After all
  rules are evaluated, they are then applied based on rule priority." Each rule
  therefore *identifies* its images among all images of the repository: an
  ``imageCountMoreThan`` rule ranks every image it selects, newest first by push
  time, including images that a higher-priority rule already claimed ("Rules can
  never mark images that are marked by higher priority rules, but can still
  identify them as if they haven't been expired").
* "An image that matches the tagging requirements of a rule cannot be expired by a
  rule with a lower priority." So the first rule (lowest ``rulePriority``) whose
  selection matches an image *claims* it, whether that rule expires it or keeps it;
  no later rule decides about it. Hence "an image is expired by exactly one or zero
  rules".
* ``imageCountMoreThan`` N: the N newest selected images are kept, the rest expire.
  ``sinceImagePushed`` N days: images pushed more than N days before ``now`` expire.
* Tag matching (``Selection.selects``): ``untagged`` selects images without tags,
  ``any`` all images, ``tagged`` the images where *every* entry of the pattern or
  prefix list matches at least one of the image's tags.

Worked example (ECR's "Example B" under "Filtering on all images"): rule 1 keeps the
newest ``alpha*`` image, rule 2 expires untagged images older than a day, rule 3
(``any``, keep 1) ranks all five images but may only expire the one image neither
earlier rule matched.

Images pushed at the same instant are ranked by digest, so the result never depends
on the order images are listed in. Not modelled: ECR's rule that an image referenced
by a manifest list (a multi-architecture index) outlives that list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dockyard.spec.lifecycle import CountType, LifecyclePolicy, LifecycleRule, Selection, TagStatus

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class RegistryImage:
    """One image (manifest) of a repository, as the registry lists it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: float  # seconds since the epoch
    size: int = 0  # bytes


class ImageAction(StrEnum):
    """The verdict on one image; ``EXPIRE`` is ECR's ``ImageActionType`` value."""

    EXPIRE = "EXPIRE"
    KEEP = "KEEP"


@dataclass(frozen=True)
class ImageDecision:
    """The verdict on one image and why.

    ``rule_priority`` is the rule that decided: the one that expires the image, or the
    first rule that selected it and kept it; ``None`` when no rule selects the image.
    """

    image: RegistryImage
    action: ImageAction
    rule_priority: int | None
    reason: str

    @property
    def expired(self) -> bool:
        return self.action is ImageAction.EXPIRE


@dataclass(frozen=True)
class LifecyclePreview:
    """Every image's verdict, newest image first (the dry-run table's rows)."""

    decisions: tuple[ImageDecision, ...]

    @property
    def expiring(self) -> tuple[ImageDecision, ...]:
        return tuple(d for d in self.decisions if d.expired)

    @property
    def expiring_digests(self) -> frozenset[str]:
        return frozenset(d.image.digest for d in self.expiring)

    @property
    def expiring_bytes(self) -> int:
        return sum(d.image.size for d in self.expiring)

    def decision(self, digest: str) -> ImageDecision:
        """The verdict on the image with ``digest``; KeyError if it was not previewed."""
        for item in self.decisions:
            if item.image.digest == digest:
                return item
        raise KeyError(digest)

    def aws_results(self) -> list[dict[str, Any]]:
        """The expiring images as ECR's ``LifecyclePolicyPreviewResult`` list."""
        return [
            {
                "imageTags": list(d.image.tags),
                "imageDigest": d.image.digest,
                "imagePushedAt": d.image.pushed_at,
                "action": {"type": d.action.value},
                "appliedRulePriority": d.rule_priority,
            }
            for d in self.expiring
        ]


def preview_lifecycle(
    policy: LifecyclePolicy, images: Iterable[RegistryImage], now: float
) -> LifecyclePreview:
    """Apply ``policy`` to ``images`` at time ``now`` (see the module for the rules).

    Raises ValueError if two images share a digest (a repository holds a manifest once).
    """
    ordered = _newest_first(images)
    claimed: dict[str, ImageDecision] = {}
    for rule in policy.ordered_rules:
        selected = [image for image in ordered if rule.selection.selects(image.tags)]
        for rank, image in enumerate(selected):
            if image.digest not in claimed:
                claimed[image.digest] = _judge(rule, image, rank, now)
    return LifecyclePreview(
        tuple(
            claimed.get(image.digest)
            or ImageDecision(image, ImageAction.KEEP, None, "no rule selects it")
            for image in ordered
        )
    )


def _newest_first(images: Iterable[RegistryImage]) -> list[RegistryImage]:
    ordered = sorted(images, key=lambda image: (-image.pushed_at, image.digest))
    seen: set[str] = set()
    for image in ordered:
        if image.digest in seen:
            raise ValueError(f"image {image.digest} is listed twice")
        seen.add(image.digest)
    return ordered


def _judge(rule: LifecycleRule, image: RegistryImage, rank: int, now: float) -> ImageDecision:
    """The verdict of ``rule`` on ``image``, the ``rank``-th newest image it selects (0-based)."""
    selection = rule.selection
    what = describe_selection(selection)
    limit = selection.count_number
    if selection.count_type is CountType.IMAGE_COUNT_MORE_THAN:
        expire = rank >= limit
        reason = f"newest #{rank + 1} of {what}; the rule keeps the newest {limit}"
    else:
        age = now - image.pushed_at
        expire = age > limit * SECONDS_PER_DAY
        relation = "more than" if expire else "not more than"
        reason = f"{what}: pushed {_age(age)}, {relation} {_days(limit)}"
    action = ImageAction.EXPIRE if expire else ImageAction.KEEP
    return ImageDecision(image, action, rule.rule_priority, reason)


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _age(seconds: float) -> str:
    """``3 days 2 h ago``: whole days and hours, rounded down, as a table shows an age."""
    if seconds < 0:
        return "after now (the clocks disagree)"
    days, rest = divmod(int(seconds), int(SECONDS_PER_DAY))
    hours = rest // 3600
    if days == 0:
        return f"{hours} h ago"
    return f"{_days(days)} {hours} h ago"


def describe_selection(selection: Selection) -> str:
    """Which images a selection means, in words (``images tagged prod*``)."""
    if selection.tag_status is TagStatus.ANY:
        return "images"
    if selection.tag_status is TagStatus.UNTAGGED:
        return "untagged images"
    if selection.tag_pattern_list is not None:
        return f"images tagged {' and '.join(selection.tag_pattern_list)}"
    prefixes = " and ".join(f"{prefix}*" for prefix in selection.tag_prefix_list or ())
    return f"images tagged {prefixes}"
