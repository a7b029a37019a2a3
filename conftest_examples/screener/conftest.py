"""The screener's own smoke fixtures: its KRW markets, where its Redis caches live, how far its prices may move."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http


@pytest.fixture(scope="session")
def cache_key(deploy_target: Target) -> Callable[[str], str]:
    """The Redis key of one of the service's caches: ``cache_key("tickers")`` -> ``"screener:tickers:krw"``.

    The names come from the target's ``vars``: ``cache_prefix`` (the deploy's SCREENER_REDIS_PREFIX)
    and ``cache_keys``, so a deploy that keeps its caches elsewhere only changes deploysmoke.toml.
    """
    prefix = str(deploy_target.vars.get("cache_prefix", "screener:"))
    keys = dict(deploy_target.vars.get("cache_keys", {}))

    def key(cache: str) -> str:
        if cache not in keys:
            message = f"target '{deploy_target.name}' has no vars.cache_keys.{cache} in deploysmoke.toml"
            pytest.fail(message, pytrace=False)
        return prefix + str(keys[cache])

    return key


@pytest.fixture(scope="session")
def max_price_move(deploy_target: Target) -> float:
    """How far a price may move in a second on this deploy, as a fraction (``vars.max_price_move_per_second``)."""
    return float(deploy_target.vars.get("max_price_move_per_second", 0.01))


@pytest.fixture
def krw_markets(http: SmokeClient) -> set[str]:
    """The codes of the KRW markets the service lists (GET /api/markets/krw)."""
    markets = expect_json(expect_status(http.get("/api/markets/krw"), 200), is_market_list)
    return {market["market"] for market in markets}


def is_market_list(value: object) -> bool:
    """A non-empty list of markets, each with its code."""
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "market" in m for m in value)
