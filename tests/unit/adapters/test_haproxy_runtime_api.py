"""Reading HAProxy's runtime answers, and the names that travel through them."""

from __future__ import annotations

import pytest

from dockyard.adapters.lb.haproxy import target_health
from dockyard.adapters.lb.naming import check_address, check_route, server_name, target_name
from dockyard.adapters.lb.runtime_api import (
    ServerState,
    parse_info,
    parse_map,
    parse_servers_conn,
    parse_servers_state,
    parse_stat,
)
from dockyard.adapters.lb.stats import route_stats
from dockyard.errors import SpecError

pytestmark = pytest.mark.unit

SERVERS_STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight \
srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health \
srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord \
srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 slot_0 1 task-a 127.0.0.1 2 0 1 1 5 15 3 3 6 0 0 0 - 40359 - 0 0 - - 0
3 slot_0 2 task-b 127.0.0.1 2 8 1 1 5 15 3 3 6 0 0 0 - 45945 - 0 0 - - 0
4 slot_1 1 task-c ::1 0 1 1 1 0 1 0 0 6 0 0 0 - 8080 - 0 0 - - 0

"""

SERVERS_CONN = """# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est \
unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[2]
slot_0/task-a 3/1 127.0.0.1 40359 - 0 2 5 5 0 0 0 0
slot_0/task-b 3/2 127.0.0.1 45945 - 0 0 1 1 0 1 0 1

"""


def state(op: int = 2, admin: int = 0) -> ServerState:
    return ServerState("slot_0", "s", "127.0.0.1:1", op_state=op, admin_state=admin, check_health=0)


def test_servers_state_reads_names_addresses_and_states() -> None:
    servers = parse_servers_state(SERVERS_STATE)
    assert [(s.backend, s.name, s.address) for s in servers] == [
        ("slot_0", "task-a", "127.0.0.1:40359"),
        ("slot_0", "task-b", "127.0.0.1:45945"),
        ("slot_1", "task-c", "[::1]:8080"),
    ]
    assert servers[0].running and not servers[0].draining and not servers[0].in_maintenance
    assert servers[1].draining
    assert servers[2].in_maintenance and not servers[2].running
    assert servers[0].check_health == 3


def test_server_health_maps_to_alb_terms() -> None:
    assert target_health(state(op=2)) == "healthy"
    assert target_health(state(op=0)) == "unhealthy"
    assert target_health(state(op=2, admin=0x08)) == "draining"
    assert target_health(state(op=2, admin=0x01)) == "draining"  # removal under way
    assert target_health(state(op=0, admin=0x01)) == "draining"


def test_servers_conn_reads_connections_in_use() -> None:
    assert parse_servers_conn(SERVERS_CONN) == {"slot_0/task-a": 2, "slot_0/task-b": 0}


def test_map_reads_key_and_value_of_each_entry() -> None:
    text = "0x55d0 iris slot_0\n0x55d1 churn-model slot_3\n\n"
    assert parse_map(text) == {"iris": "slot_0", "churn-model": "slot_3"}


def test_info_reads_key_value_lines() -> None:
    info = parse_info("Name: HAProxy\nVersion: 2.6.12\nPid: 4242\n\n")
    assert info["Pid"] == "4242"
    assert info["Version"] == "2.6.12"


def test_stat_rows_feed_per_route_statistics() -> None:
    text = (
        "# pxname,svname,scur,stot,econ,wretr,wredis,status,req_tot,hrsp_2xx,hrsp_4xx,hrsp_5xx,\n"
        "endpoints,FRONTEND,0,9,,,,OPEN,9,5,2,2,\n"
        "slot_0,task-a,1,5,0,0,0,UP,4,4,0,0,\n"
        "slot_0,BACKEND,1,7,1,1,1,UP,7,4,0,3,\n"
        "slot_1,BACKEND,0,0,0,0,0,UP,0,0,0,0,\n"
    )
    rows = parse_stat(text)
    assert len(rows) == 4
    (iris,) = route_stats(rows, {"iris": "slot_0"})
    assert iris.route == "iris"
    assert iris.counters.requests == 7
    assert iris.counters.responses_5xx == 3
    assert iris.counters.in_flight == 1
    assert iris.counters.retries == 2
    assert [(t.name, t.status, t.counters.requests) for t in iris.targets] == [("task-a", "UP", 4)]


@pytest.mark.parametrize(
    "name", ["task-1", "arn:aws:ecs:us-east-1:123:task/c/0a1b", "a.b_c", "ümlaut x"]
)
def test_target_names_survive_the_trip_through_server_names(name: str) -> None:
    server = server_name(name)
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in server)
    assert target_name(server) == name


def test_plain_task_ids_are_used_as_server_names_unchanged() -> None:
    assert server_name("0a1b2c3d-task_1") == "0a1b2c3d-task_1"


@pytest.mark.parametrize("route", ["iris", "churn-model-2", "svc_a", "A" * 255])
def test_route_names_from_sagemaker_and_ecs_are_accepted(route: str) -> None:
    assert check_route(route) == route


@pytest.mark.parametrize("route", ["", "-x", "a b", "a/b", "../x", "é", "A" * 256])
def test_route_names_that_break_a_url_are_rejected(route: str) -> None:
    with pytest.raises(SpecError) as raised:
        check_route(route)
    assert raised.value.field == "route"


def test_addresses_are_spelled_as_haproxy_reads_them_back() -> None:
    assert check_address("127.0.0.1:32771") == "127.0.0.1:32771"
    assert check_address("[::1]:8080") == "[::1]:8080"
    assert check_address("[0:0::1]:8080") == "[::1]:8080"


@pytest.mark.parametrize("address", ["localhost:80", "127.0.0.1", "127.0.0.1:0", "1.2.3.4:70000"])
def test_addresses_other_than_ip_and_port_are_rejected(address: str) -> None:
    with pytest.raises(SpecError) as raised:
        check_address(address)
    assert raised.value.field == "address"
