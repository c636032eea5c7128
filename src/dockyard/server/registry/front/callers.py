"""Who is asking: a request's bearer token as the front reads it.

Distribution verifies every token itself; the front reads the token too, but only to
decide what it may say before Distribution does (that a repository does not exist,
that a tag is immutable). A caller whose token does not verify learns nothing from
the front, so the front never tells more than Distribution would.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from dockyard.adapters.registry import TokenIssuer
from dockyard.ports.store import Store
from dockyard.records.registry import RepositoryRecord


@dataclass(frozen=True)
class Caller:
    """A request's bearer token as the front reads it; unverified tokens get nothing."""

    bearer: bool  # a bearer token was sent
    verified: bool = False  # ...and it is one of this registry's, unexpired
    actions: frozenset[str] = frozenset()  # what it allows on the repository asked about
    repository: RepositoryRecord | None = None  # the repository, when verified


def identify(authorization: str, name: str, issuer: TokenIssuer, store: Store) -> Caller:
    """Who is asking about repository ``name``, as far as their token says."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Caller(bearer=False)
    try:
        claims = issuer.decode(token.strip())
    except jwt.PyJWTError:
        return Caller(bearer=True)
    actions = frozenset(
        str(action)
        for entry in claims.get("access") or []
        if isinstance(entry, dict)
        and entry.get("type") == "repository"
        and entry.get("name") == name
        for action in entry.get("actions") or []
    )
    repository = store.repositories.get(name)
    return Caller(bearer=True, verified=True, actions=actions, repository=repository)
