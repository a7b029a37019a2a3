"""The kifu API: a crypto trading journal on PostgreSQL and Redis, with fault switches for bad deploys.

Run it with ``uvicorn kifu_app.main:app``; settings come from the environment (see ``settings.py``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import redis.asyncio as aioredis
from psycopg.types.json import Jsonb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from kifu_app import database, market, pages, security
from kifu_app.security import Caller
from kifu_app.settings import Settings

LOGIN_ATTEMPTS_PER_MINUTE = 20
KLINES_CACHE_SECONDS = 30
#: The server's own time for a klines request: the real service reads the candles from the exchange
#: and its database, which the stand-in's synthetic data does not, so it waits this long instead.
KLINES_QUERY_SECONDS = 0.020
#: With the slow_klines_40 fault: 10 ms more, so the median a client measures (with loopback's 2-3 ms
#: on top of either) moves from about 22 ms to about 33 ms, some 45 %, and stays far under the klines' 500 ms target.
SLOW_KLINES_40_SECONDS = 0.030
PACK_BUILD_SECONDS = 0.3
PACK_RANGES = {"7d": 7, "30d": 30, "90d": 90}
TICKER_EVERY = 0.1  # seconds between ticker messages
SMOKE_USER_PREFIX = "smoke-"  # the [smoke_user] prefix of the smoke suite
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SYMBOL = re.compile(r"[A-Z0-9]{2,20}")
# A sync imports the same three trades every time: enough for a summary with wins and losses.
SYNCED_TRADES = (
    ("BTCUSDT", "buy", 0.01, 67_000, 120.5),
    ("ETHUSDT", "sell", 0.5, 3_500, -40.25),
    ("BTCUSDT", "sell", 0.01, 68_000, 15),
)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

log = logging.getLogger("kifu")


@dataclass(slots=True)
class Kifu:
    """What the handlers share: the settings, the Redis client, and running background jobs."""

    settings: Settings
    cache: aioredis.Redis
    jobs: set[asyncio.Task[None]] = field(default_factory=set)
    klines_served: int = 0
    health_served: int = 0

    def fault(self, name: str) -> bool:
        """Whether the fault switch *name* is on."""
        return name in self.settings.faults

    def start(self, job: Coroutine[Any, Any, None]) -> None:
        """Run *job* in the background, keeping a reference until it ends."""
        task = asyncio.create_task(job)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)


def kifu(request: Request | WebSocket) -> Kifu:
    state: Kifu = request.app.state.kifu
    return state


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def signed_in(
    handler: Callable[[Request, Caller], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Run *handler* only for a request with a valid bearer token, passing the caller."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        caller = security.read_token(token, kifu(request).settings.jwt_secret) if scheme.lower() == "bearer" else None
        if caller is None:
            return error(401, "unauthorized", "sign in and send the access token as a bearer token")
        return await handler(request, caller)

    return endpoint


# --------------------------------------------------------------------------- health and accounts


#: With the health_dies_later fault, /health answers this many times before it degrades: enough
#: for the health checks to pass, so that only the watch window after them can see it.
HEALTHY_ANSWERS = 3


async def livez(request: Request) -> Response:
    """Liveness: the process is up and started, whatever the state of its dependencies."""
    return JSONResponse({"status": "alive"})


async def health(request: Request) -> Response:
    """Readiness: version, and whether the database and Redis answer; 503 when something is down."""
    app = kifu(request)
    app.health_served += 1
    if app.fault("slow_health"):
        await asyncio.sleep(0.25)
    database_state, redis_state = await asyncio.gather(database.probe(app.settings.database_url), ping(app.cache))
    body = {"status": "ok", "version": app.settings.version, "database": database_state, "redis": redis_state}
    if app.fault("health_503") or (app.fault("health_dies_later") and app.health_served > HEALTHY_ANSWERS):
        body.update(status="degraded", detail="upstream dependency check failing")
    elif database_state != "ok" or redis_state != "ok":
        body["status"] = "degraded"
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


async def metrics(request: Request) -> Response:
    """The process's own Prometheus metrics (CPU seconds, resident memory, ...)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def ping(cache: aioredis.Redis) -> str:
    """``"ok"`` when Redis answers PING within 2 s, else what went wrong."""
    try:
        await asyncio.wait_for(cache.ping(), 2)
    except (aioredis.RedisError, OSError, asyncio.TimeoutError) as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def register(request: Request) -> Response:
    body = await json_object(request) or {}
    email, password = str(body.get("email", "")).strip().lower(), str(body.get("password", ""))
    if not EMAIL.fullmatch(email) or len(password) < 8:
        return error(422, "invalid_signup", "give an email address and a password of at least 8 characters")
    password_hash = await asyncio.to_thread(security.hash_password, password)
    row = await database.fetch_one(
        kifu(request).settings.database_url,
        "INSERT INTO users (email, password_hash) VALUES (%s, %s) ON CONFLICT (email) DO NOTHING RETURNING id",
        (email, password_hash),
    )
    if row is None:
        return error(409, "email_taken", "an account with this email exists")
    return JSONResponse({"id": row["id"], "email": email}, status_code=201)


