"""The image a training job, model or transform job runs, found on this machine.

Every shape asks the same question of the image a request names: is it here (in the
engine, or pulled now from Dockyard's registry), and if it is one of AWS's framework
images, which of Dockyard's framework images stands in for it
(:mod:`dockyard.server.aws_framework_images`)? One answer, with the same error.
"""

from __future__ import annotations

from dockyard.errors import SpecError
from dockyard.ports.engine import ImageInfo
from dockyard.server.aws_framework_images import stand_in
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer

NOT_HERE_HINT = (
    "build it with `dockyard build DIR -t NAME:TAG`, or name an image in Dockyard's "
    "registry (`dockyard images REPOSITORY` shows their URIs)"
)


def image_here(
    platform: Platform, image: str, field: str, hint: str = NOT_HERE_HINT
) -> tuple[str, ImageInfo]:
    """``(the image that runs, its details)`` for the image a request names: ``image``
    itself, or Dockyard's framework image for one of AWS's. A SpecError naming
    ``field`` when it is neither here nor in Dockyard's registry."""
    runs = stand_in(platform.engine, image, field) or image
    info = platform.engine.image(runs)
    if info is None and transfer.ensure_local(platform, runs):  # from Dockyard's registry
        info = platform.engine.image(runs)
    if info is None:
        raise SpecError(f"image {image} is not on this machine", field=field, hint=hint)
    return runs, info
