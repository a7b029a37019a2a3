"""The screener API: KRW markets, live tickers and an indicator screener, cached in Redis, with fault switches.

Run it with ``uvicorn screener_app.main:app``; settings come from the environment (see ``settings.py``).
The caches are read-through: a request that finds its key missing computes the answer and writes
it with the cache's TTL (markets 3600 s, tickers 3 s, screener 60 s), under SCREENER_REDIS_PREFIX.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from screener_app import market
from screener_app.settings import Settings

#: The caches' keys (after the prefix) and TTLs in seconds.
MARKETS_KEY, MARKETS_TTL = "markets:krw", 3600
TICKERS_KEY, TICKERS_TTL = "tickers:krw", 3
SCREENER_KEY, SCREENER_TTL = "screener:indicators", 60
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
#: What the filter_mismatch fault reads each operator as: the bug of a reversed comparison.
REVERSED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
#: The server's own time for the market list: the real service asks the exchange for its markets and
#: merges their listing data, which the stand-in's fixed list does not, so it waits this long instead.
MARKETS_QUERY_SECONDS = 0.020
#: With the slow_markets_40 fault: 10 ms more, so the median a client measures (with loopback's 2-3 ms
#: on top of either) moves from about 22 ms to about 33 ms, some 45 %, and stays far under the markets' 500 ms target.
SLOW_MARKETS_40_SECONDS = 0.030
SLOW_MARKETS_SECONDS = 1.2  # the markets_slow fault: over twice the 500 ms target
SLOW_FILTER_SECONDS = 5.5

log = logging.getLogger("screener")


@dataclass(slots=True)
class Screener:
    """What the handlers share: the settings, the Redis client, the live feed and a request counter."""

    settings: Settings
    cache: aioredis.Redis
    feed: market.TickerFeed
    markets_served: int = 0

    def fault(self, name: str) -> bool:
        """Whether the fault switch *name* is on."""
        return name in self.settings.faults

    def key(self, name: str) -> str:
        return self.settings.redis_prefix + name

    async def cached(self, name: str, ttl: int | None, build: Callable[[], Any]) -> Any:
        """The cached JSON value under *name*, or ``build()`` written there with *ttl* (None: no TTL)."""
        key = self.key(name)
        text = await self.cache.get(key)
        if text is None:
            value = build()
            await self.cache.set(key, json.dumps(value, ensure_ascii=False), ex=ttl)
            return value
        return json.loads(text)

    async def markets(self) -> Any:
        return await self.cached(MARKETS_KEY, MARKETS_TTL, market.market_list)

    async def tickers(self) -> Any:
        ttl = None if self.fault("tickers_no_ttl") else TICKERS_TTL
        return await self.cached(TICKERS_KEY, ttl, self.feed.snapshot)

    async def indicators(self) -> Any:
        return await self.cached(SCREENER_KEY, SCREENER_TTL, lambda: market.indicator_snapshot(market.now_ms()))


def screener(request: Request | WebSocket) -> Screener:
    state: Screener = request.app.state.screener
    return state


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


# --------------------------------------------------------------------------- health


async def livez(request: Request) -> Response:
    """Liveness: the process is up and started, whatever the state of its dependencies."""
    return JSONResponse({"status": "alive"})


async def health(request: Request) -> Response:
    """Readiness: version, Redis, and the live feed's last tick; 503 when something is wrong."""
    app = screener(request)
    try:
        await asyncio.wait_for(app.cache.ping(), 2)
        redis_state = "ok"
    except (aioredis.RedisError, OSError, asyncio.TimeoutError) as exc:
        redis_state = f"unavailable: {type(exc).__name__}"
    feed = {"seq": app.feed.seq, "age_ms": market.now_ms() - app.feed.timestamp}
    body: dict[str, Any] = {"status": "ok", "version": app.settings.version, "redis": redis_state, "feed": feed}
    if app.fault("health_503"):
        body.update(status="degraded", detail="the indicator job is not running")
    elif redis_state != "ok":
        body["status"] = "degraded"
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


async def metrics(request: Request) -> Response:
    """The process's own Prometheus metrics (CPU seconds, resident memory, ...)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# --------------------------------------------------------------------------- markets and tickers


async def markets(request: Request) -> Response:
    app = screener(request)
    app.markets_served += 1
    if app.fault("error_burst") and app.markets_served % 3 == 0:
        return error(500, "upstream_error", "the exchange's market list failed")
    await asyncio.sleep(markets_query_seconds(app))
    return JSONResponse(await app.markets())


def markets_query_seconds(app: Screener) -> float:
    """How long the market list takes the server: 20 ms on a good deploy, longer with a slow-markets fault."""
    if app.fault("markets_slow"):
        return SLOW_MARKETS_SECONDS
    return SLOW_MARKETS_40_SECONDS if app.fault("slow_markets_40") else MARKETS_QUERY_SECONDS


async def tickers(request: Request) -> Response:
    """Every KRW market's last price; also the documented polling fallback when the WebSocket is down."""
    return JSONResponse(await screener(request).tickers())