async def login(request: Request) -> Response:
    app = kifu(request)
    if app.fault("login_500"):
        log.error("login failed: KIFU_FAULTS=login_500")
        return error(500, "internal_error", "something went wrong while signing in")
    body = await json_object(request) or {}
    email, password = str(body.get("email", "")).strip().lower(), str(body.get("password", ""))
    key = f"login:attempts:{email}"
    attempts = await app.cache.incr(key)
    if attempts == 1:
        await app.cache.expire(key, 60)
    if attempts > LOGIN_ATTEMPTS_PER_MINUTE:
        return error(429, "too_many_attempts", f"at most {LOGIN_ATTEMPTS_PER_MINUTE} sign-ins a minute per account")
    user = await database.fetch_one(
        app.settings.database_url, "SELECT id, email, password_hash FROM users WHERE email = %s", (email,)
    )
    if user is None or not await asyncio.to_thread(security.verify_password, password, user["password_hash"]):
        return error(401, "invalid_credentials", "wrong email or password")
    token = security.issue_token(Caller(user["id"], user["email"]), app.settings.jwt_secret)
    expires_in = int(security.TOKEN_LIFETIME.total_seconds())
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": expires_in})


@signed_in
async def me(request: Request, caller: Caller) -> Response:
    user = await database.fetch_one(
        kifu(request).settings.database_url, "SELECT id, email, ai_allowlisted FROM users WHERE id = %s", (caller.id,)
    )
    if user is None:
        return error(404, "user_not_found", "this account no longer exists")
    return JSONResponse(user)


@signed_in
async def delete_user(request: Request, caller: Caller) -> Response:
    app = kifu(request)
    user_id: int = request.path_params["user_id"]
    user = await database.fetch_one(app.settings.database_url, "SELECT email FROM users WHERE id = %s", (user_id,))
    if user is None:
        return error(404, "user_not_found", f"no user {user_id}")
    # Users delete themselves; the smoke account may also purge the throwaway users a smoke run registers.
    purging = caller.email == app.settings.smoke_user and user["email"].startswith(SMOKE_USER_PREFIX)
    if user_id != caller.id and not purging:
        return error(403, "forbidden", "you can only delete your own account")
    await database.fetch_one(app.settings.database_url, "DELETE FROM users WHERE id = %s RETURNING id", (user_id,))
    return Response(status_code=204)


# --------------------------------------------------------------------------- the journal


