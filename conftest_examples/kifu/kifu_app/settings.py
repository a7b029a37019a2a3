"""The stand-in's settings, read once from the environment at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Fault switches for KIFU_FAULTS, each reproducing a real bad deploy.
FAULTS = {
    "missing_migration_021": "migration 021 (users.ai_allowlisted) is not applied",
    "health_503": "/health answers 503 degraded",
    "login_500": "login answers 500",
    "klines_empty": "market klines answer an empty list",
    "pack_stuck": "summary packs never leave 'pending'",
    "ws_close": "the ticker WebSocket closes at once with 1011",
    "slow_summary": "the trades summary takes 1.5 s",
    "error_burst": "every third market klines request answers 500",
    "slow_health": "/health takes 0.25 s",
    "health_dies_later": "/health answers 503 after its first 3 requests (the deploy degrades after the checks)",
    "review_tab_throws": "the home screen's review tab script throws a TypeError (built for another bubbles API)",
    "chart_500": "market klines answer 500, so the chart tab never draws its chart",
    "slow_klines_40": "market klines take 30 ms instead of 20 ms: about 40 % slower, far inside every budget",
}
MIN_SECRET_BYTES = 32


class SettingsError(RuntimeError):
    """The environment does not configure the service; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs from its environment."""

    database_url: str
    redis_url: str
    jwt_secret: str
    version: str = "1.8.0"
    faults: frozenset[str] = frozenset()
    smoke_user: str | None = None
    smoke_password: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings, failing with the variable to fix when one is missing or wrong."""
        missing = [name for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET") if not environ.get(name)]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not set; the service needs a database, Redis and a JWT secret")
        secret = environ["JWT_SECRET"]
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET is {len(secret.encode())} bytes; HS256 needs at least {MIN_SECRET_BYTES}")
        faults = frozenset(name.strip() for name in environ.get("KIFU_FAULTS", "").split(",") if name.strip())
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            raise SettingsError(f"KIFU_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        return cls(
            database_url=environ["DATABASE_URL"],
            redis_url=environ["REDIS_URL"],
            jwt_secret=secret,
            version=environ.get("APP_VERSION") or "1.8.0",
            faults=faults,
            smoke_user=environ.get("SMOKE_USER") or None,
            smoke_password=environ.get("SMOKE_PASSWORD") or None,
        )
