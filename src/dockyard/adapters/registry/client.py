"""A small client of Distribution's HTTP API v2, for Dockyard's own bookkeeping.

Pushing and pulling images is the engine's job (``docker push``) or skopeo's;
this client reads and edits what the registry holds: repositories, tags, manifests,
deletions, and streams single blobs (the image scanner reads layers with it). It
authenticates like any registry client, with bearer tokens, but gets them straight
from the in-process :class:`~.tokens.TokenIssuer` (Dockyard trusts itself) for
exactly the scope each call needs, and keeps them until shortly before they expire.

Errors come back as Dockyard's: an unknown repository or manifest is
:class:`~dockyard.errors.NotFound`, a refused token
:class:`~dockyard.errors.Unauthorized`, and a write while the registry is collecting
garbage :class:`RegistryReadOnly`, which says to retry.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from dockyard.adapters.registry.scopes import Scope, check_repository
from dockyard.adapters.registry.tokens import TokenIssuer
from dockyard.errors import DockyardError, NotFound, SpecError, Unauthorized

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
TOKEN_MARGIN = 30.0  # renew a cached token this many seconds before it expires
BLOB_CHUNK = 1 << 20
_SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class RegistryReadOnly(DockyardError):
    """The registry refuses writes for a while (garbage collection); pulls still work."""

    status_code = 503
    code = "RegistryReadOnly"


@dataclass(frozen=True)
class ManifestInfo:
    """What Dockyard needs to know about one manifest."""

    repository: str
    digest: str
    media_type: str
    config_digest: str | None  # None for an index (multi-platform list)
    config_size: int
    layer_sizes: tuple[int, ...]
    children: tuple[str, ...]  # digests of the manifests an index lists
    layer_digests: tuple[str, ...] = ()  # in the manifest's order, base layer first

    @property
    def size(self) -> int:
        """Compressed bytes of the image (config and layers), as ECR reports it."""
        return self.config_size + sum(self.layer_sizes)

    INDEX_TYPES: ClassVar[frozenset[str]] = frozenset({DOCKER_LIST, OCI_INDEX})


class RegistryClient:
    """Distribution's API at ``base_url``, with tokens from ``issuer``."""

    def __init__(
        self,
        base_url: str,
        issuer: TokenIssuer,
        *,
        subject: str = "dockyard",
        ttl: float = 300.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.subject = subject
        self.ttl = ttl
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self._tokens: dict[Scope, tuple[str, float]] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    def repositories(self, page_size: int = 100) -> list[str]:
        """Every repository that holds something, sorted (``GET /v2/_catalog``)."""
        scope = Scope("registry", "catalog", ("*",))
        pages = self._paged("/v2/_catalog", scope, "repositories", page_size)
        return sorted(pages)

    def tags(self, repository: str, page_size: int = 100) -> list[str]:
        """Tags of ``repository``, sorted; :class:`NotFound` if it does not exist."""
        scope = _pull(repository)
        path = f"/v2/{repository}/tags/list"
        return sorted(self._paged(path, scope, "tags", page_size, resource=repository))

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """Digest of the manifest a tag or digest names, or None if there is none."""
        response = self._request("HEAD", _manifest_path(repository, reference), _pull(repository))
        if response.status_code == 404:
            return None
        self._check(response, repository)
        digest: str | None = response.headers.get("docker-content-digest")
        return digest

    def exists(self, repository: str, tag: str) -> bool:
        """True if ``repository:tag`` (or ``repository@digest``) is in the registry."""
        return self.head_manifest(repository, tag) is not None

    def manifest(self, repository: str, reference: str) -> ManifestInfo:
        """The manifest a tag or digest names: digest, media type, config and sizes."""
        response = self._request("GET", _manifest_path(repository, reference), _pull(repository))
        self._check(response, f"{repository}:{reference}")
        body: dict[str, Any] = json.loads(response.content)
        media_type = str(body.get("mediaType") or response.headers.get("content-type", ""))
        config = body.get("config") or {}
        return ManifestInfo(
            repository=repository,
            digest=response.headers["docker-content-digest"],
            media_type=media_type,
            config_digest=config.get("digest"),
            config_size=int(config.get("size", 0)),
            layer_sizes=tuple(int(layer.get("size", 0)) for layer in body.get("layers", [])),
            children=tuple(m["digest"] for m in body.get("manifests", [])),
            layer_digests=tuple(str(layer["digest"]) for layer in body.get("layers", [])),
        )

    def blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """The bytes of blob ``digest`` (a layer, a config), streamed in chunks of 1 MiB.

        Nothing is requested until the first chunk is asked for. Read to the end, the
        bytes are checked against ``digest``: a mismatch raises :class:`DockyardError`
        rather than handing over data that is not what was asked for. A registry that
        redirects to its storage is followed (httpx drops the token on another host).
        """
        if not _SHA256_DIGEST.fullmatch(digest):
            raise SpecError(
                f"a blob is named by its sha256 digest, not {digest!r}",
                field="digest",
                hint="take the digest from the image's manifest",
            )
        return self._blob(repository, digest)

    def _blob(self, repository: str, digest: str) -> Iterator[bytes]:
        path = f"/v2/{check_repository(repository)}/blobs/{digest}"
        headers = {"Authorization": f"Bearer {self._token(_pull(repository))}"}
        hasher = hashlib.sha256()
        with self._http.stream("GET", path, headers=headers, follow_redirects=True) as response:
            if not response.is_success:
                response.read()
                self._check(response, f"{repository}@{digest}")
            for chunk in response.iter_bytes(BLOB_CHUNK):
                hasher.update(chunk)
                yield chunk
        if f"sha256:{hasher.hexdigest()}" != digest:
            raise DockyardError(
                "the registry sent a blob that does not match its digest",
                resource=f"{repository}@{digest}",
                hint="the registry's storage may be damaged; push the image again",
            )

    # -- writing ------------------------------------------------------------------------

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (its tags go with it; blobs stay until a GC).

        Distribution deletes by digest only: resolve a tag with :meth:`head_manifest`.
        """
        if not digest.startswith("sha256:"):
            raise SpecError(
                f"delete a manifest by digest, not {digest!r}",
                field="digest",
                hint="resolve the tag to its digest first",
            )
        scope = Scope("repository", check_repository(repository), ("delete",))
        response = self._request("DELETE", _manifest_path(repository, digest), scope)
        self._check(response, f"{repository}@{digest}")

    # -- internals ----------------------------------------------------------------------

    def _token(self, scope: Scope) -> str:
        cached = self._tokens.get(scope)
        if cached is not None and cached[1] - TOKEN_MARGIN > time.time():
            return cached[0]
        issued = self.issuer.issue(self.subject, [scope], self.ttl)
        self._tokens[scope] = (issued.token, issued.issued_at + issued.expires_in)
        return issued.token

    def _request(
        self, method: str, path: str, scope: Scope, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token(scope)}", "Accept": ACCEPT}
        return self._http.request(method, path, headers=headers, params=params)

    def _paged(
        self, path: str, scope: Scope, key: str, page_size: int, resource: str = "registry"
    ) -> list[str]:
        """Follow the ``Link: <...>; rel="next"`` pages of a list endpoint."""
        items: list[str] = []
        params: dict[str, Any] | None = {"n": page_size}
        url = path
        while True:
            response = self._request("GET", url, scope, params)
            self._check(response, resource)
            items.extend(json.loads(response.content).get(key) or [])
            following = response.links.get("next", {}).get("url")
            if not following:
                return items
            url, params = following, None

    @staticmethod
    def _check(response: httpx.Response, resource: str) -> None:
        """Raise the Dockyard error for a failed answer of Distribution."""
        if response.is_success:
            return
        message = _error_text(response)
        if response.status_code == 404:
            raise NotFound("not in the registry", resource=resource)
        if response.status_code in (401, 403):
            raise Unauthorized(
                f"the registry refused access: {message}",
                resource=resource,
                hint="the token lacks the scope this call needs",
            )
        if response.status_code == 405 and response.request.method not in ("GET", "HEAD"):
            # Distribution 2.8 in read-only maintenance: a bare 405 "Allow: GET, HEAD".
            raise RegistryReadOnly(
                "the registry accepts no writes right now",
                resource=resource,
                hint="garbage collection is under way; retry in a moment",
            )
        raise DockyardError(
            f"the registry answered {response.status_code}: {message}",
            resource=resource,
        )


def _pull(repository: str) -> Scope:
    return Scope("repository", check_repository(repository), ("pull",))


def _manifest_path(repository: str, reference: str) -> str:
    return f"/v2/{check_repository(repository)}/manifests/{reference}"


def _error_text(response: httpx.Response) -> str:
    """Distribution's words: its ``{"errors": [{code, message}]}`` body, and the
    challenge's ``error=`` (``insufficient_scope``, ``invalid_token``) for a 401."""
    try:
        errors = json.loads(response.content or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    words = [str(e.get("message")) for e in errors if isinstance(e, dict)]
    challenge = response.headers.get("www-authenticate", "")
    if 'error="' in challenge:
        words.append(challenge.split('error="', 1)[1].split('"', 1)[0])
    return "; ".join(words) or response.reason_phrase
