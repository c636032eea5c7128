"""What the HAProxy adapter asks of HAProxy for targets, on a scripted runtime API.

The integration tests show the behaviour against a real HAProxy; these pin down what a
real one rarely shows on cue: a ``del server`` refused while connections close, and how
many runtime commands a call costs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.adapters.lb import HAProxyLoadBalancer, LbOptions
from dockyard.adapters.lb.runtime_api import ADMIN_DRAIN, RuntimeApi, RuntimeApiError

pytestmark = pytest.mark.unit

STILL_CONNECTED = "Server still has connections attached to it, cannot remove it."


class ScriptedApi(RuntimeApi):
    """One route (``iris`` on ``slot_0``) with servers ``a`` and ``b``; records commands.

    ``del server`` answers from ``deletions`` in turn (``Server deleted.`` once empty).
    """

    def __init__(self, socket_path: Path, deletions: list[str]) -> None:
        super().__init__(socket_path)
        self.commands: list[str] = []
        self.deletions = deletions
        self.servers = {"a": 2, "b": 0}  # name -> connections in use
        self.draining: set[str] = set()

    def execute(self, command: str) -> str:
        self.commands.append(command)
        server = next((w.split("/")[1] for w in command.split() if w.startswith("slot_0/")), "")
        if command.startswith("show map"):
            return "0x1 iris slot_0\n"
        if command == "show servers state slot_0":
            header = "1\n# be_name srv_name srv_addr srv_op_state srv_admin_state "
            header += "srv_check_health srv_port\n"
            return header + "".join(
                f"slot_0 {name} 127.0.0.1 2 {ADMIN_DRAIN if name in self.draining else 0} 2 "
                f"{8000 + i}\n"
                for i, name in enumerate(self.servers)
            )
        if command == "show servers conn slot_0":
            return "# bkname/svname bkid/svid addr port - purge_delay used_cur\n" + "".join(
                f"slot_0/{name} 3/{i} 127.0.0.1 {8000 + i} - 0 {used}\n"
                for i, (name, used) in enumerate(self.servers.items())
            )
        if server not in self.servers:
            return "No such server.\n"
        if command.startswith("del server"):
            answer = self.deletions.pop(0) if self.deletions else "Server deleted."
            if answer == "Server deleted.":
                del self.servers[server]
            return answer + "\n"
        return "\n"

    def sent(self, prefix: str) -> list[str]:
        return [c for c in self.commands if c.startswith(prefix)]


def scripted_lb(state_dir: Path, delete_timeout: float = 10.0) -> HAProxyLoadBalancer:
    """An adapter on a :class:`ScriptedApi`; no HAProxy, no socket (its path stays short)."""
    options = LbOptions(poll_interval=0, delete_timeout=delete_timeout)
    balancer = HAProxyLoadBalancer(state_dir, run_dir=Path("/nonexistent"), options=options)
    balancer.api = ScriptedApi(balancer.paths.socket, [])
    return balancer


@pytest.fixture
def lb(tmp_path: Path) -> HAProxyLoadBalancer:
    return scripted_lb(tmp_path)


def api(lb: HAProxyLoadBalancer) -> ScriptedApi:
    assert isinstance(lb.api, ScriptedApi)
    return lb.api


def test_targets_in_service_cost_one_command_and_no_connection_count(
    lb: HAProxyLoadBalancer,
) -> None:
    lb.targets("iris")
    before = len(api(lb).commands)
    assert [t.name for t in lb.targets("iris")] == ["a", "b"]
    assert api(lb).commands[before:] == ["show servers state slot_0"]


def test_a_draining_target_reads_its_in_flight_with_one_command_for_the_route(
    lb: HAProxyLoadBalancer,
) -> None:
    api(lb).draining.add("a")
    assert [(t.name, t.in_flight) for t in lb.targets("iris")] == [("a", 2), ("b", 0)]
    assert len(api(lb).sent("show servers conn")) == 1


def test_remove_cuts_what_is_in_flight_before_asking_haproxy_to_delete(
    lb: HAProxyLoadBalancer,
) -> None:
    assert lb.remove("iris", "a") is True
    assert api(lb).commands[-3:] == [
        "set server slot_0/a state maint",
        "shutdown sessions server slot_0/a",
        "del server slot_0/a",
    ]


def test_remove_reports_a_refused_deletion_after_one_attempt(lb: HAProxyLoadBalancer) -> None:
    api(lb).deletions = [STILL_CONNECTED]
    assert lb.remove("iris", "a") is False
    assert len(api(lb).sent("del server")) == 1
    assert lb.remove("iris", "a") is True  # the next pass


def test_remove_raises_when_haproxy_refuses_for_another_reason(lb: HAProxyLoadBalancer) -> None:
    api(lb).deletions = ["This server cannot be removed at runtime."]
    with pytest.raises(RuntimeApiError, match="cannot be removed"):
        lb.remove("iris", "a")


def test_deregister_retries_the_removal_until_haproxy_deletes(lb: HAProxyLoadBalancer) -> None:
    api(lb).servers["a"] = 0
    api(lb).deletions = [STILL_CONNECTED, STILL_CONNECTED]
    lb.deregister("iris", "a", drain_seconds=0)
    assert len(api(lb).sent("del server slot_0/a")) == 3
    assert [t.name for t in lb.targets("iris")] == ["b"]


def test_deregister_gives_up_when_connections_never_close(tmp_path: Path) -> None:
    lb = scripted_lb(tmp_path, delete_timeout=0)
    api(lb).deletions = [STILL_CONNECTED]
    with pytest.raises(RuntimeApiError) as raised:
        lb.deregister("iris", "a", drain_seconds=0)
    assert "did not close" in raised.value.message
    assert raised.value.resource == "iris/a"
