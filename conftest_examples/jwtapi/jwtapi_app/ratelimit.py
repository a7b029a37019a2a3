"""A per-client rate limiter in Redis: a window of a minute that starts at the client's first request."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

WINDOW_SECONDS = 60

log = logging.getLogger("jwtapi")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one request may go on, and what the rate-limit headers should say."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int = 0  # seconds until the window ends; set when not allowed

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


async def hit(cache: aioredis.Redis, key: str, limit: int) -> Verdict:
    """Count one request under *key* and decide it; a Redis that does not answer lets it through.

    The window starts at the key's first request (SET NX EX), so a burst is never split across two
    windows; INCR keeps the key's expiry.  Failing open keeps the API up when Redis is not, and
    /health reports Redis as down.
    """
    try:
        async with cache.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
    except (aioredis.RedisError, OSError) as exc:
        log.warning("rate limiter unavailable (%s); letting the request through", type(exc).__name__)
        return Verdict(allowed=True, limit=limit, remaining=limit)
    if count > limit:
        return Verdict(allowed=False, limit=limit, remaining=0, retry_after=max(int(ttl), 1))
    return Verdict(allowed=True, limit=limit, remaining=limit - count)
