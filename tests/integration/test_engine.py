"""The engine adapter against a real engine (Docker; the ``podman`` subset on Podman too)."""

from __future__ import annotations

import io
import tarfile
import textwrap
import time
import urllib.request
from collections.abc import Callable

import docker
import pytest

from dockyard.adapters.engine import DockerEngine
from dockyard.adapters.engine.oom import EVENT_WINDOW_SECONDS, OomWitness
from dockyard.errors import BuildFailed, Conflict, NotFound, SpecError
from dockyard.ports.engine import ContainerSpec, ContainerState, Mount

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def poll(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """The first truthy value of ``condition()``; fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def http_status(url: str) -> int:
    """The status a GET of ``url`` answers with, or 0 while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def run_python(
    engine: DockerEngine,
    name: str,
    image: str,
    script: str,
    labels: dict[str, str],
    **spec: object,
) -> ContainerState:
    return engine.run(
        ContainerSpec(
            name=name,
            image=image,
            command=["python3", "-c", textwrap.dedent(script)],
            labels=labels,
            **spec,  # type: ignore[arg-type]
        )
    )


def output(engine: DockerEngine, container_id: str) -> str:
    return b"".join(engine.logs(container_id)).decode()


@pytest.mark.podman
def test_run_returns_the_containers_output(engine, base_image, unique_name, session_labels):
    state = run_python(engine, unique_name("hello"), base_image, "print('hello')", session_labels)

    assert engine.wait(state.id, timeout=60) == 0
    assert output(engine, state.id) == "hello\n"
    assert engine.inspect(state.id).exit_code == 0


def test_container_logs_are_rotated_so_a_flood_has_a_bound(
    engine, base_image, unique_name, session_labels
):
    state = run_python(engine, unique_name("logs"), base_image, "pass", session_labels)
    with docker.APIClient(base_url=engine.base_url, version="auto") as api:
        log_config = api.inspect_container(state.id)["HostConfig"]["LogConfig"]

    assert log_config["Type"] == "json-file"
    assert log_config["Config"] == {"max-size": "20m", "max-file": "3"}


@pytest.mark.podman
def test_list_returns_only_containers_with_all_labels(
    engine, base_image, unique_name, session_labels
):
    group = unique_name("group")
    for role in ("a", "b"):
        labels = {**session_labels, "dockyard.test-group": group, "dockyard.test-role": role}
        run_python(engine, unique_name(role), base_image, "pass", labels)

    found = engine.list({"dockyard.test-group": group, "dockyard.test-role": "a"})

    assert [s.labels["dockyard.test-role"] for s in found] == ["a"]
    assert len(engine.list({"dockyard.test-group": group})) == 2


@pytest.mark.podman
def test_published_port_answers_http_on_loopback(engine, base_image, unique_name, session_labels):
    state = engine.run(
        ContainerSpec(
            name=unique_name("http"),
            image=base_image,
            command=["python3", "-m", "http.server", "8000"],
            labels=session_labels,
            ports=[8000],
        )
    )
    url = f"http://127.0.0.1:{state.host_ports[8000]}/"

    assert poll(lambda: http_status(url), what=f"HTTP answer from {url}") == 200


def test_an_unpublished_port_answers_on_the_container_address(
    engine, base_image, unique_name, session_labels
):
    if not engine.routes_to_containers:
        pytest.skip(f"{engine!r}: this host reaches containers through published ports")
    state = engine.run(
        ContainerSpec(
            name=unique_name("direct"),
            image=base_image,
            command=["python3", "-m", "http.server", "8000"],
            labels=session_labels,
            ports=[8000],
            publish=False,
        )
    )
    assert state.host_ports == {}
    assert state.ip_address
    url = f"http://{state.ip_address}:8000/"

    assert poll(lambda: http_status(url), what=f"HTTP answer from {url}") == 200


@pytest.mark.podman
def test_stats_read_cpu_used_and_memory_of_a_running_container(
    engine, base_image, unique_name, session_labels
):
    busy = "x = 0\nwhile True:\n    x += 1\n"
    state = engine.run(
        ContainerSpec(
            name=unique_name("busy"),
            image=base_image,
            command=["python3", "-c", busy],
            labels=session_labels,
        )
    )
    first = engine.stats(state.id)
    assert first is not None
    second = poll(
        lambda: s if (s := engine.stats(state.id)) and s.cpu_used_ns > first.cpu_used_ns else None,
        what="CPU use to grow",
    )
    assert second.memory_bytes > 0
    assert second.at >= first.at
    engine.kill(state.id)
    engine.wait(state.id, timeout=30)
    assert engine.stats(state.id) is None


@pytest.mark.podman
def test_containers_on_a_network_resolve_each_other_by_host_name(
    engine, base_image, unique_name, session_labels
):
    network = unique_name("net")
    engine.ensure_network(network, session_labels)
    engine.ensure_network(network, session_labels)  # idempotent
    resolve = """
        import socket, sys, time
        deadline = time.monotonic() + 30
        while True:
            try:
                print(socket.gethostbyname(sys.argv[1]), flush=True)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(2)  # stay resolvable while the other host looks us up
    """
    hosts = {}
    for me, other in (("algo-1", "algo-2"), ("algo-2", "algo-1")):
        hosts[me] = engine.run(
            ContainerSpec(
                name=unique_name(me),
                image=base_image,
                command=["python3", "-c", textwrap.dedent(resolve), other],
                labels=session_labels,
                network=network,
                hostname=me,
            )
        )

    for state in hosts.values():
        assert engine.wait(state.id, timeout=60) == 0, output(engine, state.id)
    assert output(engine, hosts["algo-2"].id).strip() == hosts["algo-1"].ip_address


def test_memory_limit_and_cpus_are_visible_inside(engine, base_image, unique_name, session_labels):
    script = """
        from pathlib import Path

        cg = Path("/sys/fs/cgroup")
        if (cg / "memory.max").exists():  # cgroup v2
            memory = int((cg / "memory.max").read_text())
            quota, period = (cg / "cpu.max").read_text().split()
        else:
            memory = int((cg / "memory/memory.limit_in_bytes").read_text())
            quota = (cg / "cpu/cpu.cfs_quota_us").read_text()
            period = (cg / "cpu/cpu.cfs_period_us").read_text()
        print(memory, int(quota) / int(period))
    """
    state = run_python(
        engine, unique_name("limits"), base_image, script, session_labels, memory_mib=256, cpus=0.5
    )

    assert engine.wait(state.id, timeout=60) == 0
    memory, cpus = output(engine, state.id).split()
    assert int(memory) == 256 * MIB
    assert float(cpus) == 0.5


def test_an_oom_kill_in_a_task_cgroup_has_a_witness_besides_the_engines_flag(
    engine, base_image, unique_name, session_labels
):
    """dockerd's ``OOMKilled`` depends on which of two events reaches it first; the
    engine's ``oom`` event does not, and a sidecar killed later is not taken for one."""
    task = unique_name("oomtask")
    parent = engine.task_cgroup(task, None, 128)
    if parent is None:
        pytest.skip("this engine's cgroups are not Dockyard's to make")
    made: list[ContainerState] = []
    try:
        sidecar = run_python(
            engine,
            unique_name("side"),
            base_image,
            "import time; time.sleep(600)",
            session_labels,
            cgroup_parent=parent,
        )
        made.append(sidecar)
        hog = run_python(
            engine,
            unique_name("hog"),
            base_image,
            "x = bytearray(512 * 1024 * 1024)",
            session_labels,
            cgroup_parent=parent,
        )
        made.append(hog)
        assert engine.wait(hog.id, timeout=60) == 137
        time.sleep(EVENT_WINDOW_SECONDS + 1)
        engine.stop(sidecar.id, timeout=0)
        assert engine.wait(sidecar.id, timeout=60) == 137

        assert engine.inspect(hog.id).oom_killed
        witness = OomWitness(engine.oom_events)
        verdicts = {}
        for name, container in (("hog", hog), ("sidecar", sidecar)):
            seen = engine.inspect(container.id)
            verdicts[name] = witness.killed(
                seen.id,
                exit_code=seen.exit_code,
                started_at=seen.started_at,
                finished_at=seen.finished_at,
            )
        assert verdicts == {"hog": True, "sidecar": False}
    finally:
        for container in made:
            engine.remove(container.id)
        engine.remove_task_cgroup(task)


@pytest.mark.podman
def test_two_stage_build_leaves_the_first_stages_files_behind(
    engine, base_image, unique_name, session_labels, tmp_path
):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image} AS builder\n"
        "RUN echo scratch > /builder-only && echo built > /artifact\n"
        f"FROM {base_image}\n"
        "COPY --from=builder /artifact /artifact\n"
    )
    tag = f"dockyard-test/two-stage:{unique_name('b')}"

    events = list(engine.build(str(tmp_path), tag, labels=session_labels))

    assert events[-1].image_id and events[-1].image_id.startswith("sha256:")
    assert any(e.stream for e in events)
    info = engine.image(tag)
    assert info is not None and info.labels[next(iter(session_labels))] == next(
        iter(session_labels.values())
    )
    check = """
        import os
        print(os.path.exists("/builder-only"), open("/artifact").read().strip())
    """
    state = run_python(engine, unique_name("built"), tag, check, session_labels)
    assert engine.wait(state.id, timeout=60) == 0
    assert output(engine, state.id).split() == ["False", "built"]


