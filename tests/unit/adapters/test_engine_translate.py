"""Pure pieces of the engine adapter: refs, registries, inspect documents, build streams."""

from __future__ import annotations

import pytest

from dockyard.adapters.engine.images import build_events, registry_of, split_ref
from dockyard.adapters.engine.translate import container_state, container_stats, detect_kind
from dockyard.errors import BuildFailed
from dockyard.ports.engine import ContainerStats

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("python:3.11-slim", ("python", "3.11-slim")),
        ("dockyard/base", ("dockyard/base", "latest")),
        ("localhost:5000/app", ("localhost:5000/app", "latest")),
        ("localhost:5000/app:v2", ("localhost:5000/app", "v2")),
    ],
)
def test_refs_split_into_repo_and_tag(ref, expected):
    assert split_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "registry"),
    [
        ("python:3.11-slim", ("registry-1.docker.io", 443)),
        ("library/python", ("registry-1.docker.io", 443)),
        ("ghcr.io/org/app:1", ("ghcr.io", 443)),
        ("localhost:5000/app", ("localhost", 5000)),
        ("localhost/app", ("localhost", 443)),
    ],
)
def test_the_registry_of_a_ref_follows_dockers_rule(ref, registry):
    assert registry_of(ref) == registry


def inspect_doc(**state: object) -> dict[str, object]:
    return {
        "Id": "abc",
        "Name": "/web-1",
        "Config": {"Image": "dockyard/sklearn:1", "Labels": None},
        "State": {"Status": "running", "ExitCode": 0, "StartedAt": "2026-01-01T00:00:00Z"} | state,
        "NetworkSettings": {
            "IPAddress": "",
            "Ports": {
                "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}],
                "9000/tcp": None,
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
            },
            "Networks": {"job-net": {"IPAddress": "10.89.0.5"}},
        },
    }


def test_inspect_document_becomes_container_state():
    state = container_state(inspect_doc())

    assert state.name == "web-1"
    assert state.running
    assert state.labels == {}
    assert state.exit_code is None
    assert state.host_ports == {8080: 49153}
    assert state.ip_address == "10.89.0.5"
    assert state.finished_at is None


def test_exited_container_reports_exit_code_and_oom():
    state = container_state(
        inspect_doc(
            Status="exited", ExitCode=137, OOMKilled=True, FinishedAt="2026-01-01T00:01:00Z"
        )
    )

    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 137, True)
    assert state.finished_at == "2026-01-01T00:01:00Z"


def test_podman_status_words_map_to_docker_ones():
    assert container_state(inspect_doc(Status="configured")).status == "created"
    assert container_state(inspect_doc(Status="stopped")).status == "exited"


def test_docker_and_podman_are_told_apart_by_their_version():
    podman = {"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}
    docker = {"Components": [{"Name": "Engine", "Version": "20.10.24"}], "Platform": {"Name": ""}}

    assert (detect_kind(podman), detect_kind(docker)) == ("podman", "docker")


def test_build_stream_becomes_lines():
    chunks = [{"stream": "Step 1/2 : FROM base\n"}, {"status": "Pulling"}, {"aux": {"ID": "x"}}]

    assert [e.stream for e in build_events(chunks, "app:1")] == [
        "Step 1/2 : FROM base\n",
        "Pulling\n",
    ]


def test_build_error_carries_the_last_output_lines():
    chunks = [
        {"stream": "Step 2/2 : RUN pip install nope\n"},
        {"stream": "ERROR: No matching distribution found for nope\n"},
        {"error": "The command returned a non-zero code: 1", "errorDetail": {"code": 1}},
    ]

    with pytest.raises(BuildFailed) as failure:
        list(build_events(chunks, "app:1"))

    assert "No matching distribution found for nope" in failure.value.message
    assert "non-zero code: 1" in failure.value.message
    assert failure.value.resource == "app:1"


def test_stats_document_becomes_cpu_and_memory_without_inactive_cache():
    doc = {
        "read": "2026-12-01T05:27:52.434516853Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 85_971_707_077}},
        "memory_stats": {
            "usage": 169_046_016,
            "limit": 2_147_483_648,
            "stats": {"total_inactive_file": 577_536, "inactive_file": 577_536},
        },
    }
    stats = container_stats(doc, now=0.0)
    assert stats == ContainerStats(
        cpu_used_ns=85_971_707_077,
        memory_bytes=169_046_016 - 577_536,
        memory_limit_bytes=2_147_483_648,
        at=pytest.approx(1796102872.434516),
    )


def test_stats_of_a_cgroup_v2_engine_and_without_a_read_time():
    doc = {
        "cpu_stats": {"cpu_usage": {"total_usage": 5}},
        "memory_stats": {"usage": 100, "stats": {"inactive_file": 40}},
    }
    assert container_stats(doc, now=7.0) == ContainerStats(5, 60, None, 7.0)


def test_a_stopped_container_has_no_stats():
    assert container_stats({"cpu_stats": {}, "memory_stats": {}}, now=1.0) is None
    zeroed = {"read": "0001-01-01T00:00:00Z", "cpu_stats": {"cpu_usage": {"total_usage": 0}}}
    assert container_stats(zeroed, now=1.0) is None
