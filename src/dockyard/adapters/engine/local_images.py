"""Images live on the local engine, whatever runs the containers.

An engine that spreads containers over several engines (a fleet of container
instances, a swarm) still builds, pulls, pushes and tags on the one engine Dockyard
runs beside: the registry is on that machine, and the other engines pull from it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator

from dockyard.ports.engine import BuildEvent, Engine, ImageInfo, RegistryAuth


class ImagesOnLocalEngine:
    """Mixin: the image calls of :class:`~dockyard.ports.engine.Engine`, on ``local``."""

    local: Engine

    def build(
        self,
        context_dir: str,
        tag: str,
        dockerfile: str = "Dockerfile",
        labels: dict[str, str] | None = None,
        buildargs: dict[str, str] | None = None,
    ) -> Iterator[BuildEvent]:
        return self.local.build(context_dir, tag, dockerfile, labels, buildargs)

    def image(self, ref: str) -> ImageInfo | None:
        return self.local.image(ref)

    def pull(self, ref: str, auth: RegistryAuth | None = None) -> bool:
        return self.local.pull(ref, auth)

    def push(
        self, ref: str, auth: RegistryAuth, progress: Callable[[str], None] | None = None
    ) -> str:
        return self.local.push(ref, auth, progress)

    def import_rootfs(self, tar_path: str, ref: str, changes: builtins.list[str]) -> None:
        self.local.import_rootfs(tar_path, ref, changes)

    def tag(self, source: str, target: str) -> None:
        self.local.tag(source, target)
