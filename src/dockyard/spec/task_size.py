"""Task-level ``cpu`` and ``memory``: ECS's two spellings, and Fargate's valid pairs.

ECS takes both as strings: ``cpu`` in CPU units (``"1024"``) or vCPUs (``"1 vCPU"``,
``"0.25 vcpu"``); ``memory`` in MiB (``"2048"``) or GB (``"2 GB"``, ``"2GB"``). It stores
the integer form, and so does Dockyard (a described task definition shows ``"1024"``).

Fargate accepts only fixed combinations (ECS developer guide, "Task size"; repeated on
``RegisterTaskDefinitionRequest.memory`` in botocore's model): 0.25 vCPU with 0.5, 1 or
2 GB; 0.5 vCPU with 1-4 GB; 1 vCPU with 2-8 GB; 2 vCPU with 4-16 GB; 4 vCPU with 8-30 GB
(1 GB steps); 8 vCPU with 16-60 GB in 4 GB steps; 16 vCPU with 32-120 GB in 8 GB steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dockyard.spec.errors import SpecValueError

CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024
TASK_CPU_MIN, TASK_CPU_MAX = 128, 196608  # 0.125 .. 192 vCPU (botocore's doc of ``cpu``)

_NUMBER_WITH_UNIT = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]*)\s*")


def _gb_range(low_gb: int, high_gb: int, step_gb: int) -> tuple[int, ...]:
    return tuple(gb * MIB_PER_GB for gb in range(low_gb, high_gb + 1, step_gb))


FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _gb_range(1, 4, 1),
    1024: _gb_range(2, 8, 1),
    2048: _gb_range(4, 16, 1),
    4096: _gb_range(8, 30, 1),
    8192: _gb_range(16, 60, 4),
    16384: _gb_range(32, 120, 8),
}


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    match = _NUMBER_WITH_UNIT.fullmatch(text)
    if match is None:
        raise SpecValueError(
            f'"{text}" is not a valid task {what}', hint=f"write it like {example}"
        )
    return float(match.group("number")), match.group("unit").lower()


def parse_cpu(text: str) -> int:
    """CPU units of a task-level ``cpu`` string (``"1024"``, ``"1 vCPU"``, ``"0.5 vcpu"``)."""
    example = '"1024" (CPU units) or "1 vCPU"'
    number, unit = _split(text, "cpu", example)
    if unit == "":
        units = number
    elif unit == "vcpu":
        units = number * CPU_UNITS_PER_VCPU
    else:
        raise SpecValueError(f'unknown cpu unit "{unit}" in "{text}"', hint=f"write {example}")
    if not units.is_integer():
        raise SpecValueError(
            f'"{text}" is not a whole number of CPU units', hint=f"write {example}"
        )
    if not TASK_CPU_MIN <= units <= TASK_CPU_MAX:
        raise SpecValueError(
            f"task cpu must be between {TASK_CPU_MIN} and {TASK_CPU_MAX} CPU units "
            f"(0.125-192 vCPU), got {int(units)}",
            hint=f"use a value from {TASK_CPU_MIN} to {TASK_CPU_MAX}",
        )
    return int(units)


def parse_memory(text: str) -> int:
    """MiB of a task-level ``memory`` string (``"2048"``, ``"2 GB"``, ``"2GB"``)."""
    example = '"2048" (MiB) or "2 GB"'
    number, unit = _split(text, "memory", example)
    if unit == "":
        mib = number
    elif unit == "gb":
        mib = number * MIB_PER_GB
    else:
        raise SpecValueError(f'unknown memory unit "{unit}" in "{text}"', hint=f"write {example}")
    if not mib.is_integer() or mib <= 0:
        raise SpecValueError(
            f'"{text}" is not a whole, positive number of MiB', hint=f"write {example}"
        )
    return int(mib)


def check_fargate_size(cpu_units: int, memory_mib: int) -> None:
    """Raise :class:`SpecValueError` (at ``memory`` or ``cpu``) unless Fargate offers this size."""
    options = FARGATE_MEMORY_BY_CPU.get(cpu_units)
    if options is None:
        valid = ", ".join(str(cpu) for cpu in FARGATE_MEMORY_BY_CPU)
        raise SpecValueError(
            f"Fargate has no task size with {cpu_units} CPU units",
            hint=f"use one of: {valid} (0.25, 0.5, 1, 2, 4, 8 or 16 vCPU)",
            at=("cpu",),
        )
    if memory_mib not in options:
        raise SpecValueError(
            f"Fargate does not offer {memory_mib} MiB with {cpu_units} CPU units",
            hint=f"with cpu {cpu_units} use memory {_describe_options(options)}",
            at=("memory",),
        )


def _describe_options(options: tuple[int, ...]) -> str:
    if len(options) <= 3:
        return " or ".join(str(mib) for mib in options)
    step = options[1] - options[0]
    return f"from {options[0]} to {options[-1]} in steps of {step} (MiB)"
