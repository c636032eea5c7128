"""The immutable-tag check, made before a manifest reaches Distribution.

Distribution would let any push move any tag; ECR refuses to move a tag in an
IMMUTABLE repository with ImageTagAlreadyExistsException. Checking before the manifest
is stored is what keeps the old image intact, whichever client pushes.
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.ports.store import Store
from dockyard.server.registry.front.answers import name_unknown, tag_invalid
from dockyard.server.registry.operations import (
    ImageTagAlreadyExists,
    RepositoryNotFound,
    check_tag_may_move,
)


def refuse_tag_move(store: Store, name: str, tag: str, digest: str) -> Response | None:
    """The refusal of pointing ``name:tag`` at ``digest``, or None when it may.

    ``docker push`` prints the refusal as "tag invalid: ImageTagAlreadyExistsException: …".
    """
    try:
        check_tag_may_move(store, name, tag, digest)
    except RepositoryNotFound:
        return name_unknown(name)
    except ImageTagAlreadyExists as exc:
        return tag_invalid(tag, f"{exc.code}: {exc.message} ({exc.hint})")
    return None
