"""A real two-node Docker swarm on one machine, in network namespaces made here.

Layout (every name carries a per-run suffix, so parallel runs do not meet)::

    host ── veth ──┐ hub namespace: bridge br0
                   ├── veth ── node n1 namespace: dockerd (manager)  10.213.S.11
                   └── veth ── node n2 namespace: dockerd (worker)   10.213.S.12

The bridge lives in a namespace of its own because the host's iptables belong to
the shared engine: its FORWARD policy is DROP and the host bridges' frames pass
through it (br_netfilter), so a bridge on the host would carry nothing. The host
keeps one leg on the bridge (10.213.S.1): the Dockyard daemon and its HAProxy run
on the host, as they would on the manager's machine, and reach the nodes there. The
nodes have no default route: nothing they send leaves these namespaces.

Each dockerd is entered into its namespace with ``nsenter --net`` (``ip netns exec``
also remounts /sys, which hides the cgroup hierarchies and dockerd refuses to
start), in a UTS namespace of its own so that each node has its own hostname, with
its own data root, exec root, pid file and socket. Images come to the nodes in one of
two ways: copied into each node's engine (``docker save`` | ``docker load`` through
the API: a node's pull of such an image fails at once, having no route out, and swarm
then starts the task from the local copy), or pulled by the node itself from
Dockyard's registry, which :meth:`Topology.forward_loopback_port` makes answer on the
node's own loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

RELAY = Path(__file__).with_name("tcp_relay.py")

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
NEEDED = ("ip", "nsenter", "unshare", "dockerd")


def missing_requirements() -> str | None:
    """Why the topology cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, dockerd)"
    absent = [tool for tool in NEEDED if shutil.which(tool) is None]
    if absent:
        return f"needs {', '.join(absent)}"
    return None


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@dataclass
class Node:
    name: str
    netns: str
    address: str
    root: Path
    #: also serve the Docker API on ADDRESS:PORT (plain TCP, as an engine on another
    #: machine is reached; only this host's leg on the bridge can connect)
    tcp_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_url(self) -> str | None:
        return None if self.tcp_port is None else f"tcp://{self.address}:{self.tcp_port}"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def client(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, version="auto", timeout=120)

    def start(self) -> None:
        """dockerd in the node's namespaces; returns once it answers."""
        tcp = f' --host "{self.tcp_url}" --tls=false' if self.tcp_url else ""
        command = [
            "nsenter",
            f"--net=/var/run/netns/{self.netns}",
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {self.name} && exec dockerd --host "{self.url}" '
            f'--data-root "{self.root}/data" --exec-root "{self.root}/exec" '
            f'--pidfile "{self.root}/dockerd.pid"{tcp}',
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.socket.exists():
                with contextlib.suppress(Exception):
                    client = self.client()
                    client.ping()
                    client.close()
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dockerd of {self.name} did not start:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self) -> float:
        """SIGTERM dockerd (it stops its containers), wait; returns when it was sent."""
        sent = time.monotonic()
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return sent

    def tail(self, lines: int = 20) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Topology:
    """``size`` nodes (two by default) on one bridge, with a leg for the host;
    :meth:`down` undoes it all. ``prefix`` and ``network`` keep the names and addresses
    of topologies made by different test modules apart."""

    root: Path
    suffix: str = field(default_factory=lambda: f"{os.getpid() % 10000:04d}")
    nodes: list[Node] = field(default_factory=list)
    relays: list[subprocess.Popen[bytes]] = field(default_factory=list)
    size: int = 2
    prefix: str = "dysw"
    network: str = "10.213"
    tcp_port: int | None = None

    @property
    def subnet(self) -> str:
        return f"{self.network}.{int(self.suffix) % 250}"

    @property
    def hub(self) -> str:
        return f"{self.prefix}{self.suffix}-hub"

    @property
    def host_leg(self) -> str:
        return f"{self.prefix}{self.suffix}h"

    @property
    def host_address(self) -> str:
        return f"{self.subnet}.1"

    def up(self) -> Topology:
        hub = self.hub
        _sh("ip", "netns", "add", hub)
        _sh("ip", "-n", hub, "link", "set", "lo", "up")
        _sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
        _sh("ip", "-n", hub, "link", "set", "br0", "up")
        _sh("ip", "link", "add", self.host_leg, "type", "veth", "peer", "name", "uplink")
        _sh("ip", "link", "set", "uplink", "netns", hub)
        _sh("ip", "-n", hub, "link", "set", "uplink", "master", "br0", "up")
        _sh("ip", "addr", "add", f"{self.host_address}/24", "dev", self.host_leg)
        _sh("ip", "link", "set", self.host_leg, "up")
        for index in range(1, self.size + 1):
            netns = f"{self.prefix}{self.suffix}-n{index}"
            _sh("ip", "netns", "add", netns)
            _sh("ip", "-n", hub, "link", "add", f"v{index}", "type", "veth", "peer", "name", "eth0")
            _sh("ip", "-n", hub, "link", "set", "eth0", "netns", netns)
            _sh("ip", "-n", hub, "link", "set", f"v{index}", "master", "br0", "up")
            address = f"{self.subnet}.1{index}"
            _sh("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
            _sh("ip", "-n", netns, "link", "set", "eth0", "up")
            _sh("ip", "-n", netns, "link", "set", "lo", "up")
            root = self.root / f"n{index}"
            root.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(f"node{index}", netns, address, root, self.tcp_port))
        for node in self.nodes:
            node.start()
        return self

    def load_image(
        self, source: docker.APIClient, ref: str, nodes: list[Node] | None = None
    ) -> None:
        """Copy image ``ref`` from ``source`` into the engines of ``nodes`` (all)."""
        tar = self.root / "image.tar"
        with tar.open("wb") as out:
            for chunk in source.get_image(ref):
                out.write(chunk)
        for node in self.nodes if nodes is None else nodes:
            client = node.client()
            try:
                with tar.open("rb") as data:
                    list(client.load_image(data))
            finally:
                client.close()
        tar.unlink()

    def forward_loopback_port(self, port: int) -> None:
        """Make the host's ``127.0.0.1:port`` answer on every node's ``127.0.0.1:port``
        (what ``ssh -L PORT:127.0.0.1:PORT manager`` does on a real node): a relay on
        the host's leg of the bridge, and one in each node's namespace to it."""
        self._relay([], self.host_address, port, "127.0.0.1")
        for node in self.nodes:
            self._relay(
                ["nsenter", f"--net=/var/run/netns/{node.netns}"],
                "127.0.0.1",
                port,
                self.host_address,
            )

    def _relay(self, prefix: list[str], listen: str, port: int, target: str) -> None:
        command = [*prefix, sys.executable, str(RELAY), listen, str(port), target, str(port)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
        self.relays.append(process)
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"listening":
            raise AssertionError(f"the relay {listen}:{port} -> {target} did not start")

    def down(self) -> None:
        for relay in self.relays:
            relay.terminate()
            relay.wait(timeout=STOP_TIMEOUT)
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        for netns in [node.netns for node in self.nodes] + [self.hub]:
            subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_leg], check=False, capture_output=True)
        for node in self.nodes:
            if node.log.exists():  # kept beside the root, for a failure's post-mortem
                shutil.copyfile(node.log, node.root.parent / f"{node.root.name}-dockerd.log")
            for mount in _mounts_under(node.root):
                subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
            shutil.rmtree(node.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    """Mount points left under ``root`` (a dockerd killed mid-way leaves some)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(str(root)):
            found.append(point)
    return sorted(found, reverse=True)
