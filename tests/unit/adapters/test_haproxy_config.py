"""The rendered HAProxy configuration: slots, the route map, checks, timeouts, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockyard.adapters.lb.config import (
    HASHED_SLOTS,
    SPLIT_BUCKETS,
    HealthCheck,
    LbConfig,
    ServerLine,
    Timeouts,
    apportion,
    default_threads,
    hashed_slot_backend,
    hashed_slot_index,
    is_slot,
    render_config,
    render_map,
    render_split_map,
    slot_backend,
    slot_index,
)
from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer
from dockyard.adapters.lb.process import LbPaths
from dockyard.errors import SetupError
from dockyard.ports.lb import Share
from dockyard.settings import Settings

pytestmark = pytest.mark.unit


def make_config(**overrides: object) -> LbConfig:
    values: dict[str, object] = {
        "bind_host": "127.0.0.1",
        "bind_port": 9080,
        "socket_path": Path("/state/run/haproxy.sock"),
        "map_path": Path("/state/lb/routes.map"),
        "server_state_path": Path("/state/lb/server-state"),
        "split_path": Path("/state/lb/splits.map"),
        "slots": 4,
    }
    values.update(overrides)
    return LbConfig(**values)  # type: ignore[arg-type]


def section(text: str, name: str) -> str:
    """The lines of one section (``backend slot_0``, ``frontend endpoints``...)."""
    match = re.search(rf"^{re.escape(name)}\n(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert match, f"no section {name!r}"
    return match.group(1)


def test_every_slot_of_the_pool_is_declared_as_a_backend() -> None:
    text = render_config(make_config(slots=5))
    backends = re.findall(r"^backend (\S+)$", text, re.M)
    assert backends[:5] == [slot_backend(i) for i in range(5)]
    assert backends[5:] == [hashed_slot_backend(i) for i in range(HASHED_SLOTS)]


def test_a_hashed_slot_picks_the_target_by_a_consistent_hash_of_the_target_model() -> None:
    lines = section(render_config(make_config(slots=1)), "backend hslot_0").splitlines()
    assert "    balance hdr(X-Amzn-SageMaker-Target-Model)" in lines
    assert "    hash-type consistent" in lines
    assert "    balance leastconn" in section(render_config(make_config(slots=1)), "backend slot_0")


def test_a_server_line_of_a_hashed_slot_lands_in_that_slot() -> None:
    text = render_config(make_config(slots=2), [ServerLine(1, "t1", "10.0.0.2:8080", hashed=True)])
    assert "server t1 10.0.0.2:8080" in section(text, "backend hslot_1")
    assert "server t1" not in section(text, "backend slot_1")


def test_hashed_slot_names_read_back_and_are_slots() -> None:
    assert hashed_slot_index(hashed_slot_backend(3)) == 3
    assert hashed_slot_index(slot_backend(3)) is None
    assert is_slot("hslot_3") and is_slot("slot_0") and not is_slot("endpoints")


def test_slot_names_read_back_as_their_index() -> None:
    assert [slot_index(slot_backend(i)) for i in (0, 7, 130)] == [0, 7, 130]
    assert slot_index("endpoints") is None
    assert slot_index("slot_x") is None


def test_front_end_binds_the_configured_address() -> None:
    assert "bind 127.0.0.1:9080" in section(render_config(make_config()), "frontend endpoints")
    v6 = render_config(make_config(bind_host="::1", bind_port=9999))
    assert "bind [::1]:9999" in v6


def test_front_end_looks_routes_up_in_the_map_file() -> None:
    front = section(render_config(make_config()), "frontend endpoints")
    assert "var(txn.lbroute),map(/state/lb/routes.map)" in front
    assert "use_backend %[var(txn.slot)]" in front


def test_front_end_rewrites_the_path_to_the_container_contract() -> None:
    front = section(render_config(make_config()), "frontend endpoints")
    assert "path_reg ^/endpoints/[^/]+/(invocations|ping)$" in front
    assert "http-request set-path /%[var(txn.action)]" in front  # set-path keeps the query


def test_unknown_route_answers_404_with_the_route_json_escaped() -> None:
    front = section(render_config(make_config()), "frontend endpoints")
    not_found = next(line for line in front.splitlines() if "No endpoint or service" in line)
    assert "http-request return status 404 content-type application/json" in not_found
    assert "%[var(txn.route),json(utf8s)]" in not_found
    assert not_found.rstrip().endswith("if !{ var(txn.slot) -m found }")


def test_refused_connections_turn_haproxy_made_503_into_502() -> None:
    text = render_config(make_config())
    assert "http-after-response set-status 502" in section(text, "frontend endpoints")
    assert "set-var(txn.lb_code) str(BadGateway) if { nbsrv gt 0 }" in section(
        text, "backend slot_0"
    )
    assert re.search(r"http-error status 503 .*hdr x-dockyard-lb-error", text)


def test_slots_balance_check_ping_and_retry_elsewhere() -> None:
    slot = section(render_config(make_config()), "backend slot_3")
    for line in (
        "balance leastconn",
        "option httpchk GET /ping",
        "http-check expect status 200",
        "option http-buffer-request",
        "retry-on conn-failure",
        "retries 2",
        "option redispatch 1",
    ):
        assert line in slot


def test_a_request_a_target_received_is_never_sent_again() -> None:
    """A request that may have crashed its replica must not be replayed on the next."""
    slot = section(render_config(make_config()), "backend slot_0")
    (retry_on,) = [line.split()[1:] for line in slot.splitlines() if "retry-on" in line]
    assert retry_on == ["conn-failure"]


def test_default_timeouts_follow_the_sagemaker_contract() -> None:
    defaults = section(render_config(make_config()), "defaults")
    assert "timeout connect 2000ms" in defaults
    assert "timeout client 60000ms" in defaults
    assert "timeout server 65000ms" in defaults  # 60 s invocation limit + margin
    assert "timeout check 2000ms" in defaults  # /ping must answer within 2 s


def test_timeouts_and_health_are_configurable() -> None:
    cfg = make_config(
        timeouts=Timeouts(server_ms=300, connect_ms=100),
        health=HealthCheck(path="/healthz", timeout_ms=500),
    )
    text = render_config(cfg)
    assert "timeout server 300ms" in text
    assert "timeout connect 100ms" in text
    assert "timeout check 500ms" in text
    assert "option httpchk GET /healthz" in text


def test_admin_socket_allows_runtime_changes_and_socket_takeover() -> None:
    glob = section(render_config(make_config()), "global")
    assert "stats socket /state/run/haproxy.sock level admin mode 600 expose-fd listeners" in glob
    assert "server-state-file /state/lb/server-state" in glob
    assert "load-server-state-from-file global" in render_config(make_config())


def test_servers_carry_their_own_check_options() -> None:
    health = HealthCheck(inter_ms=100, fastinter_ms=20, downinter_ms=30, rise=3, fall=4)
    text = render_config(
        make_config(health=health), [ServerLine(slot=1, name="task-1", address="10.0.0.5:8080")]
    )
    assert (
        "server task-1 10.0.0.5:8080 check inter 100 fastinter 20 downinter 30 rise 3 fall 4"
        in section(text, "backend slot_1")
    )
    assert "server " not in section(text, "backend slot_0")


def test_server_options_spell_out_what_runtime_servers_do_not_inherit() -> None:
    assert HealthCheck().server_options() == (
        "check inter 2000 fastinter 100 downinter 100 rise 2 fall 2 "
        "pool-max-conn -1 pool-purge-delay 5s"
    )


def test_route_map_lists_routes_sorted_with_their_slot() -> None:
    assert render_map({"zeta": 0, "alpha": 3}) == "alpha slot_3\nzeta slot_0\n"
    assert render_map({}) == ""


def test_directories_with_spaces_are_refused_before_haproxy_sees_them() -> None:
    with pytest.raises(SetupError) as raised:
        LbPaths.under(Path("/home/a b/state"), Path("/run"), Path("/logs"))
    assert "DOCKYARD_STATE_DIR" in (raised.value.hint or "")


def test_files_live_under_dockyards_directories() -> None:
    paths = LbPaths.under(Path("/s"), Path("/s/run"), Path("/s/logs"))
    assert paths.config == Path("/s/lb/haproxy.cfg")
    assert paths.map_file == Path("/s/lb/routes.map")
    assert paths.socket == Path("/s/run/haproxy.sock")
    assert paths.pidfile == Path("/s/run/haproxy.pid")
    assert paths.log == Path("/s/logs/haproxy.log")


def test_weights_are_apportioned_over_the_buckets_in_proportion() -> None:
    assert apportion([0.75, 0.25]) == [750, 250]
    assert sum(apportion([1, 1, 1])) == SPLIT_BUCKETS
    assert apportion([1.0, 0.0]) == [1000, 0]
    assert apportion([0.0, 0.0]) == [0, 0]


def test_a_tiny_positive_weight_still_gets_a_bucket() -> None:
    counts = apportion([1.0, 1e-9])
    assert counts[1] == 1 and sum(counts) == SPLIT_BUCKETS


def test_split_map_pins_every_variant_and_draws_over_buckets() -> None:
    text = render_split_map({"ep": [Share("a", "ep", 3.0), Share("b", "ep-b", 1.0)]})
    lines = text.splitlines()
    assert lines[:3] == ["ep *", "ep/a ep:a", "ep/b ep-b:b"]
    buckets = [line.split()[1] for line in lines[3:]]
    assert len(buckets) == SPLIT_BUCKETS
    assert buckets.count("ep-b:b") == 250


def test_a_split_with_one_weighted_variant_needs_no_draw() -> None:
    text = render_split_map({"ep": [Share("a", "ep", 1.0), Share("b", "ep-b", 0.0)]})
    assert text.splitlines() == ["ep ep:a", "ep/a ep:a", "ep/b ep-b:b"]


def test_a_variant_being_replaced_takes_traffic_but_cannot_be_pinned() -> None:
    shares = [Share("new", "ep-new", 1.0), Share("old", "ep", 1.0, pinnable=False)]
    lines = render_split_map({"ep": shares}).splitlines()
    assert "ep/old ep:old" not in lines and "ep/new ep-new:new" in lines
    assert sum(1 for line in lines if line.endswith(" ep:old")) == SPLIT_BUCKETS // 2


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (4, 1), (8, 2), (64, 16)])
def test_haproxy_takes_a_quarter_of_the_cores_at_least_one(cores: int, threads: int) -> None:
    assert default_threads(cores) == threads


def test_the_thread_count_is_written_in_the_global_section() -> None:
    assert "    nbthread 3\n" in section(render_config(make_config(threads=3)), "global")


def test_dockyard_lb_threads_overrides_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_LB_THREADS", "3")
    balancer = HAProxyLoadBalancer.from_settings(Settings(state_dir=tmp_path))
    assert balancer.options.threads == 3
    monkeypatch.setenv("DOCKYARD_LB_THREADS", "0")
    with pytest.raises(ValueError, match="lb_threads"):
        Settings(state_dir=tmp_path)
