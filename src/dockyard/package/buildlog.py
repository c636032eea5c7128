"""Read a build's output to tell which steps came from the cache.

Docker's legacy builder prints ``Step 3/7 : COPY model/ /opt/ml/model/`` and, for a
cache hit, `` ---> Using cache``; Podman (Buildah) prints ``STEP 3/7: COPY …`` and
``--> Using cache <id>``. A step counts as rebuilt when no cache line follows it before
the next step. ``FROM`` steps are neither; only ``RUN``/``COPY``/``ADD`` make layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_STEP = re.compile(r"^\s*(?:Step|STEP)\s+(\d+)/(\d+)\s*:\s*(.*?)\s*$")
_CACHED = re.compile(r"^\s*-+>\s*Using cache\b")
_LAYER_KEYWORDS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class BuildSteps:
    total: int
    cached: tuple[str, ...]
    rebuilt: tuple[str, ...]

    @property
    def layers_rebuilt(self) -> tuple[str, ...]:
        """Rebuilt steps that write a layer (RUN, COPY, ADD)."""
        return tuple(s for s in self.rebuilt if s.split(" ", 1)[0].upper() in _LAYER_KEYWORDS)


def summarize_build_log(lines: Iterable[str]) -> BuildSteps | None:
    """Cached and rebuilt steps of one build; ``None`` when the output has no steps."""
    steps: list[tuple[str, bool]] = []
    for chunk in lines:
        for line in chunk.splitlines():
            step = _STEP.match(line)
            if step:
                steps.append((step.group(3), False))
            elif steps and _CACHED.match(line):
                steps[-1] = (steps[-1][0], True)
    if not steps:
        return None
    counted = [(text, hit) for text, hit in steps if not text.upper().startswith("FROM ")]
    return BuildSteps(
        total=len(counted),
        cached=tuple(text for text, hit in counted if hit),
        rebuilt=tuple(text for text, hit in counted if not hit),
    )