async def trade_totals(dsn: str, user_id: int, since: datetime | None = None) -> dict[str, Any]:
    """Number of trades, share of winners and total PnL of a user (since *since*, when given)."""
    row = await database.fetch_one(
        dsn,
        "SELECT count(*) AS total, count(*) FILTER (WHERE pnl > 0) AS wins, coalesce(sum(pnl), 0) AS pnl "
        "FROM trades WHERE user_id = %s AND traded_at >= %s",
        (user_id, since or EPOCH),
    )
    assert row is not None  # an aggregate always has a row
    total = int(row["total"])
    return {
        "total_trades": total,
        "win_rate": round(row["wins"] / total, 4) if total else 0.0,
        "pnl": round(float(row["pnl"]), 2),
    }


@signed_in
async def trades_summary(request: Request, caller: Caller) -> Response:
    app = kifu(request)
    if app.fault("slow_summary"):
        await asyncio.sleep(1.5)
    return JSONResponse(await trade_totals(app.settings.database_url, caller.id))


async def klines(request: Request) -> Response:
    app = kifu(request)
    app.klines_served += 1
    if app.fault("chart_500") or (app.fault("error_burst") and app.klines_served % 3 == 0):
        return error(500, "upstream_error", "the exchange feed failed")
    symbol = request.query_params.get("symbol", "").upper()
    interval = request.query_params.get("interval", "1d")
    limit = request.query_params.get("limit", "500")
    if not SYMBOL.fullmatch(symbol):
        return error(400, "invalid_symbol", "symbol must be like BTCUSDT")
    if interval not in market.INTERVALS_MS:
        return error(400, "invalid_interval", f"interval must be one of {', '.join(market.INTERVALS_MS)}")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        return error(400, "invalid_limit", "limit must be 1 to 1000")
    await asyncio.sleep(SLOW_KLINES_40_SECONDS if app.fault("slow_klines_40") else KLINES_QUERY_SECONDS)
    if app.fault("klines_empty"):
        return JSONResponse([])
    key = f"klines:{symbol}:{interval}:{limit}"
    cached = await app.cache.get(key)
    if cached is None:
        cached = json.dumps(market.klines(symbol, interval, int(limit), market.now_ms()))
        await app.cache.setex(key, KLINES_CACHE_SECONDS, cached)
    return Response(cached, media_type="application/json")


@signed_in
async def portfolio(request: Request, caller: Caller) -> Response:
    """The caller's positions: net quantity, number of trades and realised PnL per symbol."""
    rows = await database.fetch_all(
        kifu(request).settings.database_url,
        "SELECT symbol, sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) AS quantity, "
        "count(*) AS trades, sum(pnl) AS pnl FROM trades WHERE user_id = %s GROUP BY symbol ORDER BY symbol",
        (caller.id,),
    )
    positions = [
        {"symbol": row["symbol"], "quantity": float(row["quantity"]), "trades": row["trades"], "pnl": float(row["pnl"])}
        for row in rows
    ]
    return JSONResponse({"positions": positions, "pnl": round(sum(p["pnl"] for p in positions), 2)})


@signed_in
async def create_bubble(request: Request, caller: Caller) -> Response:
    body = await json_object(request) or {}
    symbol, note = str(body.get("symbol", "")).upper(), str(body.get("note", "")).strip()
    if not SYMBOL.fullmatch(symbol) or not note:
        return error(422, "invalid_bubble", "give a symbol like BTCUSDT and a non-empty note")
    bubble = await database.fetch_one(
        kifu(request).settings.database_url,
        "INSERT INTO bubbles (user_id, symbol, note) VALUES (%s, %s, %s) RETURNING id, symbol, note, created_at",
        (caller.id, symbol, note),
    )
    assert bubble is not None  # INSERT ... RETURNING gives the row
    return JSONResponse({**bubble, "created_at": bubble["created_at"].isoformat()}, status_code=201)


@signed_in
async def list_bubbles(request: Request, caller: Caller) -> Response:
    bubbles = await database.fetch_all(
        kifu(request).settings.database_url,
        "SELECT id, symbol, note, created_at FROM bubbles WHERE user_id = %s ORDER BY id DESC LIMIT 100",
        (caller.id,),
    )
    return JSONResponse([{**bubble, "created_at": bubble["created_at"].isoformat()} for bubble in bubbles])


