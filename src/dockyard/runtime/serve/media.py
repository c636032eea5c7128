"""Media types: reading Content-Type and choosing a response type from Accept.

Both results are cached per distinct header value: a client sends the same few headers
over and over, so after the first request each lookup is one dictionary hit.
"""

from __future__ import annotations

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
ANY = "*/*"
#: Request bodies of these types reach user ``input_fn`` as text, as in the toolkit.
TEXT_TYPES = frozenset({JSON, CSV})

_CACHE_LIMIT = 512
_media_cache: dict[str, str] = {}


def media_type(header: str) -> str:
    """``'Text/CSV; charset=utf-8'`` -> ``'text/csv'``: the type without parameters."""
    found = _media_cache.get(header)
    if found is None:
        found = header.split(";", 1)[0].strip().lower()
        if len(_media_cache) >= _CACHE_LIMIT:
            _media_cache.clear()
        _media_cache[header] = found
    return found


class AcceptNegotiator:
    """Picks the response type for an Accept header from the types the server can write.

    Rules (RFC 9110 section 12.5.1, simplified to what matters for a model server): the
    ranges are tried from the highest ``q`` down, ties in the order written; an exact type
    wins if supported; ``*/*`` means the configured default; ``type/*`` means the default
    if it matches, else the first supported type of that family; ``q=0`` excludes a type
    even from wildcards. No match means 406.
    """

    def __init__(self, supported: tuple[str, ...], default: str) -> None:
        self.supported = supported
        self.default = default if default in supported else None
        self._cache: dict[str, str | None] = {}

    def choose(self, accept: str) -> str | None:
        """The type to answer in, or None when nothing acceptable can be written."""
        try:
            return self._cache[accept]
        except KeyError:
            pass
        chosen = self._negotiate(accept)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[accept] = chosen
        return chosen

    def _negotiate(self, accept: str) -> str | None:
        ranges = parse_accept(accept)
        if not ranges:
            return self.default
        excluded = {media for media, q in ranges if q <= 0}
        for media, q in sorted(ranges, key=lambda item: -item[1]):
            if q <= 0:
                continue
            chosen = self._match(media, excluded)
            if chosen is not None:
                return chosen
        return None

    def _match(self, media: str, excluded: set[str]) -> str | None:
        if media in self.supported:
            return None if media in excluded else media
        if media == ANY:
            family = ""
        elif media.endswith("/*"):
            family = media[:-1]
        else:
            return None
        candidates = [t for t in self.supported if t.startswith(family) and t not in excluded]
        if self.default in candidates:
            return self.default
        return candidates[0] if candidates else None


def parse_accept(accept: str) -> list[tuple[str, float]]:
    """``'text/csv;q=0.5, */*'`` -> ``[('text/csv', 0.5), ('*/*', 1.0)]``."""
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, _, params = item.partition(";")
        media = media.strip().lower()
        if not media:
            continue
        ranges.append((media, _quality(params)))
    return ranges


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 1.0  # a malformed weight is ignored rather than held against the type
    return 1.0
