"""The screener's own smoke fixtures: where its Redis caches live, and how far its prices may move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_deploysmoke import Target


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