async def ticker_stream(websocket: WebSocket) -> None:
    """The current tick at once, then every tick, as ``{"type": "tickers", "seq", "timestamp", "tickers"}``."""
    app = screener(websocket)
    if app.fault("ws_refuse"):
        await websocket.close(code=1013)  # before accept: the upgrade is answered with HTTP 403
        return
    await websocket.accept()
    publisher = asyncio.create_task(_idle() if app.fault("ws_stall") else _publish(websocket, app.feed))
    try:
        with contextlib.suppress(WebSocketDisconnect):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the stream takes no commands; reading notices the client leaving
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await publisher


async def _publish(websocket: WebSocket, feed: market.TickerFeed) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):  # the client left mid-send
        while True:
            await websocket.send_json({"type": "tickers", **feed.snapshot()})
            await feed.next_tick()


async def _idle() -> None:
    await asyncio.Event().wait()


# --------------------------------------------------------------------------- the screener


async def symbols(request: Request) -> Response:
    snapshot = await screener(request).indicators()
    return JSONResponse({"as_of": snapshot["as_of"], "symbols": sorted(snapshot["indicators"])})


async def indicators(request: Request) -> Response:
    """``?symbols=KRW-BTC,KRW-ETH`` (all when left out): each symbol's indicators from the cached snapshot."""
    snapshot = await screener(request).indicators()
    known: dict[str, Any] = snapshot["indicators"]
    asked = [s for s in request.query_params.get("symbols", "").upper().split(",") if s] or sorted(known)
    unknown = [s for s in asked if s not in known]
    if unknown:
        return error(404, "unknown_symbols", f"not screened: {', '.join(unknown)}", symbols=unknown)
    return JSONResponse({**snapshot, "indicators": {s: known[s] for s in asked}})


async def screen(request: Request) -> Response:
    """``{"conditions": [{"indicator": "rsi_14", "op": "<", "value": 30}]}``: the symbols meeting every condition."""
    app = screener(request)
    try:
        body = await request.json()
        conditions = _conditions(body)
    except ValueError as exc:
        return error(422, "invalid_filter", str(exc))
    if app.fault("filter_slow"):
        await asyncio.sleep(SLOW_FILTER_SECONDS)
    snapshot = await app.indicators()
    if app.fault("filter_mismatch"):
        conditions = [(name, REVERSED[op], value) for name, op, value in conditions]
    matches = [
        symbol
        for symbol, values in sorted(snapshot["indicators"].items())
        if all(OPERATORS[op](values[name], value) for name, op, value in conditions)
    ]
    return JSONResponse({"as_of": snapshot["as_of"], "symbols": matches})


def _conditions(body: Any) -> list[tuple[str, str, float]]:
    """The filter's conditions as (indicator, operator, value); ValueError saying what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("conditions"), list) or not body["conditions"]:
        raise ValueError('give {"conditions": [{"indicator": "rsi_14", "op": "<", "value": 30}]}')
    parsed = []
    for condition in body["conditions"]:
        name, op, value = (condition.get(k) for k in ("indicator", "op", "value"))
        if name not in market.INDICATORS:
            raise ValueError(f"indicator must be one of {', '.join(market.INDICATORS)}, got {name!r}")
        if op not in OPERATORS:
            raise ValueError(f"op must be one of {', '.join(OPERATORS)}, got {op!r}")
        if not market.is_finite(value):
            raise ValueError(f"value must be a number, got {value!r}")
        parsed.append((name, op, float(value)))
    return parsed


# --------------------------------------------------------------------------- the application


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At start: read the settings, connect Redis, start the ticker feed; at stop: stop both."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     screener: %(message)s")
    settings = Settings.from_env()
    if settings.faults:
        log.warning("fault switches on: %s", ", ".join(sorted(settings.faults)))
    cache = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    state = Screener(settings, cache, market.TickerFeed())
    app.state.screener = state
    feed = asyncio.create_task(state.feed.run())
    try:
        yield
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await cache.aclose()


def _get(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    return Route(path, endpoint, methods=["GET"])


app = Starlette(
    routes=[
        _get("/livez", livez),
        _get("/health", health),
        _get("/metrics", metrics),
        _get("/api/markets/krw", markets),
        _get("/api/markets/krw/tickers", tickers),
        _get("/api/screener/symbols", symbols),
        _get("/api/screener/indicators", indicators),
        Route("/api/screener/filter", screen, methods=["POST"]),
        WebSocketRoute("/ws/tickers/krw", ticker_stream),
    ],
    lifespan=lifespan,
)