@pytest.mark.podman
def test_failed_build_carries_the_failing_steps_output(
    engine, base_image, unique_name, session_labels, tmp_path
):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN echo 'about to fail: marker-7f3a' && exit 3\n"
    )

    with pytest.raises(BuildFailed) as failure:
        list(engine.build(str(tmp_path), f"dockyard-test/broken:{unique_name('x')}"))

    assert "marker-7f3a" in failure.value.message


def test_build_without_a_dockerfile_is_not_found(engine, tmp_path):
    with pytest.raises(NotFound) as missing:
        engine.build(str(tmp_path), "dockyard-test/none:1")

    assert "Dockerfile" in missing.value.message


@pytest.mark.podman
def test_stop_sends_sigterm_to_the_container(
    engine, base_image, unique_name, session_labels, tmp_path
):
    tmp_path.chmod(0o777)
    script = (
        'trap "echo term > /out/marker; exit 0" TERM; '
        "echo ready > /out/ready; "
        "while true; do sleep 0.1; done"
    )
    state = engine.run(
        ContainerSpec(
            name=unique_name("term"),
            image=base_image,
            command=["sh", "-c", script],
            labels=session_labels,
            mounts=[Mount(source=str(tmp_path), target="/out")],
        )
    )
    poll((tmp_path / "ready").exists, what="the container to trap SIGTERM")

    engine.stop(state.id, timeout=20)
    engine.stop(state.id, timeout=20)  # stopping a stopped container is a no-op

    assert (tmp_path / "marker").read_text() == "term\n"
    assert engine.inspect(state.id).exit_code == 0