@signed_in
async def ai_review(request: Request, caller: Caller) -> Response:
    user = await database.fetch_one(
        kifu(request).settings.database_url, "SELECT ai_allowlisted FROM users WHERE id = %s", (caller.id,)
    )
    if user is None:
        return error(404, "user_not_found", "this account no longer exists")
    if not user["ai_allowlisted"]:
        return error(403, "ai_not_allowlisted", "AI review is open to allowlisted accounts only during the beta")
    return JSONResponse({"review": "You journal winners more often than losers; note your exits too.", "model": "stub"})


# --------------------------------------------------------------------------- sync runs and summary packs


@signed_in
async def exchange_sync(request: Request, caller: Caller) -> Response:
    async with database.connect(kifu(request).settings.database_url) as connection:
        cursor = await connection.execute(
            "INSERT INTO runs (user_id, status, finished_at) VALUES (%s, 'completed', now()) RETURNING id",
            (caller.id,),
        )
        run = await cursor.fetchone()
        assert run is not None  # INSERT ... RETURNING gives the row
        async with connection.cursor() as trades:
            await trades.executemany(
                "INSERT INTO trades (user_id, symbol, side, quantity, price, pnl) VALUES (%s, %s, %s, %s, %s, %s)",
                [(caller.id, *trade) for trade in SYNCED_TRADES],
            )
    return JSONResponse({"run_id": str(run["id"]), "status": "completed"}, status_code=202)


def pack_json(pack: dict[str, Any]) -> dict[str, Any]:
    return {
        "pack_id": str(pack["id"]),
        "status": pack["status"],
        "range": pack["range"],
        "source_run_id": str(pack["source_run_id"]) if pack["source_run_id"] else None,
        "summary": pack["summary"],
        "created_at": pack["created_at"].isoformat(),
    }


@signed_in
async def generate_pack(request: Request, caller: Caller) -> Response:
    app = kifu(request)
    body = await json_object(request) or {}
    pack_range = str(body.get("range", ""))
    if pack_range not in PACK_RANGES:
        return error(422, "invalid_range", f"range must be one of {', '.join(PACK_RANGES)}")
    try:
        run_id = uuid.UUID(str(body.get("source_run_id")))
    except ValueError:
        return error(422, "invalid_run", "source_run_id must be the run_id of an exchange sync")
    pack = await database.fetch_one(
        app.settings.database_url,
        "INSERT INTO summary_packs (user_id, source_run_id, range) "
        "SELECT user_id, id, %s FROM runs WHERE id = %s AND user_id = %s RETURNING id",
        (pack_range, run_id, caller.id),
    )
    if pack is None:
        return error(404, "run_not_found", f"no sync run {run_id} for this account")
    if not app.fault("pack_stuck"):
        app.start(build_pack(app.settings.database_url, pack["id"], caller.id, PACK_RANGES[pack_range]))
    return JSONResponse({"pack_id": str(pack["id"]), "status": "pending"}, status_code=202)


async def build_pack(dsn: str, pack_id: uuid.UUID, user_id: int, days: int) -> None:
    """The background job: summarise the user's trades over the pack's range, then mark it ready."""
    await asyncio.sleep(PACK_BUILD_SECONDS)  # stands in for the real work
    try:
        summary = await trade_totals(dsn, user_id, since=datetime.now(timezone.utc) - timedelta(days=days))
        status = "ready"
    except Exception:
        log.exception("summary pack %s failed", pack_id)
        summary, status = {}, "failed"
    await database.fetch_one(
        dsn,
        "UPDATE summary_packs SET status = %s, summary = %s, ready_at = now() WHERE id = %s RETURNING id",
        (status, Jsonb(summary), pack_id),
    )


