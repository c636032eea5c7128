"""The registry's front door: every ``docker``/``skopeo`` push and pull goes through it.

Distribution stores and serves images; what ECR adds on top lives here, on
``127.0.0.1:<registry_port>`` (the host image references name), in front of
Distribution's private port:

- ``GET /token`` (:mod:`.token_endpoint`) — the Docker token endpoint (the realm
  Distribution's challenges name). HTTP Basic with an ECR-style login buys a registry
  token holding the requested scopes cut down to what the login allows, and only for
  repositories that exist: like ECR, a push never creates a repository.
- ``/v2/…`` (:mod:`.app`) — streamed to Distribution and back (:mod:`.upstream`: layers
  are hundreds of MB, so bodies are never held in memory; upload-session ``Location``
  headers are rewritten to the public host); blob downloads, where a pull's bytes are,
  on connections of their own (:mod:`.blobs`), Distribution still checking every
  token. A repository Dockyard does not know is
  ``NAME_UNKNOWN``. A manifest ``PUT`` (:mod:`.manifests`, small, read whole) is checked
  first against the repository's tag immutability (:mod:`.immutability`), and once
  Distribution has stored it the image is recorded with its digest and size
  (:mod:`.records`). A manifest ``DELETE`` removes the image's record too, so the store
  and the registry agree.
- While a garbage collection holds Distribution read-only (:mod:`.maintenance`), writes
  are answered 503 ``UNAVAILABLE`` with ``Retry-After`` and reads keep flowing; while
  Distribution restarts, requests wait for it a moment before giving up with a 503.
  Every refusal has Distribution's error shape (:mod:`.answers`).

Repository checks and tag checks only speak to callers holding a valid registry
token (:mod:`.callers`; with ``push``, for tag checks): a caller without one is passed
on to Distribution, which answers with the token challenge; a manifest sent with a
token the front cannot verify is answered with that challenge by the front itself, so
that no manifest reaches Distribution unchecked.
"""

from dockyard.server.registry.front.app import RegistryFront, create_front

__all__ = ["RegistryFront", "create_front"]