@pytest.mark.podman
def test_init_runs_the_command_under_an_init_process(
    engine, base_image, unique_name, session_labels
):
    script = "import os; print(os.getpid() != 1)"
    state = run_python(engine, unique_name("init"), base_image, script, session_labels, init=True)

    assert engine.wait(state.id, timeout=60) == 0
    assert output(engine, state.id).strip() == "True"


@pytest.mark.podman
def test_a_command_missing_from_the_image_is_a_spec_error_and_leaves_nothing(
    engine, base_image, unique_name, session_labels
):
    name = unique_name("nocmd")
    with pytest.raises(SpecError) as wrong:
        engine.run(
            ContainerSpec(
                name=name, image=base_image, command=["no-such-program"], labels=session_labels
            )
        )

    assert wrong.value.field == "command"
    assert [s.name for s in engine.list(session_labels) if s.name == name] == []


@pytest.mark.podman
def test_a_bind_mount_of_a_missing_host_path_is_a_spec_error(
    engine, base_image, unique_name, session_labels, tmp_path
):
    spec = ContainerSpec(
        name=unique_name("nomount"),
        image=base_image,
        command=["true"],
        labels=session_labels,
        mounts=[Mount(source=str(tmp_path / "absent"), target="/data")],
    )

    with pytest.raises(SpecError) as wrong:
        engine.run(spec)

    assert wrong.value.field == "mounts"


