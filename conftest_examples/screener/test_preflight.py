"""Preflight: before the deploy is trusted, the Redis that holds its caches answers.

The required environment (``required_env`` in deploysmoke.toml) is checked by the plugin's
built-in ``deploysmoke::required_env`` check, which runs first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeRedis  # the type of redis_client

pytestmark = pytest.mark.phase("preflight")


def test_redis_answers_ping(redis_client: SmokeRedis) -> None:
    """Redis (the markets, tickers and screener caches) answers PING."""
    assert redis_client.ping()
