"""The multi-model server's bookkeeping: budget, least-recently-used order, page tokens."""

from __future__ import annotations

import pytest

from dockyard.runtime.serve.model_cache import (
    BadPageToken,
    CachedModel,
    ModelCache,
    decode_token,
    encode_token,
    page_size,
)

pytestmark = pytest.mark.unit


def _cache(budget: int, *sizes: tuple[str, int]) -> ModelCache:
    cache = ModelCache(budget)
    for name, size in sizes:
        cache.add(CachedModel(name, f"/models/{name}", size))
    return cache


def test_a_model_fits_until_the_budget_is_reached_exactly() -> None:
    cache = _cache(10, ("a", 4), ("b", 4))
    assert cache.used_bytes == 8
    assert cache.fits(2)
    assert not cache.fits(3)


def test_the_victim_is_the_least_recently_used_model() -> None:
    cache = _cache(100, ("a", 1), ("b", 1), ("c", 1))
    cache.touch("a")
    victim = cache.victim()
    assert victim is not None and victim.name == "b"


def test_the_model_being_loaded_is_never_its_own_victim() -> None:
    cache = _cache(100, ("a", 1))
    assert cache.victim(keep="a") is None


def test_removing_a_model_gives_its_bytes_back() -> None:
    cache = _cache(10, ("a", 6), ("b", 4))
    cache.remove("a")
    assert cache.used_bytes == 4 and "a" not in cache and cache.fits(6)


def test_a_name_is_loaded_once() -> None:
    cache = _cache(10, ("a", 1))
    with pytest.raises(KeyError):
        cache.add(CachedModel("a", "/elsewhere", 1))


def test_pages_walk_every_model_in_name_order_once() -> None:
    cache = _cache(100, *((name, 1) for name in ("d", "a/x.tar.gz", "c", "b")))
    seen: list[str] = []
    token = None
    while True:
        models, token = cache.page(token, 3)
        seen.extend(m.name for m in models)
        if token is None:
            break
    assert seen == ["a/x.tar.gz", "b", "c", "d"]


def test_a_page_token_survives_unloads_before_it() -> None:
    cache = _cache(100, ("a", 1), ("b", 1), ("c", 1), ("d", 1))
    first, token = cache.page(None, 2)
    cache.remove("a")
    rest, last = cache.page(token, 2)
    assert [m.name for m in first] == ["a", "b"]
    assert [m.name for m in rest] == ["c", "d"] and last is None


def test_the_last_page_has_no_token() -> None:
    cache = _cache(100, ("a", 1), ("b", 1))
    assert cache.page(None, 2)[1] is None


def test_tokens_round_trip_any_name() -> None:
    for name in ("a", "a/b/model.tar.gz", "ünï cödé"):
        assert decode_token(encode_token(name)) == name


def test_a_token_the_server_never_gave_is_refused() -> None:
    with pytest.raises(BadPageToken, match="next_page_token"):
        decode_token("!!!")


@pytest.mark.parametrize("raw", ["0", "1001", "ten", "-1"])
def test_limit_outside_1_to_1000_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(ValueError, match="limit"):
        page_size(raw)


def test_limit_defaults_to_100() -> None:
    assert page_size(None) == 100 and page_size("7") == 7
