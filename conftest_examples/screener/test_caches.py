"""Caches: the markets, tickers and screener caches exist in Redis with the checklist's TTLs (read-only).

Each check first asks the endpoint the cache serves, so the service has just filled it, then reads
the key's remaining time with PTTL: milliseconds, because a 3 s TTL read in whole seconds (TTL)
rounds to 0 in its last half second.  The suite never writes to Redis; on production the guard
would refuse it anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient, SmokeRedis  # the types of http and redis_client

pytestmark = pytest.mark.phase("features")

#: PTTL's answers that are not a remaining time.
NO_KEY, NO_TTL = -2, -1
#: A 3 s key can expire between the request that filled it and the PTTL; a fresh request refills it.
WARM_TRIES = 3


def cache_ttl(http: SmokeClient, redis_client: SmokeRedis, key: str, warm_path: str) -> float:
    """Seconds left on *key* right after GET *warm_path* filled it; fails on a missing key or no TTL."""
    for _ in range(WARM_TRIES):
        expect_status(http.get(warm_path), 200)
        ttl_ms = int(redis_client.pttl(key))
        if ttl_ms != NO_KEY:
            break
    if ttl_ms == NO_KEY:
        pytest.fail(
            f"redis key '{key}' does not exist right after GET {warm_path} answered ({WARM_TRIES} tries): "
            "the service does not cache there; check vars.cache_prefix and vars.cache_keys in deploysmoke.toml",
            pytrace=False,
        )
    if ttl_ms == NO_TTL:
        pytest.fail(
            f"redis key '{key}' has no TTL (PTTL -1): it never expires, so GET {warm_path} serves the same "
            "data forever; the service must write it with an expiry",
            pytrace=False,
        )
    return ttl_ms / 1000


def assert_ttl_within(key: str, ttl: float, limit: int) -> None:
    assert 0 < ttl <= limit, f"redis key '{key}' has {ttl:.1f} s left, over the checklist's {limit} s TTL"


def test_markets_cache_has_its_ttl(
    http: SmokeClient, redis_client: SmokeRedis, cache_key: Callable[[str], str]
) -> None:
    """The markets cache exists in Redis with a TTL of at most 3600 s."""
    key = cache_key("markets")
    assert_ttl_within(key, cache_ttl(http, redis_client, key, "/api/markets/krw"), 3600)


def test_tickers_cache_has_its_ttl(
    http: SmokeClient, redis_client: SmokeRedis, cache_key: Callable[[str], str]
) -> None:
    """The tickers cache exists in Redis with a TTL of at most 3 s."""
    key = cache_key("tickers")
    assert_ttl_within(key, cache_ttl(http, redis_client, key, "/api/markets/krw/tickers"), 3)


def test_screener_cache_has_its_ttl(
    http: SmokeClient, redis_client: SmokeRedis, cache_key: Callable[[str], str]
) -> None:
    """The screener cache exists in Redis with a TTL of at most 60 s."""
    key = cache_key("screener")
    assert_ttl_within(key, cache_ttl(http, redis_client, key, "/api/screener/symbols"), 60)
