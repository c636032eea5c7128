"""Reading requested scopes and deciding what a registry token grants."""

from __future__ import annotations

import pytest

from dockyard.adapters.registry.scopes import Scope, grant, parse_scope, parse_scopes
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit

PUSHER = {"models/*": ["pull", "push"], "registry:catalog": ["*"]}


def test_a_repository_scope_is_parsed_with_sorted_actions() -> None:
    assert parse_scope("repository:models/iris:push,pull") == Scope(
        "repository", "models/iris", ("pull", "push")
    )


def test_the_catalog_scope_is_parsed() -> None:
    assert parse_scope("registry:catalog:*") == Scope("registry", "catalog", ("*",))


def test_a_resource_class_is_dropped() -> None:
    assert parse_scope("repository(plugin):models/iris:pull").type == "repository"


def test_a_scope_prints_as_it_is_written() -> None:
    assert str(Scope("repository", "models/iris", ("pull", "push"))) == (
        "repository:models/iris:pull,push"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "repository",
        "repository:models/iris",
        "repository::pull",
        "repository:models/iris:",
        "image:models/iris:pull",
        "repository:Models/Iris:pull",
        "repository:models//iris:pull",
        "repository:models/iris:pull,fly",
    ],
)
def test_malformed_scopes_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_scope(text)
    assert error.value.field in ("scope", "repository")


def test_several_scopes_for_one_repository_are_merged_and_bad_ones_dropped() -> None:
    scopes = parse_scopes(
        ["repository:models/a:pull", "repository:models/a:push", "nonsense", "registry:catalog:*"]
    )

    assert scopes == [
        Scope("registry", "catalog", ("*",)),
        Scope("repository", "models/a", ("pull", "push")),
    ]


def test_space_separated_scopes_in_one_parameter_are_read() -> None:
    assert len(parse_scopes(["repository:models/a:pull repository:models/b:pull"])) == 2


def test_grant_keeps_what_is_allowed() -> None:
    assert grant(["repository:models/iris:pull,push"], PUSHER) == [
        Scope("repository", "models/iris", ("pull", "push"))
    ]


def test_grant_cuts_actions_down_to_the_allowed_ones() -> None:
    allowed = {"models/iris": ["pull"]}

    assert grant(["repository:models/iris:pull,push"], allowed) == [
        Scope("repository", "models/iris", ("pull",))
    ]


def test_grant_leaves_out_repositories_that_match_no_pattern() -> None:
    assert grant(["repository:other/iris:pull"], PUSHER) == []


def test_a_pattern_does_not_match_across_types() -> None:
    assert grant(["registry:catalog:*"], {"*": ["*"]}) == []
    assert grant(["repository:catalog:pull"], {"registry:catalog": ["*"]}) == []


def test_a_requested_star_is_granted_only_where_star_is_allowed() -> None:
    assert grant(["registry:catalog:*"], PUSHER) == [Scope("registry", "catalog", ("*",))]
    assert grant(["registry:catalog:*"], {"registry:catalog": ["pull"]}) == []


def test_an_allowed_star_grants_every_requested_action() -> None:
    assert grant(["repository:models/iris:delete,pull"], {"models/**": ["*"]}) == [
        Scope("repository", "models/iris", ("delete", "pull"))
    ]


def test_patterns_add_up() -> None:
    allowed = {"models/*": ["pull"], "models/iris": ["push"]}

    assert grant(["repository:models/iris:pull,push"], allowed) == [
        Scope("repository", "models/iris", ("pull", "push"))
    ]


def test_a_malformed_request_gets_nothing_and_no_error() -> None:
    assert grant(["repository:Bad Name:pull", "junk"], {"*": ["*"]}) == []


def test_grant_accepts_parsed_scopes() -> None:
    wanted = Scope("repository", "models/iris", ("pull",))

    assert grant([wanted], PUSHER) == [wanted]
