"""What the container has to compute with: CPUs, GPUs, Neuron cores, launchers.

Counted the way the training toolkit counts them (``cpu_count``, ``nvidia-smi --list-gpus``,
``neuron-ls -j``), so ``SM_NUM_*`` match what the same image reports on SageMaker. A tool
that is missing or fails means "none": most images have neither GPUs nor Neuron devices.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

_PROBE_TIMEOUT_S = 30
# Instance types whose Neuron core count is fixed and not worth probing.
_FIXED_NEURON_CORES = {"trn2.48xlarge": 64}


def num_cpus() -> int:
    return os.cpu_count() or 1


def num_gpus() -> int:
    output = _probe(["nvidia-smi", "--list-gpus"])
    if output is None:
        return 0
    return sum(1 for line in output.splitlines() if line.startswith("GPU "))


def num_neurons(instance_type: str) -> int:
    for marker, cores in _FIXED_NEURON_CORES.items():
        if marker in instance_type:
            return cores
    output = _probe(["neuron-ls", "-j"])
    if output is None:
        return 0
    try:
        devices = json.loads(output)
        return sum(int(device.get("nc_count", 0)) for device in devices)
    except (ValueError, TypeError, AttributeError):
        return 0


def is_installed(program: str) -> bool:
    return shutil.which(program) is not None


def _probe(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        completed = subprocess.run(cmd, capture_output=True, check=True, timeout=_PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.decode("utf-8", "replace")
