"""The stand-in's settings, read once from the environment at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Fault switches for JWTAPI_FAULTS, each reproducing a real bad deploy.
FAULTS = {
    "hsts_missing": "responses carry no Strict-Transport-Security header",
    "cors_any_origin": "CORS allows every origin with credentials (any site's preflight is answered for it)",
    "rate_limit_off": "the search rate limiter is off",
    "expired_token_accepted": "tokens are accepted after their exp (the expiry is not verified)",
    "openapi_missing_path": "/openapi.json no longer documents GET /api/v1/mentors/{mentor_id}",
}
MIN_SECRET_BYTES = 32
#: Without CORS_ORIGINS the stand-in allows the web app's origins of every target in deploysmoke.toml
#: (local, staging, prod), so any of them pointed at a stand-in started by hand finds its own.
DEFAULT_CORS_ORIGINS = (
    "https://app.mentoring.example",
    "https://staging.mentoring.example",
    "https://mentoring.example",
    "https://www.mentoring.example",
)


class SettingsError(RuntimeError):
    """The environment does not configure the service; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs from its environment."""

    database_url: str
    redis_url: str
    jwt_secret: str
    version: str = "2.4.0"
    faults: frozenset[str] = frozenset()
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    search_rate_limit: int = 10  # searches a minute per client
    rate_limit_prefix: str = "jwtapi:ratelimit:"
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
        faults = frozenset(name.strip() for name in environ.get("JWTAPI_FAULTS", "").split(",") if name.strip())
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            known = ", ".join(FAULTS)
            raise SettingsError(f"JWTAPI_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {known}")
        limit = environ.get("SEARCH_RATE_LIMIT", "10")
        if not limit.isdigit() or int(limit) < 1:
            raise SettingsError(f"SEARCH_RATE_LIMIT is {limit!r}; expected a whole number of searches a minute")
        origins = tuple(o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            database_url=environ["DATABASE_URL"],
            redis_url=environ["REDIS_URL"],
            jwt_secret=secret,
            version=environ.get("APP_VERSION") or "2.4.0",
            faults=faults,
            cors_origins=origins or DEFAULT_CORS_ORIGINS,
            search_rate_limit=int(limit),
            rate_limit_prefix=environ.get("RATE_LIMIT_PREFIX") or "jwtapi:ratelimit:",
            smoke_user=environ.get("SMOKE_USER") or None,
            smoke_password=environ.get("SMOKE_PASSWORD") or None,
        )
