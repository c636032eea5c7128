"""Host processes: start a server in its own session, wait for it, read its peak RSS, stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def wait_ready(url: str, timeout_s: float, alive: subprocess.Popen[bytes] | None = None) -> float:
    """Poll ``GET url`` until it answers 200; seconds it took. RuntimeError on timeout."""
    began = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"the server exited with status {alive.returncode}")
        if time.monotonic() - began > timeout_s:
            raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.2)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def peak_rss_mib(pids: list[int]) -> dict[str, float]:
    """Peak resident set (``VmHWM``) of each process, MiB, keyed ``pid:name``."""
    peaks = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        hwm = fields.get("VmHWM")
        if hwm:
            peaks[f"{pid}:{fields.get('Name', '?').strip()}"] = round(int(hwm.split()[0]) / 1024, 1)
    return peaks


@dataclass
class HostServer:
    """A server started as a host process group, logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], log: Path, env: Mapping[str, str]) -> HostServer:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )
        return cls(name, process, log)

    def rss(self) -> dict[str, float]:
        return peak_rss_mib(process_tree(self.process.pid))

    def stop(self, timeout_s: float = 15.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout_s)
                break
            except subprocess.TimeoutExpired:
                continue
        # workers that outlived their parent (same session) go too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
