"""The mentoring API: a mentor directory behind JWT auth, with OpenAPI docs, CORS, security headers
and a rate-limited search, on PostgreSQL and Redis; fault switches reproduce bad deploys.

Run it with ``uvicorn --factory jwtapi_app.main:create_app``; settings come from the environment
(see ``settings.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtapi_app import database, openapi, ratelimit, security
from jwtapi_app.security import Caller
from jwtapi_app.settings import Settings

TITLE = "Mentoring API"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
HSTS = "max-age=31536000; includeSubDomains"  # a year
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

log = logging.getLogger("jwtapi")


class SecurityHeaders:
    """Adds the security headers (and HSTS, unless the ``hsts_missing`` fault is on) to every response."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = {**SECURITY_HEADERS, **({"Strict-Transport-Security": HSTS} if hsts else {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(self.headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def cache_of(request: Request) -> aioredis.Redis:
    cache: aioredis.Redis = request.app.state.cache
    return cache


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def signed_in(
    handler: Callable[[Request, Caller], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Run *handler* only for a request with a valid bearer token, passing the caller."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        settings = settings_of(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        caller = None
        if scheme.lower() == "bearer" and token:
            verify_exp = "expired_token_accepted" not in settings.faults
            caller = security.read_token(token, settings.jwt_secret, verify_exp=verify_exp)
        if caller is None:
            challenge = 'Bearer error="invalid_token"' if token else "Bearer"
            return error(
                401,
                "unauthorized",
                "sign in and send a valid, unexpired access token as a bearer token",
                {"WWW-Authenticate": challenge},
            )
        return await handler(request, caller)

    return endpoint


# --------------------------------------------------------------------------- health and docs


async def livez(request: Request) -> Response:
    """Liveness: the process is up and started, whatever the state of its dependencies."""
    return JSONResponse({"status": "alive"})


async def health(request: Request) -> Response:
    """Readiness: the version, and whether the database and Redis answer; 503 when one does not."""
    settings = settings_of(request)
    database_state, redis_state = await asyncio.gather(database.probe(settings.database_url), ping(cache_of(request)))
    ok = database_state == "ok" and redis_state == "ok"
    body = {
        "status": "ok" if ok else "degraded",
        "version": settings.version,
        "dependencies": {"database": database_state, "redis": redis_state},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def ping(cache: aioredis.Redis) -> str:
    """``"ok"`` when Redis answers PING within 2 s, else what went wrong."""
    try:
        await asyncio.wait_for(cache.ping(), 2)
    except (aioredis.RedisError, OSError, asyncio.TimeoutError) as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def openapi_json(request: Request) -> Response:
    settings = settings_of(request)
    dropped = frozenset({"/api/v1/mentors/{mentor_id}"}) if "openapi_missing_path" in settings.faults else frozenset()
    return JSONResponse(openapi.document(settings.version, drop_paths=dropped))


async def swagger_ui(request: Request) -> Response:
    return HTMLResponse(openapi.swagger_ui_page(TITLE))


async def redoc(request: Request) -> Response:
    return HTMLResponse(openapi.redoc_page(TITLE))


# --------------------------------------------------------------------------- accounts


def token_lifetime(body: dict[str, Any]) -> timedelta | None:
    """The lifetime a login asks for with ``expires_in`` (default an hour); None when it is out of range."""
    seconds = body.get("expires_in", int(security.TOKEN_LIFETIME.total_seconds()))
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return None
    lifetime = timedelta(seconds=seconds)
    return lifetime if security.MIN_TOKEN_LIFETIME <= lifetime <= security.TOKEN_LIFETIME else None


async def login(request: Request) -> Response:
    settings = settings_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error(422, "invalid_login", "send a JSON object with email and password")
    email, password = str(body.get("email", "")).strip().lower(), str(body.get("password", ""))
    lifetime = token_lifetime(body)
    if not EMAIL.fullmatch(email) or not password or lifetime is None:
        return error(422, "invalid_login", "give an email, a password, and expires_in from 1 to 3600 seconds if any")
    user = await database.fetch_one(
        settings.database_url, "SELECT id, email, password_hash FROM users WHERE email = %s", (email,)
    )
    if user is None or not await asyncio.to_thread(security.verify_password, password, user["password_hash"]):
        return error(401, "invalid_credentials", "wrong email or password")
    token = security.issue_token(Caller(user["id"], user["email"]), settings.jwt_secret, lifetime)
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": int(lifetime.total_seconds())},
        headers={"Cache-Control": "no-store"},
    )


@signed_in
async def me(request: Request, caller: Caller) -> Response:
    return JSONResponse({"id": caller.id, "email": caller.email})


# --------------------------------------------------------------------------- mentors

MENTOR_COLUMNS = "id, name, headline, expertise"


@signed_in
async def list_mentors(request: Request, caller: Caller) -> Response:
    rows = await database.fetch_all(
        settings_of(request).database_url, f"SELECT {MENTOR_COLUMNS} FROM mentors ORDER BY id LIMIT 100"
    )
    return JSONResponse(rows)


@signed_in
async def get_mentor(request: Request, caller: Caller) -> Response:
    mentor_id: int = request.path_params["mentor_id"]
    row = await database.fetch_one(
        settings_of(request).database_url, f"SELECT {MENTOR_COLUMNS} FROM mentors WHERE id = %s", (mentor_id,)
    )
    if row is None:
        return error(404, "mentor_not_found", f"no mentor {mentor_id}")
    return JSONResponse(row)


@signed_in
async def search_mentors(request: Request, caller: Caller) -> Response:
    """Search is the expensive query, so each client may search ``SEARCH_RATE_LIMIT`` times a minute."""
    settings = settings_of(request)
    headers: dict[str, str] = {}
    if "rate_limit_off" not in settings.faults:
        key = f"{settings.rate_limit_prefix}search:{caller.id}"
        verdict = await ratelimit.hit(cache_of(request), key, settings.search_rate_limit)
        headers = verdict.headers()
        if not verdict.allowed:
            message = f"at most {settings.search_rate_limit} searches a minute; retry in {verdict.retry_after} s"
            return error(429, "rate_limited", message, headers)
    query = request.query_params.get("q", "").strip()
    if not query:
        return error(422, "invalid_query", "give a search term in q", headers)
    pattern = f"%{query}%"
    rows = await database.fetch_all(
        settings.database_url,
        f"SELECT {MENTOR_COLUMNS} FROM mentors WHERE name ILIKE %s OR headline ILIKE %s OR %s = ANY(expertise) "
        "ORDER BY id LIMIT 20",
        (pattern, pattern, query.lower()),
    )
    return JSONResponse(rows, headers=headers)


# --------------------------------------------------------------------------- the application


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At start: create the schema and seed the smoke account; at stop: close Redis."""
    settings: Settings = app.state.settings
    await database.prepare(settings.database_url)
    if settings.smoke_user and settings.smoke_password:
        password_hash = security.hash_password(settings.smoke_password)
        await database.seed_user(settings.database_url, settings.smoke_user.lower(), password_hash)
        log.info("smoke account %s is ready", settings.smoke_user)
    if settings.faults:
        log.warning("fault switches on: %s", ", ".join(sorted(settings.faults)))
    app.state.cache = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )
    try:
        yield
    finally:
        await app.state.cache.aclose()


def create_app() -> Starlette:
    """The application, configured from the environment (``uvicorn --factory jwtapi_app.main:create_app``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     jwtapi: %(message)s")
    settings = Settings.from_env()
    if "cors_any_origin" in settings.faults:
        # The classic misconfiguration: "*" with credentials, which Starlette answers by echoing
        # whatever Origin the request sends.
        origins: tuple[str, ...] = ("*",)
    else:
        origins = settings.cors_origins
    middleware = [
        Middleware(SecurityHeaders, hsts="hsts_missing" not in settings.faults),
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        ),
    ]
    app = Starlette(
        routes=[
            Route("/livez", livez),
            Route("/health", health),
            Route(openapi.OPENAPI_URL, openapi_json),
            Route("/docs", swagger_ui),
            Route("/redoc", redoc),
            Route("/api/v1/auth/login", login, methods=["POST"]),
            Route("/api/v1/me", me),
            Route("/api/v1/mentors", list_mentors),
            Route("/api/v1/mentors/search", search_mentors),
            Route("/api/v1/mentors/{mentor_id:int}", get_mentor),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
