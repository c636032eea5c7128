"""Each slot's algorithm in the rendered config, and the slot settings file."""

from __future__ import annotations

import pytest
from test_haproxy_config import make_config, section

from dockyard.adapters.lb.config import parse_slot_settings, render_config, render_slot_settings
from dockyard.ports.lb import RouteSettings

pytestmark = pytest.mark.unit


def test_slots_balance_by_least_outstanding_requests_unless_their_route_asked_otherwise() -> None:
    config = make_config(slot_settings={1: RouteSettings("round_robin", 30)})
    text = render_config(config)
    assert "    balance leastconn" in section(text, "backend slot_0")
    assert "    balance roundrobin" in section(text, "backend slot_1")
    assert "    balance leastconn" in section(text, "backend slot_2")


def test_slot_settings_file_keeps_only_what_differs_from_the_defaults_and_reads_back() -> None:
    settings = {
        0: RouteSettings(),
        2: RouteSettings("round_robin", 0),
        5: RouteSettings("least_outstanding_requests", 60),
    }
    text = render_slot_settings(settings)
    assert text == "slot_2 round_robin 0\nslot_5 least_outstanding_requests 60\n"
    assert parse_slot_settings(text) == {k: v for k, v in settings.items() if k != 0}
    assert parse_slot_settings("slot_1 weighted_random 0\nnonsense\nslot_x round_robin 1\n") == {}