@pytest.mark.podman
def test_removed_container_is_not_found(engine, base_image, unique_name, session_labels):
    state = run_python(engine, unique_name("gone"), base_image, "pass", session_labels)

    engine.remove(state.id)
    engine.remove(state.id)  # idempotent

    with pytest.raises(NotFound):
        engine.inspect(state.id)


def test_running_a_missing_image_says_how_to_get_it(engine, unique_name):
    with pytest.raises(NotFound) as missing:
        engine.run(ContainerSpec(name=unique_name("noimg"), image="dockyard-test/absent:0"))

    assert "dockyard build" in (missing.value.hint or "")


def test_a_taken_container_name_is_a_conflict(engine, base_image, unique_name, session_labels):
    name = unique_name("twice")
    run_python(engine, name, base_image, "pass", session_labels)

    with pytest.raises(Conflict):
        run_python(engine, name, base_image, "pass", session_labels)


def test_wait_with_a_timeout_raises_timeout_error(engine, base_image, unique_name, session_labels):
    state = run_python(
        engine, unique_name("slow"), base_image, "import time; time.sleep(600)", session_labels
    )

    with pytest.raises(TimeoutError):
        engine.wait(state.id, timeout=1)
    engine.kill(state.id)
    engine.kill(state.id)  # killing a stopped container is a no-op


def test_followed_logs_stream_until_the_container_exits(
    engine, base_image, unique_name, session_labels
):
    script = """
        import time
        for i in range(3):
            print(i, flush=True)
            time.sleep(0.2)
    """
    state = run_python(engine, unique_name("follow"), base_image, script, session_labels)

    streamed = b"".join(engine.logs(state.id, follow=True)).decode()

    assert streamed.split() == ["0", "1", "2"]


@pytest.mark.podman
def test_archives_copy_files_in_and_out(engine, base_image, unique_name, session_labels):
    state = run_python(
        engine, unique_name("arc"), base_image, "import time; time.sleep(600)", session_labels
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"weights"
        member = tarfile.TarInfo("model.bin")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))

    engine.put_archive(state.id, "/tmp", buffer.getvalue())
    copied = b"".join(engine.get_archive(state.id, "/tmp/model.bin"))

    with tarfile.open(fileobj=io.BytesIO(copied)) as archive:
        extracted = archive.extractfile("model.bin")
        assert extracted is not None and extracted.read() == b"weights"
    with pytest.raises(NotFound):
        b"".join(engine.get_archive(state.id, "/nope"))


def test_pull_without_a_registry_returns_false(engine):
    assert engine.pull("dockyard-test/not-on-any-registry:0") is False


@pytest.mark.podman
def test_tag_gives_an_image_a_second_name(
    engine, base_image, unique_name, session_labels, tmp_path
):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\n")
    source = f"dockyard-test/tagged:{unique_name('src')}"
    list(engine.build(str(tmp_path), source, labels=session_labels))

    engine.tag(source, f"dockyard-test/tagged:{unique_name('dst')}")

    info = engine.image(source)
    assert info is not None and len(info.tags) == 2
    assert engine.image("dockyard-test/absent:0") is None
