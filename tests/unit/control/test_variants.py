"""Production variants: sticky routes and the traffic split during updates."""

from __future__ import annotations

import pytest

from dockyard.control.variants import (
    VariantShare,
    VariantTraffic,
    traffic_shares,
    variant_routes,
)

pytestmark = pytest.mark.unit


def test_the_first_variant_of_a_new_endpoint_serves_on_the_endpoint_s_route() -> None:
    assert variant_routes("ep", ["a", "b"], {}) == {"a": "ep", "b": "ep-b"}


def test_a_variant_keeps_its_route_across_updates() -> None:
    assert variant_routes("ep", ["b", "c"], {"a": "ep", "b": "ep-b"}) == {
        "b": "ep-b",
        "c": "ep-c",
    }


def test_the_endpoint_s_route_is_free_again_once_no_variant_holds_it() -> None:
    assert variant_routes("ep", ["c"], {"b": "ep-b"}) == {"c": "ep"}


def test_serving_variants_draw_their_weights() -> None:
    shares = traffic_shares(
        [VariantTraffic("a", "ep", 0.75, True), VariantTraffic("b", "ep-b", 0.25, True)],
        settled=True,
    )
    assert shares == (VariantShare("a", "ep", 0.75), VariantShare("b", "ep-b", 0.25))


def test_a_new_variant_draws_nothing_until_it_serves_but_can_be_pinned() -> None:
    shares = traffic_shares(
        [VariantTraffic("a", "ep", 1.0, True), VariantTraffic("b", "ep-b", 1.0, False)],
        settled=False,
    )
    assert shares == (VariantShare("a", "ep", 1.0), VariantShare("b", "ep-b", 0.0))


def test_a_retired_variant_serves_until_the_update_is_over() -> None:
    during = traffic_shares(
        [VariantTraffic("new", "ep-new", 1.0, False), VariantTraffic("old", "ep", 1.0, True, True)],
        settled=False,
    )
    assert during == (
        VariantShare("new", "ep-new", 0.0),
        VariantShare("old", "ep", 1.0, pinnable=False),
    )
    after = traffic_shares(
        [VariantTraffic("new", "ep-new", 1.0, True), VariantTraffic("old", "ep", 1.0, True, True)],
        settled=True,
    )
    assert after == (VariantShare("new", "ep-new", 1.0),)


def test_before_anything_serves_the_configured_weights_apply() -> None:
    shares = traffic_shares(
        [VariantTraffic("a", "ep", 0.5, False), VariantTraffic("b", "ep-b", 0.5, False)],
        settled=False,
    )
    assert [s.weight for s in shares] == [0.5, 0.5]