@signed_in
async def latest_pack(request: Request, caller: Caller) -> Response:
    pack_range = request.query_params.get("range", "30d")
    pack = await database.fetch_one(
        kifu(request).settings.database_url,
        "SELECT id, status, range, source_run_id, summary, created_at FROM summary_packs "
        "WHERE user_id = %s AND range = %s ORDER BY created_at DESC LIMIT 1",
        (caller.id, pack_range),
    )
    if pack is None:
        return error(404, "pack_not_found", f"no {pack_range} summary pack yet; generate one")
    return JSONResponse(pack_json(pack))


@signed_in
async def get_pack(request: Request, caller: Caller) -> Response:
    pack_id: uuid.UUID = request.path_params["pack_id"]
    pack = await database.fetch_one(
        kifu(request).settings.database_url,
        "SELECT id, status, range, source_run_id, summary, created_at FROM summary_packs "
        "WHERE id = %s AND user_id = %s",
        (pack_id, caller.id),
    )
    if pack is None:
        return error(404, "pack_not_found", f"no summary pack {pack_id} for this account")
    return JSONResponse(pack_json(pack))


# --------------------------------------------------------------------------- live tickers


async def tickers(websocket: WebSocket) -> None:
    await websocket.accept()
    if kifu(websocket).fault("ws_close"):
        await websocket.close(code=1011, reason="upstream unavailable")
        return
    symbols = [s for s in websocket.query_params.get("symbols", "BTCUSDT").upper().split(",") if SYMBOL.fullmatch(s)]
    try:
        while True:
            now = market.now_ms()
            for symbol in symbols:
                price = round(market.price_at(symbol, now), 2)
                await websocket.send_json({"type": "ticker", "symbol": symbol, "price": price, "ts": now})
            await asyncio.sleep(TICKER_EVERY)
    except WebSocketDisconnect:
        return


# --------------------------------------------------------------------------- the web app's screens


async def landing_page(request: Request) -> Response:
    return pages.landing()


async def login_page(request: Request) -> Response:
    return pages.login()


async def home_page(request: Request) -> Response:
    return pages.home(review_throws=kifu(request).fault("review_tab_throws"))


# --------------------------------------------------------------------------- the application


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At start: read the settings, migrate the database, seed the smoke account; at stop: clean up."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     kifu: %(message)s")
    settings = Settings.from_env()
    await database.migrate(settings.database_url, skip={"021"} if "missing_migration_021" in settings.faults else ())
    if settings.smoke_user and settings.smoke_password:
        password_hash = security.hash_password(settings.smoke_password)
        await database.seed_user(settings.database_url, settings.smoke_user.lower(), password_hash)
        log.info("smoke account %s is ready", settings.smoke_user)
    if settings.faults:
        log.warning("fault switches on: %s", ", ".join(sorted(settings.faults)))
    cache = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    state = Kifu(settings, cache)
    app.state.kifu = state
    try:
        yield
    finally:
        for job in list(state.jobs):
            job.cancel()
        await cache.aclose()


app = Starlette(
    routes=[
        Route("/", landing_page),
        Route("/login", login_page),
        Route("/home", home_page),
        Route("/livez", livez),
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/api/v1/auth/register", register, methods=["POST"]),
        Route("/api/v1/auth/login", login, methods=["POST"]),
        Route("/api/v1/users/me", me),
        Route("/api/v1/users/{user_id:int}", delete_user, methods=["DELETE"]),
        Route("/api/v1/trades/summary", trades_summary),
        Route("/api/v1/market/klines", klines),
        Route("/api/v1/portfolio", portfolio),
        Route("/api/v1/bubbles", list_bubbles, methods=["GET"]),
        Route("/api/v1/bubbles", create_bubble, methods=["POST"]),
        Route("/api/v1/ai/review", ai_review, methods=["POST"]),
        Route("/api/v1/exchange/sync", exchange_sync, methods=["POST"]),
        Route("/api/v1/packs/generate", generate_pack, methods=["POST"]),
        Route("/api/v1/packs/latest", latest_pack),
        Route("/api/v1/packs/{pack_id:uuid}", get_pack),
        WebSocketRoute("/ws/tickers", tickers),
    ],
    lifespan=lifespan,
)
