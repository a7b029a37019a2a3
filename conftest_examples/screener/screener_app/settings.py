"""The stand-in's settings, read once from the environment at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Fault switches for SCREENER_FAULTS, each reproducing a real bad deploy.
FAULTS = {
    "health_503": "/health answers 503: the indicator job is not running",
    "ws_stall": "the ticker WebSocket accepts the connection, then never sends a message",
    "ws_refuse": "the ticker WebSocket refuses every connection (HTTP 403 on the upgrade)",
    "filter_mismatch": "the screener filter applies its operator reversed, so it returns symbols that do not match",
    "filter_slow": "the screener filter takes 5.5 s, past its 5 s maximum",
    "tickers_no_ttl": "the tickers cache is written without a TTL, so it serves the same prices forever",
    "markets_slow": "GET /api/markets/krw takes 1.2 s, over twice its 500 ms target",
    "error_burst": "every third GET /api/markets/krw answers 500",
    "slow_markets_40": "GET /api/markets/krw takes 30 ms instead of 20 ms: about 40 % slower, far inside every budget",
}
DEFAULT_PREFIX = "screener:"


class SettingsError(RuntimeError):
    """The environment does not configure the service; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs from its environment."""

    redis_url: str
    redis_prefix: str = DEFAULT_PREFIX
    version: str = "2.4.0"
    faults: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings, failing with the variable to fix when one is missing or wrong."""
        if not environ.get("REDIS_URL"):
            raise SettingsError("REDIS_URL not set; the screener keeps its caches in Redis")
        faults = frozenset(name.strip() for name in environ.get("SCREENER_FAULTS", "").split(",") if name.strip())
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            raise SettingsError(
                f"SCREENER_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}"
            )
        return cls(
            redis_url=environ["REDIS_URL"],
            redis_prefix=environ.get("SCREENER_REDIS_PREFIX") or DEFAULT_PREFIX,
            version=environ.get("APP_VERSION") or "2.4.0",
            faults=faults,
        )
