"""``make quickstart`` on a fresh Dockyard state directory, then again on the same one.

The first run starts from nothing Dockyard made: a new state directory, so a new
engine data root, no cached debootstrap tarball (checked), no framework image, no
wheels cache; what it may reuse is the host's installed apt packages and pip cache.
It then runs what ``make quickstart`` runs — ``dockyard setup``, then
``DOCKYARD=<venv>/bin/dockyard bash examples/iris/quickstart.sh`` — with the same
environment. The second run repeats both on the same state directory, with the
engine, daemon and HAProxy of the first still running, as they would be for a user.

One difference from a user's first run, for the reason given in
:mod:`foundation_stack`: the engine is started by the benchmark (with an isolation
bridge) just before ``dockyard setup``, which then finds it. That start is timed and
counted in the first run's total as the step ``engine``.

Each line of output is timestamped as it arrives; the script's banners
(``── 1. train ──``) split a run into steps.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from foundation_stack import Isolation, Stack

from dockyard.adapters.baseimage import cached_tarball
from dockyard.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "iris" / "quickstart.sh"
BANNER = re.compile(r"^── (\d+)\. (\w+)")
#: ``dockyard setup`` prints one "✓ …" line as each of its steps ends.
SETUP_MARKS = {
    "✓ host packages": "setup:packages",
    "✓ container engine": "setup:engine",
    "✓ base image": "setup:base",
    "✓ framework image": "setup:framework",
}
RUN_TIMEOUT = 1800.0


def timed_lines(
    command: list[str], env: dict[str, str], log: Path
) -> tuple[int, list[tuple[float, str]], float]:
    """Run ``command``; (exit code, [(seconds since start, line)], total seconds)."""
    lines: list[tuple[float, str]] = []
    t0 = time.monotonic()
    with log.open("a") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for raw in process.stdout:
            at = time.monotonic() - t0
            lines.append((at, raw.rstrip("\n")))
            sink.write(f"[{at:8.2f}] {raw}")
        code = process.wait(timeout=RUN_TIMEOUT)
    return code, lines, time.monotonic() - t0


def split_steps(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds per banner-delimited step of the quickstart script."""
    marks = [(at, match.group(2)) for at, line in lines if (match := BANNER.match(line))]
    steps: dict[str, float] = {}
    for (at, name), (end, _) in zip(marks, [*marks[1:], (total, "")], strict=True):
        steps[name] = round(end - at, 3)
    return steps


def split_setup(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds per step of ``dockyard setup``, from the times of its "✓" lines."""
    steps: dict[str, float] = {}
    previous = 0.0
    for at, line in lines:
        name = next((v for k, v in SETUP_MARKS.items() if line.startswith(k)), None)
        if name is not None:
            steps[name] = round(at - previous, 3)
            previous = at
    return steps


def one_run(stack: Stack, dockyard: Path, log: Path) -> dict[str, Any]:
    """``dockyard setup`` then the quickstart script, timed; raises if either fails."""
    env = stack.env | {"DOCKYARD": str(dockyard)}
    code, setup_lines, setup_s = timed_lines([str(dockyard), "setup"], env, log)
    if code != 0:
        raise RuntimeError(f"dockyard setup failed (exit {code}); see {log}")
    code, lines, script_s = timed_lines(["bash", str(SCRIPT)], env, log)
    if code != 0:
        raise RuntimeError(f"the quickstart script failed (exit {code}); see {log}")
    predictions = [line for _, line in lines if line.startswith("{")]
    return {
        "setup_s": round(setup_s, 3),
        "script_s": round(script_s, 3),
        "steps_s": {"setup": round(setup_s, 3), **split_steps(lines, script_s)},
        "setup_steps_s": split_setup(setup_lines),
        "predictions": predictions[-1] if predictions else None,
    }


def measure_quickstart(dockyard: Path, results_dir: Path) -> dict[str, Any]:
    """First run on a fresh state directory, second on the same; everything stopped and
    removed afterwards. The combined output goes to ``results_dir/foundation-quickstart.log``."""
    state = Path(tempfile.mkdtemp(prefix="dyq-", dir="/tmp"))
    if cached_tarball(Settings(state_dir=state)).exists():
        raise RuntimeError("a fresh state directory already holds a base tarball")
    log = results_dir / "foundation-quickstart.log"
    log.write_text("")
    isolation = Isolation("dyq-bench", "10.213.253.1/24")
    stack: Stack | None = None
    try:
        t0 = time.monotonic()
        stack = Stack.open(state, isolation)
        engine_s = round(time.monotonic() - t0, 3)
        first = one_run(stack, dockyard, log)
        first["steps_s"] = {"engine": engine_s, **first["steps_s"]}
        first["total_s"] = round(engine_s + first["setup_s"] + first["script_s"], 3)
        second = one_run(stack, dockyard, log)
        second["total_s"] = round(second["setup_s"] + second["script_s"], 3)
        engine_version = stack.engine.version
    finally:
        stopped = stack.close() if stack is not None else []
        _remove(state)
    return {
        "first": first,
        "second": second,
        "stopped": stopped,
        "engine_version": engine_version,
        "state_dir": str(state),
        "notes": [
            "first run: fresh state dir (new engine data root, debootstrap base image, "
            "framework image, training, build, deploy, invoke); host apt packages and the "
            "host's pip cache were already present",
            "the engine was started by the benchmark with an isolation bridge just before "
            "`dockyard setup` (counted as step 'engine')",
            "second run: same state dir, engine/daemon/HAProxy still running",
        ],
    }


def _remove(state: Path) -> None:
    """Remove the state directory; refuse if anything is still mounted below it."""
    with open("/proc/mounts") as mounts:
        busy = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{state}/")]
    if busy:
        raise RuntimeError(f"still mounted under {state}: {busy[:3]}; not removing it")
    shutil.rmtree(state, ignore_errors=True)
